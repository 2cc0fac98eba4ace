package allocmap

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c continues the kernel's raw crc32c (no inversion before or after,
// as ext4_chksum uses it) from crc over p.
func crc32c(crc uint32, p []byte) uint32 { return ^crc32.Update(^crc, castagnoli, p) }

// crc16Table is the kernel's lib/crc16 table: CRC-16 (ANSI), polynomial
// 0x8005 bit-reversed (0xA001).
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 continues the kernel's crc16 from crc over p.
func crc16(crc uint16, p []byte) uint16 {
	for _, b := range p {
		crc = crc>>8 ^ crc16Table[byte(crc)^b]
	}
	return crc
}

package exfat

import (
	"encoding/binary"
	"sync"
	"unicode"
)

// The up-case table maps every UTF-16 code unit to its upper-case form. exFAT
// compares and hashes names through the table stored on the volume, so any
// consistent table gives a valid filesystem; but Windows, macOS and Linux all
// write the table recommended by Microsoft's exFAT specification (§7.2.5.1),
// and a reader that used its own copy instead of the volume's would disagree
// with us about names whose mapping differs. So we rebuild that table.
//
// It is generated, not copied: the recommended table is Unicode's simple
// upper-case mapping for the BMP as of Unicode 5.0 (the Windows Vista era),
// restricted to letters whose mapping round-trips (ToLower(ToUpper(c)) == c:
// so 'ı', 'ſ', 'µ' and the titlecase digraphs map to themselves), plus a few
// quirks of Windows' table. Go's unicode package follows a newer Unicode, so
// letters that gained a case pair after 5.0 are listed in postUnicode5 and
// map to themselves. TestUpcaseMatchesMkfs compares the result, entry by
// entry, with the table mkfs.exfat (exfatprogs) writes, which is the
// specification's table.

// postUnicode5 lists code point ranges whose case pairs Unicode added after
// version 5.0; the recommended table maps them to themselves.
var postUnicode5 = [][2]rune{
	{0x023F, 0x0240}, {0x0250, 0x0252}, {0x025C, 0x025C}, {0x0261, 0x0261},
	{0x0265, 0x0266}, {0x026A, 0x026A}, {0x026C, 0x026C}, {0x0271, 0x0271},
	{0x0282, 0x0282}, {0x0287, 0x0287}, {0x029D, 0x029E}, {0x0370, 0x0377},
	{0x03D7, 0x03D7}, {0x03F3, 0x03F3}, {0x0514, 0x052F}, {0x10D0, 0x10FF},
	{0x13A0, 0x13FD}, {0x1D79, 0x1D79}, {0x1D8E, 0x1D8E}, {0x1EFA, 0x1EFF},
	{0x2C2F, 0x2C2F}, {0x2C5F, 0x2C5F}, {0x2C65, 0x2C66}, {0x2C72, 0x2C73},
	{0x2CEB, 0x2CF3}, {0x2D27, 0x2D2D}, {0xA640, 0xA69F}, {0xA720, 0xA7FF},
	{0xAB30, 0xABBF},
}

// windowsQuirks are mappings of the recommended table that Unicode's simple
// case pairs do not give.
var windowsQuirks = map[rune]rune{
	0x023A: 0x2C65, // Ⱥ → ⱥ: the table maps these two capitals to lower case
	0x023E: 0x2C66, // Ⱦ → ⱦ
	0x03C2: 0x03A3, // final sigma ς → Σ
	0x1FC3: 0x1FC3, // ῃ maps to itself
	0x1FCC: 0x1FC3, // and ῌ to it
	0x1FF3: 0x1FF3, // ῳ maps to itself
	0x1FFC: 0x1FF3, // and ῼ to it
}

func isPostUnicode5(c rune) bool {
	for _, r := range postUnicode5 {
		if c >= r[0] && c <= r[1] {
			return true
		}
	}
	return false
}

// upper returns the up-case table's entry for the code unit c.
func upper(c rune) rune {
	if u, ok := windowsQuirks[c]; ok {
		return u
	}
	if c >= 0xD800 && c <= 0xDFFF {
		return c // surrogate halves are not letters
	}
	u := unicode.ToUpper(c)
	if u == c || u > 0xFFFF || unicode.ToLower(u) != c {
		return c
	}
	if isPostUnicode5(c) || isPostUnicode5(u) {
		return c
	}
	return u
}

// upcase is the generated table, built once.
type upcase struct {
	table    [65536]uint16 // full mapping
	raw      []byte        // compressed on-disk form
	checksum uint32        // TableChecksum over raw
}

var (
	upcaseOnce sync.Once
	upcaseTab  *upcase
)

// theUpcase returns the table, building it on first use.
func theUpcase() *upcase {
	upcaseOnce.Do(func() {
		t := new(upcase)
		for c := range t.table {
			t.table[c] = uint16(upper(rune(c)))
		}
		t.raw = compressUpcase(&t.table)
		t.checksum = checksum32(0, t.raw)
		upcaseTab = t
	})
	return upcaseTab
}

// minIdentityRun is the shortest run of identity mappings written as a
// compressed (0xFFFF, count) pair. With 512 the output is byte for byte the
// specification's compressed table (5836 bytes, TableChecksum 0xE619D30D).
const minIdentityRun = 512

// compressUpcase encodes the table in the compressed form of §7.2.5.1: a run
// of code units that map to themselves is written as 0xFFFF followed by the
// run's length. Trailing identity mappings are left out.
func compressUpcase(t *[65536]uint16) []byte {
	last := len(t) - 1
	var out []byte
	put := func(v uint16) { out = binary.LittleEndian.AppendUint16(out, v) }
	for c := 0; c <= last; {
		run := 0
		for c+run <= last && t[c+run] == uint16(c+run) {
			run++
		}
		if run >= minIdentityRun {
			put(0xFFFF)
			put(uint16(run))
			c += run
			continue
		}
		put(t[c])
		c++
	}
	return out
}

// checksum32 is the exFAT 32-bit rotating checksum (boot region, up-case
// table), continued from sum over b.
func checksum32(sum uint32, b []byte) uint32 {
	for _, x := range b {
		sum = (sum>>1 | sum<<31) + uint32(x)
	}
	return sum
}

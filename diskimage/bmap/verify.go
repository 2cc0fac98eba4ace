package bmap

import (
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// HasChecksums reports whether every range carries a checksum, so that
// verifying every range checks every mapped byte.
func (m *Map) HasChecksums() bool {
	if m.ChecksumType == "" {
		return false
	}
	for _, r := range m.Ranges {
		if r.Checksum == "" {
			return false
		}
	}
	return true
}

// NewHash returns a new hash of the map's checksum type, for a writer that
// hashes range i's bytes as it streams them and then calls CheckRange. It
// returns nil when the map has no checksums.
func (m *Map) NewHash() hash.Hash {
	if m.ChecksumType == "" {
		return nil
	}
	return checksums[m.ChecksumType]()
}

// CheckRange compares sum, the checksum of range i's bytes (Region(i)),
// with the one the map gives. A range without a checksum passes.
func (m *Map) CheckRange(i int, sum []byte) error {
	want := m.Ranges[i].Checksum
	if want == "" {
		return nil
	}
	if got := hex.EncodeToString(sum); got != want {
		return &ChecksumError{Map: m.Name, Range: m.describe(i), Got: got, Want: want}
	}
	return nil
}

// ChecksumError says that the image's bytes in a range do not match the
// block map: the map belongs to another image, or the image is damaged.
type ChecksumError struct {
	Map   string // the block map's name
	Range string // "range 3 (blocks 100-199, bytes 409600-819199)"
	Got   string // checksum of the image's bytes
	Want  string // checksum the map gives
}

// Error names the map, the range and both checksums.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("image does not match block map %s: %s has checksum %s, the map says %s", e.Map, e.Range, e.Got, e.Want)
}

// VerifyRange reads range i's bytes from img and checks their checksum. A
// read error or an image that ends inside the range is an error too.
func (m *Map) VerifyRange(img io.ReaderAt, i int) error {
	if m.Ranges[i].Checksum == "" {
		return nil
	}
	reg := m.Region(i)
	h := m.NewHash()
	n, err := io.Copy(h, io.NewSectionReader(img, reg.Offset, reg.Length))
	if err != nil {
		return fmt.Errorf("reading the image for block map %s, %s: %w", m.Name, m.describe(i), err)
	}
	if n != reg.Length {
		return fmt.Errorf("image ends at byte %d, inside block map %s's %s", reg.Offset+n, m.Name, m.describe(i))
	}
	return m.CheckRange(i, h.Sum(nil))
}

// Verify checks every range of the map against img (see VerifyRange).
func (m *Map) Verify(img io.ReaderAt) error {
	for i := range m.Ranges {
		if err := m.VerifyRange(img, i); err != nil {
			return err
		}
	}
	return nil
}

package bmap

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/google/go-cmp/cmp"
)

// testImage returns an image of size bytes whose data lies in data; the
// rest is zeros.
func testImage(size int64, data []fsimage.Region) []byte {
	img := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range data {
		for i := d.Offset; i < d.Offset+d.Length; i++ {
			img[i] = byte(r.Uint32()) | 1
		}
	}
	return img
}

func TestBuildMarshalParseRoundTrip(t *testing.T) {
	// 10 blocks and 100 bytes: the last block is partial and mapped.
	size := int64(10*4096 + 100)
	data := []fsimage.Region{{Offset: 4096 * 3, Length: 10}, {Offset: 0, Length: 4096 * 2}, {Offset: 4096*2 + 5, Length: 1}, {Offset: 4096 * 10, Length: 100}}
	img := testImage(size, data)
	m, err := Build(context.Background(), "img.bmap", bytes.NewReader(img), size, data)
	if err != nil {
		t.Fatal(err)
	}
	wantRanges := []Range{{First: 0, Last: 3}, {First: 10, Last: 10}}
	if diff := cmp.Diff(wantRanges, m.Ranges, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Checksum" }, cmp.Ignore())); diff != "" {
		t.Errorf("Build ranges (-want +got):\n%s", diff)
	}
	if got, want := m.MappedBytes(), int64(4*4096+100); got != want {
		t.Errorf("MappedBytes() = %d, want %d", got, want)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("img.bmap", out)
	if err != nil {
		t.Fatalf("Parse(Marshal()) = %v\n%s", err, out)
	}
	if diff := cmp.Diff(m, back); diff != "" {
		t.Errorf("Parse(Marshal(m)) differs from m (-m +parsed):\n%s", diff)
	}
	if err := back.Verify(bytes.NewReader(img)); err != nil {
		t.Errorf("Verify(image) = %v, want nil", err)
	}
	// A byte changed inside the last (partial) range fails that range only.
	img[4096*10+99] ^= 0xff
	err = back.Verify(bytes.NewReader(img))
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Range != "range 2 (blocks 10-10, bytes 40960-41059)" || ce.Map != "img.bmap" {
		t.Errorf("Verify(changed image) = %v, want a ChecksumError for range 2 (blocks 10-10, bytes 40960-41059) of img.bmap", err)
	}
	if err := back.VerifyRange(bytes.NewReader(img), 0); err != nil {
		t.Errorf("VerifyRange(0) = %v, want nil (the change is in range 2)", err)
	}
	// An image that ends inside a range.
	err = back.VerifyRange(bytes.NewReader(img[:4096*10+50]), 1)
	if err == nil || !strings.Contains(err.Error(), "image ends at byte 41010") {
		t.Errorf("VerifyRange(short image) = %v, want it to say the image ends at byte 41010", err)
	}
}

// sign puts the right file checksum into a bmap text whose checksum
// element holds a placeholder of the right length, as bmaptool computes it.
func sign(t *testing.T, text, tag string, newHash func() hash.Hash) []byte {
	t.Helper()
	re := regexp.MustCompile("<" + tag + ">\\s*([0-9a-f]+)\\s*</")
	loc := re.FindStringSubmatchIndex(text)
	if loc == nil {
		t.Fatalf("no <%s> in fixture", tag)
	}
	b := []byte(text)
	copy(b[loc[2]:loc[3]], strings.Repeat("0", loc[3]-loc[2]))
	h := newHash()
	h.Write(b)
	copy(b[loc[2]:loc[3]], hex.EncodeToString(h.Sum(nil)))
	return b
}

func sum(newHash func() hash.Hash, b []byte) string {
	h := newHash()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// fixture13 is a format 1.3 map (SHA-1) of a 3-block image whose blocks 0
// and 2 are mapped.
func fixture13(img []byte) string {
	return fmt.Sprintf(`<?xml version="1.0" ?>
<bmap version="1.3">
    <ImageSize> %d </ImageSize>
    <BlockSize> 4096 </BlockSize>
    <BlocksCount> 3 </BlocksCount>
    <MappedBlocksCount> 2 </MappedBlocksCount>
    <BmapFileSHA1> %s </BmapFileSHA1>
    <BlockMap>
        <Range sha1="%s"> 0 </Range>
        <Range sha1="%s"> 2-2 </Range>
    </BlockMap>
</bmap>
`, len(img), strings.Repeat("0", 40), sum(sha1.New, img[:4096]), sum(sha1.New, img[8192:]))
}

func TestParseVersions(t *testing.T) {
	img := testImage(3*4096-7, []fsimage.Region{{Offset: 0, Length: 4096}, {Offset: 8192, Length: 4089}})
	v13 := sign(t, fixture13(img), "BmapFileSHA1", sha1.New)
	m, err := Parse("v13.bmap", v13)
	if err != nil {
		t.Fatalf("Parse(1.3) = %v", err)
	}
	if m.ChecksumType != "sha1" || len(m.Ranges) != 2 || !m.HasChecksums() {
		t.Errorf("Parse(1.3) = type %q, %d ranges, HasChecksums %v; want sha1, 2, true", m.ChecksumType, len(m.Ranges), m.HasChecksums())
	}
	if err := m.Verify(bytes.NewReader(img)); err != nil {
		t.Errorf("Verify(1.3) = %v", err)
	}

	// 1.4 is 2.0 under another number (bmap-tools 3.0).
	v14 := strings.NewReplacer(`version="1.3"`, `version="1.4"`, "BmapFileSHA1", "BmapFileChecksum", "sha1=", "chksum=",
		"    <BlockMap>", "    <ChecksumType> SHA1 </ChecksumType>\n    <BlockMap>").Replace(fixture13(img))
	if m, err := Parse("v14.bmap", sign(t, v14, "BmapFileChecksum", sha1.New)); err != nil || m.ChecksumType != "sha1" {
		t.Errorf("Parse(1.4) = %+v, %v; want a sha1 map", m, err)
	} else if err := m.Verify(bytes.NewReader(img)); err != nil {
		t.Errorf("Verify(1.4) = %v", err)
	}

	// 1.2 has no checksums at all.
	v12 := regexp.MustCompile(` sha1="[0-9a-f]+"|\s*<BmapFileSHA1>.*</BmapFileSHA1>`).ReplaceAllString(fixture13(img), "")
	v12 = strings.Replace(v12, `version="1.3"`, `version="1.2"`, 1)
	if m, err := Parse("v12.bmap", []byte(v12)); err != nil || m.ChecksumType != "" || m.HasChecksums() || m.NewHash() != nil {
		t.Errorf("Parse(1.2) = %+v, %v; want a map without checksums", m, err)
	} else if err := m.Verify(bytes.NewReader(make([]byte, len(img)))); err != nil {
		t.Errorf("Verify(1.2) = %v; a map without checksums has nothing to check", err)
	}
}

// fixture20 is a format 2.0 map (sha256) of a 4-block image, blocks 0-1
// and 3 mapped; edit changes its text before it is signed.
func fixture20(t *testing.T, img []byte, edit func(string) string) []byte {
	text := fmt.Sprintf(`<?xml version="1.0" ?>
<bmap version="2.0">
    <ImageSize> %d </ImageSize>
    <BlockSize> 4096 </BlockSize>
    <BlocksCount> 4 </BlocksCount>
    <MappedBlocksCount> 3 </MappedBlocksCount>
    <ChecksumType> sha256 </ChecksumType>
    <BmapFileChecksum> %s </BmapFileChecksum>
    <BlockMap>
        <Range chksum="%s"> 0-1 </Range>
        <Range chksum="%s"> 3 </Range>
    </BlockMap>
</bmap>
`, len(img), strings.Repeat("0", 64), sum(sha256.New, img[:8192]), sum(sha256.New, img[12288:]))
	return sign(t, edit(text), "BmapFileChecksum", sha256.New)
}

func TestParseErrors(t *testing.T) {
	img := testImage(4*4096, []fsimage.Region{{Offset: 0, Length: 8192}, {Offset: 12288, Length: 4096}})
	same := func(s string) string { return s }
	if _, err := Parse("x.bmap", fixture20(t, img, same)); err != nil {
		t.Fatalf("Parse(valid 2.0) = %v", err)
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("fixture has no %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"edited after signing", bytes.Replace(fixture20(t, img, same), []byte("> 3 </Range>"), []byte("> 2 </Range>"), 1),
			"block map x.bmap is damaged or was edited: its sha256 checksum is"},
		{"not xml", []byte("hello"), "block map x.bmap is not a bmap XML file"},
		{"version 3", fixture20(t, img, replace(`version="2.0"`, `version="3.0"`)), "format version 3.0 is newer than flashpipe reads"},
		{"bad version", fixture20(t, img, replace(`version="2.0"`, `version="two"`)), `version "two" is not a bmap format version`},
		{"blocks count", fixture20(t, img, replace("<BlocksCount> 4 ", "<BlocksCount> 5 ")), "<BlocksCount> is 5, but an image of 16384 bytes has 4 blocks"},
		{"bad number", fixture20(t, img, replace("<BlockSize> 4096 ", "<BlockSize> 4k ")), `<BlockSize> is "4k", want a whole number of bytes`},
		{"range past end", fixture20(t, img, replace("> 3 </Range>", "> 3-4 </Range>")), `range 2 "3-4" ends past the image's 4 blocks`},
		{"overlap", fixture20(t, img, replace("> 3 </Range>", "> 1 </Range>")), `range 2 "1" starts before the end of the previous range (block 2)`},
		{"backwards", fixture20(t, img, replace("> 0-1 </Range>", "> 1-0 </Range>")), `range 1 "1-0": its first block is after its last`},
		{"garbage range", fixture20(t, img, replace("> 0-1 </Range>", "> a-b </Range>")), `range 1 "a-b": want a block number or first-last`},
		{"mapped count", fixture20(t, img, replace("<MappedBlocksCount> 3 ", "<MappedBlocksCount> 4 ")), "<MappedBlocksCount> is 4, but its ranges cover 3 blocks"},
		{"short range checksum", fixture20(t, img, replace(`chksum="`, `chksum="ab`)), `range 1 "0-1": chksum=`},
		{"unknown checksum type", fixture20(t, img, replace("sha256 </ChecksumType>", "md5 </ChecksumType>")), `checksum type "md5" is not one flashpipe reads: sha1, sha256 or sha512`},
		{"no checksum type", fixture20(t, img, replace("<ChecksumType> sha256 </ChecksumType>", "")), "format version 2.0 needs <ChecksumType>"},
	}
	for _, tt := range tests {
		_, err := Parse("x.bmap", tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "x.bmap") {
			t.Errorf("%s: Parse = %v, want an error naming x.bmap and saying %q", tt.name, err, tt.want)
		}
	}
	// No file checksum in 2.0.
	noSum := strings.Replace(string(fixture20(t, img, same)), "<BmapFileChecksum>", "<Other>", 1)
	noSum = strings.Replace(noSum, "</BmapFileChecksum>", "</Other>", 1)
	if _, err := Parse("x.bmap", []byte(noSum)); err == nil || !strings.Contains(err.Error(), "needs <BmapFileChecksum>") {
		t.Errorf("Parse(no BmapFileChecksum) = %v, want it to say 2.0 needs <BmapFileChecksum>", err)
	}
}

func TestCandidates(t *testing.T) {
	tests := map[string][]string{
		"dir/x.img.xz": {"dir/x.img.xz.bmap", "dir/x.img.bmap", "dir/x.bmap"},
		"x.img":        {"x.img.bmap", "x.bmap"},
		"a.b/raw":      {"a.b/raw.bmap"},
		".hidden":      {".hidden.bmap"},
	}
	for in, want := range tests {
		if diff := cmp.Diff(want, Candidates(in)); diff != "" {
			t.Errorf("Candidates(%q) (-want +got):\n%s", in, diff)
		}
	}
}

// TestPathFor: the block map flashpipe writes is the second name bmaptool
// looks for (the first when the image has no extension).
func TestPathFor(t *testing.T) {
	for in, want := range map[string]string{"dir/x.img.xz": "dir/x.img.bmap", "x.img": "x.bmap", "a.b/raw": "a.b/raw.bmap", ".hidden": ".hidden.bmap"} {
		got := PathFor(in)
		c := Candidates(in)
		if got != want || got != c[min(1, len(c)-1)] {
			t.Errorf("PathFor(%q) = %q, want %q, Candidates' %v", in, got, want, c)
		}
	}
}

// TestNewThenHash: a map from New, its ranges hashed by a writer that
// streams them (NewHash over Region(i)), equals the one Build reads from
// the image; New alone has the ranges and counts but no checksums.
func TestNewThenHash(t *testing.T) {
	size := int64(10*4096 + 100)
	data := []fsimage.Region{{Offset: 4096*7 + 1, Length: 4096}, {Offset: 0, Length: 10}, {Offset: 4096 * 10, Length: 1}}
	img := testImage(size, data)
	built, err := Build(context.Background(), "x.bmap", bytes.NewReader(img), size, data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New("x.bmap", size, data)
	if err != nil {
		t.Fatal(err)
	}
	if m.HasChecksums() || m.MappedBlocksCount != 4 || len(m.Ranges) != 3 {
		t.Errorf("New() = %d ranges, %d blocks, checksums %v; want 3 ranges, 4 blocks, no checksums", len(m.Ranges), m.MappedBlocksCount, m.HasChecksums())
	}
	for i := range m.Ranges {
		h := m.NewHash()
		reg := m.Region(i)
		h.Write(img[reg.Offset : reg.Offset+reg.Length])
		m.Ranges[i].Checksum = hex.EncodeToString(h.Sum(nil))
	}
	if diff := cmp.Diff(built, m); diff != "" {
		t.Errorf("New + streamed hashes differs from Build (-Build +New):\n%s", diff)
	}
	if _, err := New("x.bmap", 0, nil); err == nil {
		t.Errorf("New(size 0) = nil error, want one")
	}
}

package bmap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// sparseImage writes a sparse file of size bytes with data only in data,
// and returns its path and contents.
func sparseImage(t *testing.T, dir string, size int64, data []fsimage.Region) (string, []byte) {
	t.Helper()
	img := testImage(size, data)
	path := filepath.Join(dir, "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, d := range data {
		if _, err := f.WriteAt(img[d.Offset:d.Offset+d.Length], d.Offset); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return path, img
}

var oracleData = []fsimage.Region{{Offset: 0, Length: 4096}, {Offset: 64 << 10, Length: 3 * 4096}, {Offset: 1 << 20, Length: 100}}

// TestBmaptoolCreateParses: a map `bmaptool create` writes parses, its
// checksums match the image, and its ranges cover every byte written.
func TestBmaptoolCreateParses(t *testing.T) {
	bmaptool := testreq.Tool(t, "bmaptool")
	dir := t.TempDir()
	size := int64(1<<20 + 100)
	path, img := sparseImage(t, dir, size, oracleData)
	out := filepath.Join(dir, "disk.img.bmap")
	if b, err := exec.Command(bmaptool, "create", "-o", out, path).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool create: %v\n%s", err, b)
	}
	m, err := ReadFile(out)
	if err != nil {
		t.Fatalf("ReadFile(bmaptool's map) = %v", err)
	}
	if m.Version != "2.0" || m.ChecksumType != "sha256" || m.ImageSize != size || !m.HasChecksums() {
		t.Errorf("bmaptool's map = version %s, %s, %d bytes, checksums %v; want 2.0, sha256, %d bytes, true", m.Version, m.ChecksumType, m.ImageSize, m.HasChecksums(), size)
	}
	if err := m.Verify(bytes.NewReader(img)); err != nil {
		t.Errorf("Verify(image) with bmaptool's map = %v", err)
	}
	for _, d := range oracleData {
		if !covered(m.Regions(), d) {
			t.Errorf("bmaptool's map %v does not cover the data at %+v", m.Regions(), d)
		}
	}
}

func covered(regs []fsimage.Region, d fsimage.Region) bool {
	for _, r := range regs {
		if r.Offset <= d.Offset && d.Offset+d.Length <= r.Offset+r.Length {
			return true
		}
	}
	return false
}

// TestBmaptoolCopyAcceptsOurs: `bmaptool copy` checks the file checksum
// and every range checksum of a map flashpipe wrote, copies the mapped
// ranges, and refuses the map once a range checksum is wrong (re-signed, so
// only the range checksum is wrong): bmaptool checks what we write.
func TestBmaptoolCopyAcceptsOurs(t *testing.T) {
	bmaptool := testreq.Tool(t, "bmaptool")
	dir := t.TempDir()
	size := int64(1<<20 + 100)
	path, img := sparseImage(t, dir, size, oracleData)
	m, err := Build(context.Background(), "ours.bmap", bytes.NewReader(img), size, oracleData)
	if err != nil {
		t.Fatal(err)
	}
	text, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "ours.bmap")
	if err := os.WriteFile(good, text, 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "out.img")
	if b, err := exec.Command(bmaptool, "copy", "--bmap", good, path, dest).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool copy --bmap (our map) = %v\n%s", err, b)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, img) {
		t.Errorf("bmaptool copy with our map wrote an image that differs from the source")
	}

	// One range checksum off by one digit, the file re-signed.
	bad := string(text)
	c := m.Ranges[1].Checksum
	last := "0"
	if c[63] == '0' {
		last = "1"
	}
	bad = strings.Replace(bad, c, c[:63]+last, 1)
	badPath := filepath.Join(dir, "bad.bmap")
	if err := os.WriteFile(badPath, resign(t, bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("bad.bmap", resign(t, bad)); err != nil {
		t.Fatalf("Parse(re-signed map) = %v; the test needs a map whose only fault is a range checksum", err)
	}
	b, err := exec.Command(bmaptool, "copy", "--bmap", badPath, path, filepath.Join(dir, "out2.img")).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "checksum mismatch") {
		t.Errorf("bmaptool copy with a wrong range checksum = %v\n%s\nwant a checksum mismatch", err, b)
	}
}

// resign puts a fresh file checksum into a 2.0 sha256 map's text.
func resign(t *testing.T, text string) []byte {
	t.Helper()
	i := strings.Index(text, "<BmapFileChecksum> ") + len("<BmapFileChecksum> ")
	return sign(t, text[:i]+strings.Repeat("0", 64)+text[i+64:], "BmapFileChecksum", sha256.New)
}

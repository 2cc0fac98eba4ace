package diskimage

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testImage returns a disk image of size bytes (a multiple of 4096): an
// MBR signature, then repeating 64 KiB patterns of compressible text,
// random bytes, whole 4 KiB zero blocks and zero runs that are not
// aligned, so holes, data and the odd zero inside data all occur.
func testImage(size int, seed uint64) []byte {
	img := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"flash", "pipe ", "stick", "image", "block", "zeros", "\n"}
	for off := 0; off < size; off += 4096 {
		blk := img[off : off+4096]
		switch (off / 4096) % 8 {
		case 0, 1, 2:
			for i := 0; i < len(blk); {
				i += copy(blk[i:], words[r.IntN(len(words))])
			}
		case 3:
			for i := range blk {
				blk[i] = byte(r.Uint32())
			}
		case 4:
			for i := range blk {
				blk[i] = byte(r.Uint32())
			}
			clear(blk[1000:3000]) // zeros inside data
		default: // 5, 6, 7: a hole
		}
	}
	img[510], img[511] = 0x55, 0xaa
	return img
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// compress runs a compressor CLI (the formats' own tools are the oracles)
// over data and returns its output.
func compress(t *testing.T, data []byte, tool string, args ...string) []byte {
	t.Helper()
	path := testreq.Tool(t, tool)
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, errb.String())
	}
	return out.Bytes()
}

// zipEntry is a file to put in a test zip.
type zipEntry struct {
	name   string
	data   []byte
	method uint16
}

func makeZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// openCache opens a cache in a new directory and closes it at the end.
func openCache(t *testing.T) *Cache {
	t.Helper()
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// getAll gets src's image, waits for it and returns its bytes and meta.
func getAll(t *testing.T, c *Cache, src *Source) ([]byte, Meta, error) {
	t.Helper()
	im, err := c.Get(src)
	if err != nil {
		return nil, Meta{}, err
	}
	defer im.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := im.Wait(ctx)
	if err != nil {
		return nil, m, err
	}
	got := make([]byte, m.Size)
	if _, err := im.ReadAt(got, 0); err != nil {
		return nil, m, err
	}
	return got, m, nil
}

// cacheFiles lists the cache directory's files (not the stat index).
func cacheFiles(t *testing.T, c *Cache) []string {
	t.Helper()
	ents, err := os.ReadDir(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

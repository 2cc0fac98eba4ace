package diskimage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStream: every format streams to the image byte for byte; a corrupt
// or truncated compressed file fails with an error naming the file (at Open
// or while streaming), never a short image read as whole; a file changed
// since Open is refused.
func TestStream(t *testing.T) {
	img := testImage(1<<20, 1) // the image made() caches each format of
	for _, f := range formats() {
		t.Run(f.name, func(t *testing.T) {
			data := made(t, f, img)
			path := writeFile(t, filepath.Join(t.TempDir(), f.file), data)
			if got, err := streamAll(path); err != nil || !bytes.Equal(got, img) {
				t.Fatalf("Stream = %d bytes, equal %v, %v; want the %d-byte image", len(got), bytes.Equal(got, img), err, len(img))
			}
			if f.want == Raw {
				return
			}
			for _, damage := range []string{"corrupt", "truncated"} {
				p := writeFile(t, filepath.Join(t.TempDir(), f.file), damaged(data, damage))
				got, err := streamAll(p)
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Errorf("Stream of a %s file = %d bytes, %v; want an error naming %s", damage, len(got), err, p)
				}
			}
		})
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "disk.img"), img)
	src, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	var ce *ChangedError
	if r, err := src.Stream(); !errors.As(err, &ce) {
		if r != nil {
			r.Close()
		}
		t.Errorf("Stream of a file touched since Open = %v, want a ChangedError", err)
	}
}

// streamAll opens path and reads all of its Stream.
func streamAll(path string) ([]byte, error) {
	src, err := Open(path, Options{})
	if err != nil {
		return nil, err
	}
	r, err := src.Stream()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestRewrittenWithMtimeRestored: a file rewritten in place, same size,
// its mtime set back, is still a changed file: its ctime moved.
func TestRewrittenWithMtimeRestored(t *testing.T) {
	img := testImage(64<<10, 1)
	path := writeFile(t, filepath.Join(t.TempDir(), "disk.img"), img)
	src, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a ctime tick
	other := bytes.Clone(img)
	other[1000] ^= 1
	if err := os.WriteFile(path, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	var ce *ChangedError
	if r, err := src.Stream(); !errors.As(err, &ce) {
		if r != nil {
			r.Close()
		}
		t.Errorf("Stream of a file rewritten with its mtime restored = %v, want a ChangedError", err)
	}
}

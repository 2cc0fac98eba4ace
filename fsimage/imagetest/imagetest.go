// Package imagetest holds test helpers for image files, shared by the
// tests of several packages.
package imagetest

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// Extract copies length bytes of img at off (a partition) into a file of
// its own, img+".part", for filesystem tools that take no offset. Zero
// blocks stay holes, so a large, mostly empty partition costs no disk.
func Extract(t testing.TB, img string, off, length int64) string {
	t.Helper()
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	part := img + ".part"
	dst, err := os.Create(part)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	r := io.NewSectionReader(src, off, length)
	buf := make([]byte, 1<<16)
	zero := make([]byte, len(buf))
	for at := int64(0); ; {
		n, err := io.ReadFull(r, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := dst.WriteAt(buf[:n], at); werr != nil {
				t.Fatal(werr)
			}
		}
		at += int64(n)
		if err != nil {
			if err := dst.Truncate(at); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return part
}

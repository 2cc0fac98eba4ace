// Package imagetest holds test helpers for image files, shared by the
// tests of several packages.
package imagetest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
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

// WriteLayout writes a layout into a new image file of size bytes holding
// the volume that starts at device offset base (0 for a whole image).
// With garbage false, Zero extents and uncovered bytes are holes, and
// FileData extents skip their sources' holes, so sparse stays sparse. With
// garbage true, the file is first filled with a pattern no valid structure
// is made of and Zero extents are written as zeros: a filesystem checker
// must then still find it clean, which proves that the layout covers every
// byte the filesystem relies on.
func WriteLayout(t testing.TB, path string, base, size int64, lay *fsimage.Layout, garbage bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if garbage {
		fill(t, f, bytes.Repeat([]byte{0xA5, 0x5A, 0xC3, 0x3C, 0xFF, 0x81, 0x85, 0xC0}, 1<<17), 0, size)
	}
	zeros := make([]byte, 1<<20)
	for _, e := range lay.Extents {
		e.Offset -= base
		if e.Offset < 0 || e.End() > size {
			t.Fatalf("extent %s [%d, %d) lies outside the volume [%d, %d)", e.What, e.Offset+base, e.End()+base, base, base+size)
		}
		var err error
		switch e.Kind {
		case fsimage.Bytes:
			_, err = f.WriteAt(e.Data, e.Offset)
		case fsimage.Zero:
			if garbage {
				fill(t, f, zeros, e.Offset, e.End())
			}
		case fsimage.FileData:
			err = copySparse(f, e)
		default:
			t.Fatalf("extent %s has kind %v", e.What, e.Kind)
		}
		if err != nil {
			t.Fatalf("write %s: %v", e.What, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fill writes pattern over and over into [from, to) of f.
func fill(t testing.TB, f *os.File, pattern []byte, from, to int64) {
	t.Helper()
	for off := from; off < to; off += int64(len(pattern)) {
		if _, err := f.WriteAt(pattern[:min(int64(len(pattern)), to-off)], off); err != nil {
			t.Fatal(err)
		}
	}
}

// copySparse copies a FileData extent's data runs into w, leaving its
// source's holes as holes. Where the filesystem cannot tell data from holes
// (no SEEK_DATA), everything is copied.
func copySparse(w *os.File, e fsimage.Extent) error {
	src, err := os.Open(e.Entry.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	end := e.SourceOffset + e.Length
	for off := e.SourceOffset; off < end; {
		data, err := src.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return nil // no data after off: the rest is a hole
		}
		hole := end
		if err != nil {
			data = off
		} else if h, err := src.Seek(data, seekHole); err == nil && h < end {
			hole = h
		}
		if data >= end {
			return nil
		}
		r := io.NewSectionReader(src, data, hole-data)
		if _, err := io.Copy(io.NewOffsetWriter(w, e.Offset+data-e.SourceOffset), r); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

// seekData and seekHole are lseek's whence values for sparse files.
const (
	seekData = 3
	seekHole = 4
)

// TreeDigest maps every path under root (slash-separated, relative) to
// "dir" or the hex SHA1 of the file's content: two trees hold the same
// names and bytes when their digests are equal.
func TreeDigest(t testing.TB, root string) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			m[filepath.ToSlash(rel)] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha1.Sum(data)
		m[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// WriteExtents writes extents (in any order) into a new image file at path,
// sized to size bytes, with fsimage.WriteImagePlan.
func WriteExtents(path string, size int64, extents []fsimage.Extent) error {
	xs := slices.Clone(extents)
	fsimage.SortExtents(xs)
	return fsimage.WriteImagePlan(context.Background(), &fsimage.Plan{DeviceSize: size, Extents: xs}, path, nil)
}

package exfat

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
)

// seekData and seekHole are lseek's whence values for sparse files (Linux).
const (
	seekData = 3
	seekHole = 4
)

// writeImage writes a Layout into a new image of size bytes holding the
// volume that starts at device offset base. With garbage false, Zero extents
// and uncovered bytes are holes, and FileData extents skip the source's
// holes, so sparse stays sparse. With garbage true, the image is first
// filled with a non-zero pattern and Zero extents are written as zeros: the
// filesystem must then still be clean, which proves that the Layout covers
// every byte the filesystem relies on.
func writeImage(t testing.TB, path string, base, size int64, lay *fsimage.Layout, garbage bool) {
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
		fillGarbage(t, f, size)
	}
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
				_, err = io.Copy(io.NewOffsetWriter(f, e.Offset), io.LimitReader(zeroReader{}, e.Length))
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

// fillGarbage fills f's first size bytes with a pattern that no valid
// structure is made of.
func fillGarbage(t testing.TB, f *os.File, size int64) {
	t.Helper()
	chunk := bytes.Repeat([]byte{0xA5, 0x5A, 0xC3, 0x3C, 0xFF, 0x81, 0x85, 0xC0}, 1<<17)
	for off := int64(0); off < size; off += int64(len(chunk)) {
		n := min(int64(len(chunk)), size-off)
		if _, err := f.WriteAt(chunk[:n], off); err != nil {
			t.Fatal(err)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// copySparse copies a FileData extent's data regions into w.
func copySparse(w *os.File, e fsimage.Extent) error {
	src, err := os.Open(e.Entry.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	end := e.SourceOffset + e.Length
	for off := e.SourceOffset; off < end; {
		data, err := src.Seek(off, seekData)
		if err != nil {
			return nil // no more data: the rest is a hole
		}
		if data >= end {
			return nil
		}
		hole, err := src.Seek(data, seekHole)
		if err != nil || hole > end {
			hole = end
		}
		r := io.NewSectionReader(src, data, hole-data)
		if _, err := io.Copy(io.NewOffsetWriter(w, e.Offset+data-e.SourceOffset), r); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

// need skips the test unless every named tool is installed.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (%v)", tool, err)
		}
	}
}

// needRoot skips the test unless it runs as root with /dev/fuse.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach a loop device and mount with exfat-fuse")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs /dev/fuse for exfat-fuse: %v", err)
	}
	need(t, "losetup", "mount.exfat-fuse", "umount")
}

// fsck runs fsck.exfat -n on img, fails the test unless it reports the
// volume clean with dirs directories (the root included) and files files.
func fsck(t testing.TB, img string, dirs, files int) {
	t.Helper()
	need(t, "fsck.exfat")
	out, err := exec.Command("fsck.exfat", "-n", "-v", img).CombinedOutput()
	want := fmt.Sprintf("clean. directories %d, files %d", dirs, files)
	if err != nil || !bytes.Contains(out, []byte(want)) {
		t.Fatalf("fsck.exfat -n %s = %v, want %q; output:\n%s", img, err, want, out)
	}
}

// entriesOf lists a source tree as manifest entries, parents before
// children, as the station's manifest scan does (no hashing: Build never
// reads file contents).
func entriesOf(t testing.TB, root string) []*fsimage.Entry {
	t.Helper()
	es, err := manifest.Scan([]manifest.Source{{Paths: []string{root}}}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// fileInfo is what the round trip compares for one path.
type fileInfo struct {
	Dir   bool
	Size  int64
	Hash  string    // SHA1, or for sparse giants of the first and last MiB
	MTime time.Time // to the second, in UTC
}

// bigFile is the size from which a file's hash covers only sample windows
// (see sampleOffsets): hashing 5 GiB of zeros through FUSE takes 15 s on an
// idle machine and over a minute on a busy one.
const bigFile = 1 << 30

// sampleOffsets returns where a big file is sampled: every 512 MiB, across
// the 4 GiB boundary (32-bit overflows) and at its end. Big source files
// carry a marker at each of these offsets, so a misplaced run shows.
func sampleOffsets(size int64) []int64 {
	var offs []int64
	for o := int64(0); o < size; o += 512 << 20 {
		offs = append(offs, o)
	}
	if size > 4<<30 {
		offs = append(offs, 4<<30-8)
	}
	return append(offs, size-16)
}

// snapshot lists every path under root with its size, hash and
// modification time.
func snapshot(t testing.TB, root string) map[string]fileInfo {
	t.Helper()
	m := map[string]fileInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		mt := info.ModTime().UTC().Truncate(time.Second)
		if d.IsDir() {
			m[rel] = fileInfo{Dir: true, MTime: mt}
			return nil
		}
		h, err := hashFile(p, info.Size())
		m[rel] = fileInfo{Size: info.Size(), Hash: h, MTime: mt}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func hashFile(p string, size int64) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New()
	if size < bigFile {
		_, err = io.Copy(h, f)
		return hex.EncodeToString(h.Sum(nil)), err
	}
	for _, o := range sampleOffsets(size) {
		start := max(0, o-512<<10)
		end := min(size, start+1<<20)
		if _, err := io.Copy(h, io.NewSectionReader(f, start, end-start)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), err
}

// mountImage attaches img read-only to a loop device, mounts it with
// exfat-fuse and returns the mount point; cleanup undoes both.
func mountImage(t testing.TB, img string) string {
	t.Helper()
	needRoot(t)
	out, err := exec.Command("losetup", "-f", "--show", "-r", img).CombinedOutput()
	if err != nil {
		t.Skipf("needs a loop device: losetup -f --show -r %s: %v: %s", img, err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	mnt := t.TempDir()
	if out, err := exec.Command("mount.exfat-fuse", "-o", "ro", loop, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount.exfat-fuse -o ro %s %s: %v: %s", loop, mnt, err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if exec.Command("umount", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // busy right after the walk
		}
		t.Errorf("umount %s failed", mnt)
	})
	return mnt
}

// asBadNames returns err as a *fsimage.BadNamesError or fails the test.
func asBadNames(t testing.TB, err error) *fsimage.BadNamesError {
	t.Helper()
	var bn *fsimage.BadNamesError
	if !errors.As(err, &bn) {
		t.Fatalf("Build() error = %v, want a *fsimage.BadNamesError", err)
	}
	return bn
}

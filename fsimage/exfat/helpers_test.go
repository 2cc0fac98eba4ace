package exfat

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

// seekData and seekHole are lseek's whence values for sparse files (Linux).
const (
	seekData = 3
	seekHole = 4
)

// writeImage writes a Layout into a new sparse image of size bytes: Bytes
// extents as given, Zero extents as holes, FileData extents copied from the
// source, skipping the source's holes so that a sparse source stays sparse.
func writeImage(t testing.TB, path string, size int64, lay *fsimage.Layout) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, e := range lay.Extents {
		switch e.Kind {
		case fsimage.Bytes:
			if _, err := f.WriteAt(e.Data, e.Offset); err != nil {
				t.Fatal(err)
			}
		case fsimage.Zero:
			// A new sparse file reads back zeros.
		case fsimage.FileData:
			if err := copySparse(f, e); err != nil {
				t.Fatalf("write %s: %v", e.What, err)
			}
		default:
			t.Fatalf("extent %s has kind %v", e.What, e.Kind)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
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
	need(t, "losetup", "mount.exfat-fuse", "fusermount")
}

// fsck runs fsck.exfat -n on img and fails the test if it is not clean.
func fsck(t testing.TB, img string) {
	t.Helper()
	need(t, "fsck.exfat")
	out, err := exec.Command("fsck.exfat", "-n", "-v", img).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("clean")) {
		t.Fatalf("fsck.exfat -n %s = %v, want clean; output:\n%s", img, err, out)
	}
}

// entriesOf walks a source tree and returns its manifest entries, parents
// before children.
func entriesOf(t testing.TB, root string) []*fsimage.Entry {
	t.Helper()
	var es []*fsimage.Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := &fsimage.Entry{Path: filepath.ToSlash(rel), Dir: d.IsDir(), Mode: info.Mode(), ModTime: info.ModTime()}
		if !e.Dir {
			e.Source, e.Size = p, info.Size()
		}
		es = append(es, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// fileInfo is what the round trip compares for one path.
type fileInfo struct {
	Dir  bool
	Size int64
	Hash string // SHA1, or for sparse giants of the first and last MiB
}

// bigFile is the size from which a file's hash covers only its first and
// last MiB, so that 5 GiB of zeros is not hashed through FUSE.
const bigFile = 1 << 30

// snapshot lists every path under root with its size and hash.
func snapshot(t testing.TB, root string) map[string]fileInfo {
	t.Helper()
	m := map[string]fileInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			m[rel] = fileInfo{Dir: true}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := hashFile(p, info.Size())
		m[rel] = fileInfo{Size: info.Size(), Hash: h}
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
	} else {
		if _, err = io.Copy(h, io.NewSectionReader(f, 0, 1<<20)); err == nil {
			_, err = io.Copy(h, io.NewSectionReader(f, size-1<<20, 1<<20))
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
			if exec.Command("fusermount", "-u", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("fusermount -u %s failed", mnt)
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

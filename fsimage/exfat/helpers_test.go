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
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// needMount stops the test (see testreq) unless it can mount an image with
// exfat-fuse: root, /dev/fuse and the tools.
func needMount(t testing.TB) {
	t.Helper()
	looptest.Require(t)
	_, err := os.Stat("/dev/fuse")
	testreq.Capability(t, "/dev/fuse for exfat-fuse", err)
	testreq.Tools(t, "mount.exfat-fuse", "umount")
}

// fsck runs fsck.exfat -n on img, fails the test unless it reports the
// volume clean with dirs directories (the root included) and files files.
func fsck(t testing.TB, img string, dirs, files int) {
	t.Helper()
	testreq.Tool(t, "fsck.exfat")
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
	needMount(t)
	loop := looptest.AttachReadOnly(t, img)
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

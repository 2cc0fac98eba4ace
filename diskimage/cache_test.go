package diskimage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"golang.org/x/sys/unix"
)

// slowSource writes an image that takes a while to decode (16 MiB, one
// xz block: about half a second here), so a test can act while the cache
// fills.
func slowSource(t *testing.T) (string, []byte) {
	t.Helper()
	img := testImage(16<<20, 9)
	path := writeFile(t, filepath.Join(t.TempDir(), "slow.img.xz"), compress(t, img, "xz", "-c", "-0", "-T1"))
	return path, img
}

func open(t *testing.T, path string) *Source {
	t.Helper()
	src, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func ctxMinute(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestShareAndFollow: two sticks asking for one image share one
// decompression, and each may read what is ready while the rest is still
// being decoded.
func TestShareAndFollow(t *testing.T) {
	path, img := slowSource(t)
	src := open(t, path)
	c := openCache(t)
	ctx := ctxMinute(t)
	im1, err := c.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	defer im1.Close()
	if err := im1.WaitFor(ctx, 1<<20); err != nil {
		t.Fatal(err)
	}
	ready, size, done, _ := im1.e.state()
	if done || ready >= size {
		t.Fatalf("after WaitFor(1 MiB): ready %d of %d, done %v; want the cache still filling (is the machine too fast for this test's image?)", ready, size, done)
	}
	if _, err := im1.ReadAt(make([]byte, 1), size-1); err == nil || !strings.Contains(err.Error(), "not in the image cache yet") {
		t.Errorf("ReadAt(last byte) while filling = %v, want not ready yet", err)
	}
	im2, err := c.Get(open(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer im2.Close()
	if im2.e != im1.e {
		t.Errorf("a second Get of the same file started its own decompression")
	}
	got := make([]byte, 1<<20)
	if _, err := im2.ReadAt(got, 0); err != nil || !bytes.Equal(got, img[:1<<20]) {
		t.Errorf("second reader, first MiB while filling: equal %v, %v", bytes.Equal(got, img[:1<<20]), err)
	}
	m1, err1 := im1.Wait(ctx)
	m2, err2 := im2.Wait(ctx)
	if err1 != nil || err2 != nil || m1 != m2 || m1.SHA256 != sha(img) {
		t.Errorf("Wait = %+v, %v and %+v, %v; want one entry with the image's SHA-256 %s", m1, err1, m2, err2, sha(img))
	}
	if files := cacheFiles(t, c); len(files) != 2 {
		t.Errorf("cache holds %v, want one image and its metadata", files)
	}
}

// TestReuse: a complete entry serves a later process at once; a file that
// changed since (a new mtime) is decoded again, and the same content is
// kept once.
func TestReuse(t *testing.T) {
	img := testImage(1<<20, 10)
	path := writeFile(t, filepath.Join(t.TempDir(), "disk.img.gz"), compress(t, img, "gzip", "-c"))
	c := openCache(t)
	src := open(t, path)
	if _, ok := c.Lookup(src); ok {
		t.Fatalf("Lookup before any decompression found an entry")
	}
	_, m, err := getAll(t, c, src)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	c2, err := OpenCache(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, ok := c2.Lookup(src); !ok || got != m {
		t.Errorf("Lookup in a new Cache = %+v, %v; want %+v", got, ok, m)
	}
	im, err := c2.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, done, _ := im.e.state(); !done {
		t.Errorf("Get of a complete entry: not done at once, it is being decoded again")
	}
	im.Close()

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.Lookup(src); ok {
		t.Errorf("Lookup found the entry of a file whose mtime changed")
	}
	if _, m2, err := getAll(t, c2, open(t, path)); err != nil || m2.ID != m.ID || m2.SHA256 != m.SHA256 {
		t.Errorf("decoding the touched file = %+v, %v; want the same entry %s", m2, err, m.ID)
	}
	if files := cacheFiles(t, c2); len(files) != 2 {
		t.Errorf("cache holds %v, want the one image and its metadata", files)
	}
}

// TestDiscardAndRetry: a failed entry is dropped at once, even while an
// Image still holds it; a later Get of the repaired file decodes it.
func TestDiscardAndRetry(t *testing.T) {
	img := testImage(1<<20, 11)
	gz := compress(t, img, "gzip", "-c")
	bad := bytes.Clone(gz)
	for i := len(bad) / 2; i < len(bad)/2+32; i++ {
		bad[i] ^= 0xff
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "disk.img.gz"), bad)
	c := openCache(t)
	src := open(t, path)
	im, err := c.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	var de *DecodeError
	if _, err := im.Wait(ctxMinute(t)); !errors.As(err, &de) {
		t.Fatalf("Wait(corrupt) = %v, want a DecodeError", err)
	}
	if files := cacheFiles(t, c); len(files) != 0 {
		t.Errorf("cache holds %v after the failure", files)
	}
	// The same file again, the failed Image still open: decoded afresh.
	again, err := c.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	if again.e == im.e {
		t.Errorf("Get after a failure returned the failed entry")
	}
	if _, err := again.Wait(ctxMinute(t)); !errors.As(err, &de) {
		t.Errorf("Wait(corrupt, again) = %v, want a DecodeError", err)
	}
	again.Close()
	if err := os.WriteFile(path, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	im2, err := c.Get(open(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer im2.Close()
	if im2.e == im.e {
		t.Fatalf("Get after a failure reused the failed entry")
	}
	if m, err := im2.Wait(ctxMinute(t)); err != nil || m.SHA256 != sha(img) {
		t.Errorf("Wait(repaired) = %+v, %v; want the image", m, err)
	}
	if !bytes.Equal(mustRead(t, path), gz) {
		t.Errorf("the source file was changed")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChangedDuringDecompression: a file touched or replaced while it is
// decoded fails every reader with an error naming it, and nothing of it
// stays in the cache.
func TestChangedDuringDecompression(t *testing.T) {
	for _, how := range []string{"touched", "replaced"} {
		t.Run(how, func(t *testing.T) {
			path, _ := slowSource(t)
			data := mustRead(t, path)
			c := openCache(t)
			im, err := c.Get(open(t, path))
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			ctx := ctxMinute(t)
			if err := im.WaitFor(ctx, 1<<20); err != nil {
				t.Fatal(err)
			}
			if _, _, done, _ := im.e.state(); done {
				t.Fatalf("the cache filled before the file could be changed (is the machine too fast for this test's image?)")
			}
			if how == "touched" {
				later := time.Now().Add(time.Hour)
				err = os.Chtimes(path, later, later)
			} else {
				tmp := writeFile(t, path+".new", data)
				err = os.Rename(tmp, path)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = im.Wait(ctx)
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), path) {
				t.Errorf("Wait after the file was %s = %v, want a ChangedError naming %s", how, err, path)
			}
			if files := cacheFiles(t, c); len(files) != 0 {
				t.Errorf("cache holds %v, want nothing", files)
			}
		})
	}
}

// TestCloseStops: closing the cache stops a decompression, removes its
// partial file and leaves no goroutine (TestMain checks with goleak).
func TestCloseStops(t *testing.T) {
	path, _ := slowSource(t)
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := c.Get(open(t, path))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxMinute(t)
	if err := im.WaitFor(ctx, 1<<20); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := im.WaitFor(ctx, 16<<20); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("WaitFor after Close = %v, want the cache closed", err)
	}
	im.Close()
	if files := cacheFiles(t, c); len(files) != 0 {
		t.Errorf("cache holds %v after Close stopped the decompression", files)
	}
	if _, err := c.Get(open(t, path)); err == nil {
		t.Errorf("Get after Close succeeded")
	}
}

// TestStaleFills: OpenCache removes the partial files of a process that
// died (unlocked), not those of one still running (locked).
func TestStaleFills(t *testing.T) {
	dir := t.TempDir()
	stale := writeFile(t, filepath.Join(dir, "fill-1.img"), []byte("x"))
	live := writeFile(t, filepath.Join(dir, "fill-2.img"), []byte("y"))
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale fill-1.img still there (%v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("locked fill-2.img removed: %v", err)
	}
}

// TestCacheFull: a cache directory that fills up fails the image with an
// error naming the cache and the bytes, removes its partial file, and
// keeps the other entries.
func TestCacheFull(t *testing.T) {
	testreq.Root(t, "to mount a small tmpfs")
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testreq.Capability(t, "a tmpfs mount", unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	small := testImage(128<<10, 12)
	smallSrc := open(t, writeFile(t, filepath.Join(t.TempDir(), "small.img"), small))
	if _, _, err := getAll(t, c, smallSrc); err != nil {
		t.Fatal(err)
	}
	big := testImage(4<<20, 13)
	bigPath := writeFile(t, filepath.Join(t.TempDir(), "big.img.zst"), compress(t, big, "zstd", "-c", "-q"))
	_, _, err = getAll(t, c, open(t, bigPath))
	if err == nil || !strings.Contains(err.Error(), "filesystem is full") || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), bigPath) {
		t.Errorf("decoding into a full cache = %v, want an error naming %s and %s and saying it is full", err, dir, bigPath)
	}
	if got, _, err := getAll(t, c, smallSrc); err != nil || !bytes.Equal(got, small) {
		t.Errorf("the entry already there after the failure: equal %v, %v", bytes.Equal(got, small), err)
	}
	if files := cacheFiles(t, c); len(files) != 2 {
		t.Errorf("cache holds %v, want the small image and its metadata only", files)
	}
}

// TestChangedSinceOpen: a file changed between Open and Get is refused:
// what Open checked may no longer hold.
func TestChangedSinceOpen(t *testing.T) {
	img := testImage(64<<10, 14)
	path := writeFile(t, filepath.Join(t.TempDir(), "disk.img"), img)
	src := open(t, path)
	writeFile(t, path, testImage(128<<10, 15))
	var ce *ChangedError
	if _, err := openCache(t).Get(src); !errors.As(err, &ce) || !strings.Contains(err.Error(), "since it was opened") {
		t.Errorf("Get after the file changed = %v, want a ChangedError since it was opened", err)
	}
}

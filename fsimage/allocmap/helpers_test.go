package allocmap

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

var toolEnv = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC")

// run runs a listed tool and fails the test unless it exits 0.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runErr(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs a listed tool and returns its output and error.
func runErr(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testreq.Tool(t, name), args...)
	cmd.Env = toolEnv
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// staleMarker starts every 512-byte block of a victim file: the content
// of a deleted file, whose blocks must not be mapped.
const staleMarker = "FLASHPIPE-STALE!"

// content is a test tree: the files kept and the victims, deleted after
// they were written so that their blocks hold stale data.
type content struct {
	keep    map[string]int // path → size
	victims map[string]int
}

// rpiContent looks like a Raspberry Pi OS boot or root partition, scaled
// down: a few big files, some small ones, a nested directory, and victims
// in between.
func rpiContent(scale int) content {
	return content{
		keep: map[string]int{
			"kernel8.img": 300 << 10 * scale, "cmdline.txt": 90, "config.txt": 2100,
			"overlays/vc4-kms-v3d.dtbo": 3 << 10, "overlays/README": 30 << 10,
			"bcm2712-rpi-5-b.dtb": 70 << 10, "big/firmware.bin": 1 << 20 * scale, "empty.txt": 0,
		},
		victims: map[string]int{"old-kernel.img": 200 << 10 * scale, "overlays/stale.dtbo": 20 << 10,
			"big/old-firmware.bin": 600 << 10 * scale},
	}
}

// write creates the kept files (and the victims too, when victims) under
// dir with seeded pseudo-random content; victims get the stale marker.
func (c content) write(t testing.TB, dir string, victims bool) {
	t.Helper()
	all := map[string]int{}
	for p, n := range c.keep {
		all[p] = n
	}
	if victims {
		for p, n := range c.victims {
			all[p] = -n
		}
	}
	for p, n := range all {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, fileData(p, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fileData is the content of path: |n| pseudo-random bytes seeded by the
// path; with n < 0 (a victim) every 512-byte block starts with the marker.
func fileData(path string, n int) []byte {
	h := sha256.Sum256([]byte(path))
	r := rand.New(rand.NewSource(int64(h[0]) | int64(h[1])<<8 | int64(h[2])<<16))
	b := make([]byte, max(n, -n))
	r.Read(b)
	if n < 0 {
		for i := 0; i < len(b); i += 512 {
			copy(b[i:], staleMarker)
		}
	}
	return b
}

// sameTree fails the test unless the directory got holds exactly the kept
// files of c (and lost+found).
func (c content) sameTree(t testing.TB, got string) {
	t.Helper()
	want := map[string]string{}
	for p, n := range c.keep {
		sum := sha1.Sum(fileData(p, n))
		want[p] = hex.EncodeToString(sum[:])
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			want[d] = "dir"
		}
	}
	tree := imagetest.TreeDigest(t, got)
	delete(tree, "lost+found")
	if diff := cmp.Diff(want, tree); diff != "" {
		t.Errorf("files read back from the copy differ from the ones written (-want +got):\n%s", diff)
	}
}

// readMap runs Read on the image file img.
func readMap(t testing.TB, img string, opts Options) *Map {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(f, st.Size(), opts)
	if err != nil {
		t.Fatalf("Read(%s) error = %v", img, err)
	}
	checkMap(t, m)
	return m
}

// checkMap checks the invariants every Map keeps: ranges sorted, apart,
// block-aligned and on the disk; whole partitions fully covered and with a
// reason.
func checkMap(t testing.TB, m *Map) {
	t.Helper()
	var prev int64 = -1
	for i, r := range m.Ranges {
		end := r.Offset + r.Length
		switch {
		case r.Length <= 0 || r.Offset <= prev || end > m.Size:
			t.Fatalf("Ranges[%d] = %+v after end %d on a disk of %d: want sorted, apart, non-empty ranges on the disk", i, r, prev, m.Size)
		case r.Offset%m.BlockSize != 0 || (end%m.BlockSize != 0 && end != m.Size):
			t.Fatalf("Ranges[%d] = %+v: want whole blocks of %d", i, r, m.BlockSize)
		}
		prev = end
	}
	for _, p := range m.Partitions {
		if p.Whole && (p.Reason == "" || !covered(m.Ranges, p.Offset, p.Size)) {
			t.Fatalf("%s is mapped whole with reason %q; covered: %v", p.What, p.Reason, covered(m.Ranges, p.Offset, p.Size))
		}
		if p.Mapped > p.Size || p.Mapped < 0 {
			t.Fatalf("%s: Mapped = %d of %d bytes", p.What, p.Mapped, p.Size)
		}
	}
}

// covered reports whether rs cover [off, off+n).
func covered(rs []fsimage.Region, off, n int64) bool {
	for _, r := range rs {
		if r.Offset <= off && off < r.Offset+r.Length {
			if r.Offset+r.Length >= off+n {
				return true
			}
			n -= r.Offset + r.Length - off
			off = r.Offset + r.Length
		}
	}
	return n <= 0
}

// copyMapped writes a copy of img that holds img's bytes in m's ranges and
// pseudo-random garbage everywhere else (what a used stick holds), and
// returns its path. Whatever the copy needs and m left out shows.
func copyMapped(t testing.TB, img string, m *Map) string {
	t.Helper()
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), "copy.img")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	garbage := rand.New(rand.NewSource(7))
	var at int64
	write := func(r io.Reader, n int64) {
		if _, err := io.CopyN(out, r, n); err != nil {
			t.Fatal(err)
		}
		at += n
	}
	for _, r := range m.Ranges {
		write(garbage, r.Offset-at)
		write(io.NewSectionReader(src, r.Offset, r.Length), r.Length)
	}
	write(garbage, m.Size-at)
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// checkStale fails the test unless img holds at least want blocks of
// victim data (the deletions left stale data behind) and m maps none.
func checkStale(t testing.TB, img string, m *Map, want int) {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	found, mapped := 0, 0
	for off := 0; off+len(staleMarker) <= len(data); off += 512 {
		if string(data[off:off+len(staleMarker)]) == staleMarker {
			found++
			if covered(m.Ranges, int64(off), 1) {
				mapped++
			}
		}
	}
	if found < want || mapped > 0 {
		t.Errorf("stale blocks of deleted files: %d found (want at least %d), %d of them mapped (want 0)", found, want, mapped)
	}
}

// checkVolume reads the image img of a volume without a partition table
// and checks that fs was found and mapped by its allocation, exactly used
// bytes (what its own tool counts, explained by what), that the stale
// blocks of deleted files (at least stale of them) are not mapped, and
// that check passes on a copy of only the mapped ranges over garbage.
func checkVolume(t testing.TB, img string, fs FS, used int64, what string, stale int, check func(vol string)) {
	t.Helper()
	m := readMap(t, img, Options{BlockSize: 512}) // no widening: stale blocks stay out
	if m.Table != NoTable || m.System != 0 {
		t.Errorf("Table, System = %s, %d; want none, 0 for a volume without a partition table", m.Table, m.System)
	}
	if p := partition(t, m, 0, fs); p.Mapped != used {
		t.Errorf("Mapped = %d, want %d (%s)", p.Mapped, used, what)
	}
	checkStale(t, img, m, stale)
	check(copyMapped(t, img, m))
}

// partition returns the one partition of m with number n (0: the volume
// of a disk without a table), failing unless its filesystem is fs and it
// was understood.
func partition(t testing.TB, m *Map, n int, fs FS) Partition {
	t.Helper()
	for _, p := range m.Partitions {
		if p.Number == n {
			if p.FS != fs || p.Whole {
				t.Fatalf("%s: FS = %s, Whole = %v (%s); want %s mapped by allocation", p.What, p.FS, p.Whole, p.Reason, fs)
			}
			return p
		}
	}
	t.Fatalf("no partition %d in %+v", n, m.Partitions)
	return Partition{}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantWhole fails the test unless partition n of m is mapped whole with a
// reason that starts with reason.
func wantWhole(t testing.TB, m *Map, n int, reason string) {
	t.Helper()
	for _, p := range m.Partitions {
		if p.Number == n {
			if !p.Whole || !strings.HasPrefix(p.Reason, reason) || p.Mapped != p.Size {
				t.Errorf("%s: Whole, Reason, Mapped = %v, %q, %d; want true, %q..., %d", p.What, p.Whole, p.Reason, p.Mapped, reason, p.Size)
			}
			return
		}
	}
	t.Errorf("no partition %d in %+v", n, m.Partitions)
}

// execCommand is exec.Command with the tools' environment.
func execCommand(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = toolEnv
	return c
}

// numbers returns the number each regular expression's first group
// matches in a tool's output, failing the test when one does not match.
func numbers(t testing.TB, out string, res ...string) []int64 {
	t.Helper()
	var ns []int64
	for _, re := range res {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("tool output lacks %q:\n%s", re, out)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	return ns
}

package ext4

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/units"
)

// needTools stops the test (see testreq.Tool) unless e2fsprogs' tools are
// installed.
func needTools(t *testing.T) {
	t.Helper()
	testreq.Tools(t, "mke2fs", "dumpe2fs", "debugfs", "e2fsck")
}

// content makes a small source tree and returns its hashed manifest.
func content(t *testing.T) (string, []*fsimage.Entry) {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		"readme.txt":          "hello ext4\n",
		"docs/a/deep.bin":     strings.Repeat("0123456789abcdef", 70000),
		"docs/empty.txt":      "",
		"Unicode ümlaut ✓.md": "names are bytes on ext4\n",
	}
	for name, data := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(src, "emptydir"), 0o755)
	es, err := manifest.Scan([]manifest.Source{{Paths: []string{src}, Dest: "content"}}, manifest.Options{Now: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Hash(context.Background(), es, nil, nil); err != nil {
		t.Fatal(err)
	}
	return src, es
}

// writeGarbage writes the extents into an image first filled with 0xAA, so
// that anything the plan leaves as don't-care is garbage, not zeros.
func writeGarbage(t *testing.T, path string, size int64, xs []fsimage.Extent) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := bytes.Repeat([]byte{0xAA}, 1<<20)
	for off := int64(0); off < size; off += int64(len(junk)) {
		f.WriteAt(junk[:min(int64(len(junk)), size-off)], off)
	}
	for _, x := range xs {
		var data []byte
		switch x.Kind {
		case fsimage.Zero:
			data = make([]byte, x.Length)
		case fsimage.Bytes:
			data = x.Data
		case fsimage.FileData:
			src, err := os.Open(x.Entry.Source)
			if err != nil {
				t.Fatal(err)
			}
			data = make([]byte, x.Length)
			if _, err := src.ReadAt(data, x.SourceOffset); err != nil {
				t.Fatal(err)
			}
			src.Close()
		}
		if _, err := f.WriteAt(data, x.Offset); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuildFsckAndReadBack(t *testing.T) {
	needTools(t)
	src, es := content(t)
	const size = 48 << 20
	vol := fsimage.Volume{Offset: 0, Size: size + 1000, SectorSize: 512, Label: "FLASHPIPE-EXT4", Serial: 0x1234, Entries: es, Now: time.Unix(1700000000, 0)}
	layout, cleanup, err := Build(vol, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	defer cleanup()
	plan := &fsimage.Plan{DeviceSize: size, Extents: layout.Extents}
	if err := plan.Check(); err != nil {
		t.Fatalf("Plan.Check() = %v", err)
	}
	if len(layout.Files) != 0 {
		t.Errorf("Build() Files = %d runs, want none for ext4", len(layout.Files))
	}
	var zeros int64
	for _, x := range layout.Extents {
		if x.Kind == fsimage.Zero {
			zeros += x.Length
		}
	}
	if plan.Bytes() >= size/2 || zeros == 0 {
		t.Errorf("plan covers %d bytes (%d zeros) of %d, want well under half, with some zeros", plan.Bytes(), zeros, size)
	}
	img := filepath.Join(t.TempDir(), "stick.img")
	writeGarbage(t, img, size, layout.Extents)

	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn = %v\n%s", err, out)
	}
	out, _ := exec.Command("dumpe2fs", "-h", img).Output()
	if !strings.Contains(string(out), "Filesystem volume name:   FLASHPIPE-EXT4") {
		t.Errorf("dumpe2fs -h: volume name missing, want FLASHPIPE-EXT4:\n%s", out)
	}
	if !strings.Contains(string(out), "Filesystem UUID:          "+deriveUUID(0x1234)) {
		t.Errorf("dumpe2fs -h: UUID, want %s:\n%s", deriveUUID(0x1234), out)
	}
	dump := t.TempDir()
	if out, err := exec.Command("debugfs", "-R", "rdump /content "+dump, img).CombinedOutput(); err != nil {
		t.Fatalf("debugfs rdump = %v\n%s", err, out)
	}
	for _, e := range es {
		got := filepath.Join(dump, filepath.FromSlash(e.Path))
		fi, err := os.Stat(got)
		if err != nil {
			t.Errorf("read back %s: %v", e.Path, err)
			continue
		}
		if fi.IsDir() != e.Dir || fi.Mode().Perm() != e.Mode.Perm() {
			t.Errorf("read back %s: mode %v, want %v", e.Path, fi.Mode(), e.Mode)
		}
		if !e.Dir {
			want, _ := os.ReadFile(e.Source)
			if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
				t.Errorf("read back %s: %d bytes differ from the source's %d", e.Path, len(data), len(want))
			}
			if !fi.ModTime().Equal(e.ModTime.Truncate(time.Second)) && !fi.ModTime().Equal(e.ModTime) {
				t.Errorf("read back %s: mtime %v, want %v", e.Path, fi.ModTime(), e.ModTime)
			}
		}
	}
	_ = src
}

func TestBuildOffsetAndCleanup(t *testing.T) {
	needTools(t)
	_, es := content(t)
	tmp := t.TempDir()
	vol := fsimage.Volume{Offset: 1 << 20, Size: 16 << 20, SectorSize: 4096, Label: "X", Serial: 7, Entries: es}
	layout, cleanup, err := Build(vol, Options{TempDir: tmp})
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	for _, x := range layout.Extents {
		if x.Offset < vol.Offset || x.End() > vol.Offset+vol.Size {
			t.Errorf("extent %s [%d, %d) outside the volume [%d, %d)", x.What, x.Offset, x.End(), vol.Offset, vol.Offset+vol.Size)
		}
		if x.Kind == fsimage.FileData && x.Offset-vol.Offset != x.SourceOffset {
			t.Errorf("extent at %d reads image offset %d, want %d", x.Offset, x.SourceOffset, x.Offset-vol.Offset)
		}
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("after cleanup, TempDir holds %d entries, want 0", len(left))
	}
}

func TestBuildNoSpace(t *testing.T) {
	needTools(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte{1}, 12<<20), 0o644)
	es, _ := manifest.Scan([]manifest.Source{{Paths: []string{src}}}, manifest.Options{})
	tmp := t.TempDir()
	_, _, err := Build(fsimage.Volume{Size: 8 << 20, SectorSize: 512, Entries: es}, Options{TempDir: tmp})
	var ns *fsimage.NoSpaceError
	if !errors.As(err, &ns) || ns.Needed <= 8<<20 {
		t.Errorf("Build(12 MiB into 8 MiB) error = %v, want NoSpaceError needing > 8 MiB", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("after a failed Build, TempDir holds %d entries, want 0", len(left))
	}
	_, _, err = Build(fsimage.Volume{Size: 8 << 20, Label: strings.Repeat("L", 17)}, Options{TempDir: tmp})
	var bn *fsimage.BadNamesError
	if !errors.As(err, &bn) {
		t.Errorf("Build(17-byte label) error = %v, want BadNamesError", err)
	}
}

func TestMinSize(t *testing.T) {
	needTools(t)
	src := t.TempDir()
	for i := 0; i < 300; i++ {
		os.WriteFile(filepath.Join(src, strings.Repeat("f", 1+i%40)+string(rune('a'+i%26))+strings.Repeat("x", i/26)), bytes.Repeat([]byte{byte(i)}, i*997), 0o644)
	}
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte{1}, 20<<20), 0o644)
	es, err := manifest.Scan([]manifest.Source{{Paths: []string{src}, Dest: "d"}}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	min, err := MinSize(es, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("MinSize() error = %v", err)
	}
	_, cleanup, err := Build(fsimage.Volume{Size: min, Entries: es}, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Build(MinSize() = %d) error = %v, want it to fit", min, err)
	}
	cleanup()
	var content int64
	for _, e := range es {
		content += e.Size
	}
	if min > content+content/10+8<<20 {
		t.Errorf("MinSize() = %s for %s of content, want at most 10 %% + 8 MiB more", units.Bytes(min), units.Bytes(content))
	}
	t.Logf("MinSize() = %s", units.Bytes(min))
}

func TestBuildLongName(t *testing.T) {
	long := strings.Repeat("n", 256)
	es := []*fsimage.Entry{{Path: "d", Dir: true}, {Path: "d/" + long, Source: "/nonexistent"}}
	_, _, err := Build(fsimage.Volume{Size: 8 << 20, Entries: es}, Options{TempDir: t.TempDir()})
	var bn *fsimage.BadNamesError
	if !errors.As(err, &bn) || len(bn.Names) != 1 || bn.Names[0].Path != "d/"+long {
		t.Errorf("Build(256-byte name) error = %v, want BadNamesError naming it", err)
	}
}

// TestBuildRefusesSourceReplacedByFIFO: mke2fs -d copies a FIFO into the
// filesystem as a FIFO (it does not open it), and copying a source opens
// it; a source that became a FIFO after the scan fails the build instead,
// whether it is staged by a hard link (TempDir on the sources'
// filesystem) or by a copy (TempDir on a tmpfs), and nothing blocks.
func TestBuildRefusesSourceReplacedByFIFO(t *testing.T) {
	needTools(t)
	shm, err := os.MkdirTemp("/dev/shm", "flashpipe-test-")
	testreq.Capability(t, "a tmpfs at /dev/shm", err)
	t.Cleanup(func() { os.RemoveAll(shm) })
	for _, tc := range []struct{ name, tempDir, file string }{
		{"linked", "", "docs/empty.txt"},
		{"copied", shm, "readme.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, es := content(t)
			tmp := tc.tempDir
			if tmp == "" {
				tmp = t.TempDir()
			}
			if sameFS(t, src, tmp) != (tc.tempDir == "") {
				testreq.Capability(t, "a TempDir on the sources' filesystem and one on another", errors.New("/dev/shm and "+os.TempDir()+" are not as expected"))
			}
			f := filepath.Join(src, tc.file)
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(f)
			imagetest.FIFO(t, f)
			os.Chtimes(f, fi.ModTime(), fi.ModTime())
			vol := fsimage.Volume{Size: 16 << 20, SectorSize: 512, Entries: es}
			imagetest.Within(t, 10*time.Second, f, "Build", func() { _, _, err = Build(vol, Options{TempDir: tmp}) })
			if err == nil || !strings.Contains(err.Error(), f) {
				t.Errorf("Build with %s replaced by a FIFO = %v, want an error naming it", tc.file, err)
			}
		})
	}
}

// sameFS reports whether two paths are on one filesystem.
func sameFS(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev
}

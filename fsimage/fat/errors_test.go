package fat

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/google/go-cmp/cmp"
)

func dirE(p string) *fsimage.Entry { return &fsimage.Entry{Path: p, Dir: true} }
func fileE(p string, size int64) *fsimage.Entry {
	return &fsimage.Entry{Path: p, Size: size, Source: "/nonexistent/" + p}
}

func TestBadNames(t *testing.T) {
	long := strings.Repeat("x", 256)
	entries := []*fsimage.Entry{
		fileE("Readme.txt", 1),
		fileE("README.TXT", 1),
		fileE("a:b", 1),
		dirE("bad?dir"),
		fileE("bad?dir/child*", 1),
		fileE("big.iso", 4<<30),
		fileE("ctl\x07", 1),
		dirE("d"),
		fileE("d/README.TXT", 1), // no collision: another directory
		fileE("d/Straße", 1),
		fileE("d/STRASSE", 1), // no collision: simple case mapping keeps ß
		fileE("d/ok.iso", 4<<30-1),
		fileE("dot.", 1),
		fileE(long, 1),
		fileE("quote\"", 1),
		fileE("readme.txt", 1),
		fileE("space ", 1),
		dirE("Aux"),
		fileE("nul.txt", 1),
	}
	_, err := Build(fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: entries})
	var bn *fsimage.BadNamesError
	if !errors.As(err, &bn) {
		t.Fatalf("Build() error = %v, want *fsimage.BadNamesError", err)
	}
	var got []string
	for _, n := range bn.Names {
		got = append(got, n.Path)
	}
	want := []string{"Aux", "README.TXT", "Readme.txt", "a:b", "bad?dir", "bad?dir/child*", "big.iso", "ctl\x07", "dot.", "nul.txt", "quote\"", "readme.txt", "space ", long}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("BadNamesError paths (-want +got):\n%s", d)
	}
	for _, n := range bn.Names {
		if n.Path == "big.iso" && !strings.Contains(n.Reason, "use exfat") {
			t.Errorf("reason for big.iso = %q, want it to suggest exfat", n.Reason)
		}
		if n.Path == "readme.txt" && !strings.Contains(n.Reason, "case") {
			t.Errorf("reason for readme.txt = %q, want it to mention case", n.Reason)
		}
	}
	if bn.FS != "FAT32" {
		t.Errorf("BadNamesError.FS = %q, want FAT32", bn.FS)
	}
}

func TestHugeDirectory(t *testing.T) {
	// 70,000 entries of one 32-byte slot each overflow FAT's 65,536.
	entries := []*fsimage.Entry{dirE("d")}
	for i := 0; i < 70000; i++ {
		entries = append(entries, &fsimage.Entry{Path: "d/" + strings.ToUpper(strings.TrimLeft(fmtHex(i), "")), Source: "x"})
	}
	_, err := Build(fsimage.Volume{Size: 1 << 30, SectorSize: 512, Entries: entries})
	var bn *fsimage.BadNamesError
	if !errors.As(err, &bn) || len(bn.Names) != 1 || bn.Names[0].Path != "d" {
		t.Fatalf("Build(70000 files in d) = %v, want a BadNamesError for d only", err)
	}
}

func fmtHex(i int) string {
	const digits = "0123456789ABCDEF"
	s := ""
	for ; i > 0 || s == ""; i /= 16 {
		s = string(digits[i%16]) + s
	}
	return "F" + s
}

func TestNoSpace(t *testing.T) {
	entries := []*fsimage.Entry{fileE("a.bin", 30<<20), fileE("b.bin", 30<<20)}
	vol := fsimage.Volume{Size: 40 << 20, SectorSize: 512, Entries: entries}
	_, err := Build(vol)
	var ns *fsimage.NoSpaceError
	if !errors.As(err, &ns) {
		t.Fatalf("Build() error = %v, want *fsimage.NoSpaceError", err)
	}
	if ns.Available != vol.Size {
		t.Errorf("Available = %d, want %d", ns.Available, vol.Size)
	}
	if ns.Needed < 60<<20+(ns.Available-40<<20) || ns.Needed > 62<<20 {
		t.Errorf("Needed = %d, want a little more than the 60 MiB of data", ns.Needed)
	}
	// The same content fits once the volume is as big as Needed plus the
	// larger FAT that a larger volume brings.
	vol.Size = ns.Needed + 1<<20
	if _, err := Build(vol); err != nil {
		t.Errorf("Build(size = Needed + 1 MiB) = %v, want nil", err)
	}
}

func TestTooSmall(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		_, err := Build(fsimage.Volume{Size: 1 << 20, SectorSize: ss})
		if err == nil || !strings.Contains(err.Error(), "too small") || !strings.Contains(err.Error(), "FAT16 needs at least") {
			t.Fatalf("Build(1 MiB, %d) = %v, want a too-small error with the minimum size", ss, err)
		}
		min := minimumSize(false, ss, max(512, ss), 0, 512)
		if !strings.Contains(err.Error(), fmt.Sprintf("(%d bytes)", min)) {
			t.Errorf("Build(1 MiB, %d) = %v, want it to name the minimum %d bytes", ss, err, min)
		}
		if _, err := Build(fsimage.Volume{Size: min - int64(ss), SectorSize: ss}); err == nil {
			t.Errorf("Build(minimum - 1 sector, %d) = nil error, want too small", ss)
		}
		t.Run(fmt.Sprintf("minimum is a clean FAT16, %d", ss), func(t *testing.T) {
			testreq.Tools(t, "fsck.fat", "mcopy")
			src := t.TempDir()
			vol := fsimage.Volume{Size: min, SectorSize: ss, Entries: makeTree(t, src, []treeFile{{"a.txt", 5}}), Now: testNow}
			_, part, _ := checkImage(t, vol, src)
			checkBootSector(t, part, 0, ss, 16)
		})
	}
}

func TestBadVolume(t *testing.T) {
	for _, tc := range []struct {
		name string
		vol  fsimage.Volume
		want string
	}{
		{"sector size", fsimage.Volume{Size: 64 << 20, SectorSize: 520}, "sector size"},
		{"offset", fsimage.Volume{Size: 64 << 20, SectorSize: 512, Offset: 100}, "offset"},
		{"cluster not power of two", fsimage.Volume{Size: 64 << 20, SectorSize: 512, ClusterSize: 3000}, "cluster size"},
		{"cluster 128K", fsimage.Volume{Size: 1 << 30, SectorSize: 4096, ClusterSize: 128 << 10}, "cluster size"},
		{"cluster below sector", fsimage.Volume{Size: 1 << 30, SectorSize: 4096, ClusterSize: 1024}, "cluster size"},
		{"label", fsimage.Volume{Size: 64 << 20, SectorSize: 512, Label: "a.b"}, "label"},
		{"too big for 512", fsimage.Volume{Size: 3 << 40, SectorSize: 512}, "use exfat"},
		{"orphan", fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: []*fsimage.Entry{fileE("x/y", 1)}}, "parent"},
		{"duplicate", fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: []*fsimage.Entry{fileE("y", 1), fileE("y", 1)}}, "twice"},
	} {
		if _, err := Build(tc.vol); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%s) = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaultClusterSize(t *testing.T) {
	const mib, gib = 1 << 20, 1 << 30
	for _, tc := range []struct {
		size int64
		ss   int
		want int
	}{
		{8 * mib, 512, 1024},  // FAT16
		{20 * mib, 512, 2048}, // FAT16
		{40 * mib, 512, 512},
		{100 * mib, 512, 1024},
		{200 * mib, 512, 2048},
		{4 * gib, 512, 4096},
		{15 * gib, 512, 8192},
		{30 * gib, 512, 16384},
		{64 * gib, 512, 32768},
		{64 * gib, 4096, 32768},
		{4 * gib, 4096, 4096},
		{300 * mib, 4096, 4096},
		{100 * mib, 4096, 4096}, // FAT16: too few 4 KiB clusters for FAT32
	} {
		if got := DefaultClusterSize(tc.size, tc.ss); got != tc.want {
			t.Errorf("DefaultClusterSize(%d, %d) = %d, want %d", tc.size, tc.ss, got, tc.want)
		}
	}
}

package fat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/google/go-cmp/cmp"
)

// TestNamesOutsideBMP extracts with 7-Zip, which decodes UTF-16 surrogate
// pairs (mtools 4.0.32 shows each half as '_').
func TestNamesOutsideBMP(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy", "7zz")
	src := t.TempDir()
	entries := makeTree(t, src, []treeFile{
		{"😀.txt", 3}, {"dir 😀/x😀y.bin", 8}, {"𝄞 music/𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞 long name with clefs.txt", 5}, {"plain.txt", 1},
	})
	vol := fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: entries, Now: testNow}
	img, _, _ := checkImage(t, vol, src)
	out := t.TempDir()
	if msg, err := run(t, "7zz", "x", "-o"+out, img); err != nil {
		t.Fatalf("7zz x %s: %v\n%s", img, err, msg)
	}
	if d := cmp.Diff(imagetest.TreeDigest(t, src), imagetest.TreeDigest(t, out)); d != "" {
		t.Errorf("7zz x of the image differs from the source (-want +got):\n%s", d)
	}
}

// rootDirEntries returns the 32-byte entries of the FAT32 root directory.
func rootDirEntries(t *testing.T, l *fsimage.Layout) [][]byte {
	t.Helper()
	for _, e := range l.Extents {
		if e.What == "root dir" {
			var ents [][]byte
			for i := 0; i+direntSize <= len(e.Data) && e.Data[i] != 0; i += direntSize {
				ents = append(ents, e.Data[i:i+direntSize])
			}
			return ents
		}
	}
	t.Fatal("no root dir extent")
	return nil
}

// TestNTCaseFlags checks the raw entries of lower case 8.3 names: byte 12
// carries 0x08 (base) and 0x10 (extension), and no long-name entry
// precedes them; mdir shows them in lower case.
func TestNTCaseFlags(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy", "mdir")
	src := t.TempDir()
	entries := makeTree(t, src, []treeFile{
		{"BASE.txt", 1}, {"Mixed.txt", 1}, {"UPPER.TXT", 1}, {"ext.TXT", 1}, {"readme.txt", 1},
	})
	vol := fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: entries, Now: testNow}
	img, _, l := checkImage(t, vol, src)
	want := map[string]string{
		"BASE    TXT": "flags 0x10 lfn false",
		"MIXED   TXT": "flags 0x00 lfn true",
		"UPPER   TXT": "flags 0x00 lfn false",
		"EXT     TXT": "flags 0x08 lfn false",
		"README  TXT": "flags 0x18 lfn false",
	}
	got := make(map[string]string)
	ents := rootDirEntries(t, l)
	for i, e := range ents {
		if e[11] != attrLongName {
			got[string(e[:11])] = fmt.Sprintf("flags %#02x lfn %v", e[12], i > 0 && ents[i-1][11] == attrLongName)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("root dir entries (-want +got):\n%s", d)
	}
	out, err := run(t, "mdir", "-i", img, "::/")
	for _, w := range []string{"BASE     txt", "ext      TXT", "readme   txt", "UPPER    TXT", "  Mixed.txt"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("mdir -i img ::/ = %v\n%s\nwant a line with %q", err, out, w)
		}
	}
}

// TestLargeDirectory puts 5,000 files with long names in one directory,
// which spans many contiguous clusters.
func TestLargeDirectory(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy")
	files := []treeFile{{"big/", 0}}
	for i := 0; i < 5000; i++ {
		files = append(files, treeFile{fmt.Sprintf("big/a long file name number %04d.txt", i), int64(i % 7)})
	}
	src := t.TempDir()
	entries := makeTree(t, src, files)
	vol := fsimage.Volume{Size: 64 << 20, SectorSize: 512, Label: "many", Entries: entries, Now: testNow}
	_, _, l := checkImage(t, vol, src)
	for _, e := range l.Extents {
		if e.What == "dir /big" {
			// 5,000 × (3 long-name entries + 1) × 32 bytes, in 512-byte clusters.
			if want := int64(2+5000*4) * 32; e.Length < want {
				t.Errorf("dir /big extent = %d bytes, want at least %d", e.Length, want)
			}
			return
		}
	}
	t.Errorf("no extent for dir /big")
}

func TestFATTime(t *testing.T) {
	for _, tc := range []struct {
		in                time.Time
		date, time, tenth int
	}{
		{time.Date(2001, 2, 3, 4, 5, 7, 500_000_000, time.UTC), 21<<9 | 2<<5 | 3, 4<<11 | 5<<5 | 3, 150},
		{time.Date(2001, 2, 3, 4, 5, 6, 0, time.FixedZone("X", 3600)), 21<<9 | 2<<5 | 3, 3<<11 | 5<<5 | 3, 0}, // UTC
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0<<9 | 1<<5 | 1, 0, 0},
		{time.Time{}, 0<<9 | 1<<5 | 1, 0, 0},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 127<<9 | 12<<5 | 31, 23<<11 | 59<<5 | 29, 100},
	} {
		d, tm, tenth := fatTime(tc.in)
		if int(d) != tc.date || int(tm) != tc.time || int(tenth) != tc.tenth {
			t.Errorf("fatTime(%v) = %#x, %#x, %d, want %#x, %#x, %d", tc.in, d, tm, tenth, tc.date, tc.time, tc.tenth)
		}
	}
}

// TestTimestamps checks modification times through mcopy -m (TZ=UTC):
// 2-second resolution and clamping to 1980.
func TestTimestamps(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy")
	src := t.TempDir()
	entries := makeTree(t, src, []treeFile{{"new.txt", 1}, {"old.txt", 1}, {"d/", 0}})
	times := map[string]time.Time{
		"new.txt": time.Date(2001, 2, 3, 4, 5, 7, 500_000_000, time.UTC),
		"old.txt": time.Date(1975, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	for _, e := range entries {
		if tm, ok := times[e.Path]; ok {
			e.ModTime = tm
		}
		if e.Path == "d" {
			e.ModTime = time.Time{} // made up: gets vol.Now
		}
	}
	vol := fsimage.Volume{Size: 64 << 20, SectorSize: 512, Entries: entries, Now: testNow}
	_, _, l := checkImage(t, vol, src)
	img := filepath.Join(t.TempDir(), "img")
	imagetest.WriteLayout(t, img, 0, vol.Size, l, false)
	out := extract(t, img, 0)
	for name, want := range map[string]time.Time{
		"new.txt": time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC),
		"old.txt": time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
		"d":       testNow,
	} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || !fi.ModTime().Equal(want) {
			t.Errorf("mtime of extracted %s = %v (%v), want %v", name, fi.ModTime().UTC(), err, want)
		}
	}
}

func TestLabels(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy", "mdir")
	for _, tc := range []struct{ label, want, mdir string }{
		{"", "", "has no label"},
		{"flash-01", "FLASH-01", "is FLASH-01"},
		{"ELEVEN CHRS", "ELEVEN CHRS", "is ELEVEN CHRS"},
	} {
		src := t.TempDir()
		entries := makeTree(t, src, []treeFile{{"a.txt", 1}})
		vol := fsimage.Volume{Size: 64 << 20, SectorSize: 512, Label: tc.label, Entries: entries, Now: testNow}
		img, _, l := checkImage(t, vol, src)
		if l.Label != tc.want {
			t.Errorf("Build(label %q).Label = %q, want %q", tc.label, l.Label, tc.want)
		}
		want := tc.want
		if want == "" {
			want = "NO NAME"
		}
		want = (want + strings.Repeat(" ", 11))[:11]
		if boot := string(l.Extents[0].Data[71:82]); boot != want {
			t.Errorf("boot sector label = %q, want %q", boot, want)
		}
		hasEntry := rootDirEntries(t, l)[0][11] == attrVolumeID
		if hasEntry != (tc.want != "") {
			t.Errorf("label %q: root has a volume-label entry = %v, want %v", tc.label, hasEntry, tc.want != "")
		}
		if out, err := run(t, "mdir", "-i", img, "::/"); err != nil || !strings.Contains(out, "Volume in drive : "+tc.mdir) {
			t.Errorf("mdir -i img ::/ = %v\n%s\nwant %q", err, out, tc.mdir)
		}
	}
}

// TestClusterSizes builds with explicit cluster sizes, including 64 KiB
// (FAT16 on this volume) and the smallest FAT32 volume with 4 KiB sectors.
func TestClusterSizes(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy")
	for _, tc := range []struct {
		size     int64
		ss, cs   int
		wantBits int
	}{
		{100 << 20, 512, 1024, 32},
		{300 << 20, 512, 64 << 10, 16},
		{300 << 20, 4096, 4096, 32},
		{minimumSize(true, 4096, 4096, 0, 0), 4096, 4096, 32},
		{minimumSize(true, 512, 512, 0, 0), 512, 512, 32},
	} {
		t.Run(fmt.Sprintf("%d/%d/%d", tc.size, tc.ss, tc.cs), func(t *testing.T) {
			src := t.TempDir()
			entries := makeTree(t, src, []treeFile{{"one.bin", int64(tc.cs)}, {"two.bin", int64(tc.cs) + 1}, {"d/e/f.txt", 3}})
			vol := fsimage.Volume{Size: tc.size, SectorSize: tc.ss, ClusterSize: tc.cs, Entries: entries, Now: testNow}
			_, part, l := checkImage(t, vol, src)
			checkBootSector(t, part, 0, tc.ss, tc.wantBits)
			// two.bin starts two clusters after one.bin: one cluster each
			// would be wrong; the data runs are sequential.
			if got := l.Files[1].Offset - l.Files[0].Offset; got != int64(tc.cs) {
				t.Errorf("two.bin starts %d bytes after one.bin, want %d", got, tc.cs)
			}
		})
	}
}

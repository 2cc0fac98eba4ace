package fat

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/google/go-cmp/cmp"
)

// checkImage builds vol, writes it (over junk up to 1 GiB) into an image file of
// vol.Offset+vol.Size bytes, and checks it with fsck.fat -n and an mcopy
// round trip against the source tree src. It returns the paths of the
// device image and of a copy of just the filesystem.
func checkImage(t *testing.T, vol fsimage.Volume, src string) (img, part string, l *fsimage.Layout) {
	t.Helper()
	l, err := Build(vol)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	checkLayoutShape(t, vol, l)
	dir := t.TempDir()
	img = filepath.Join(dir, "img")
	// Over junk, except for volumes too big to fill quickly.
	imagetest.WriteLayout(t, img, 0, vol.Offset+vol.Size, l, vol.Size <= 1<<30)
	part = img
	if vol.Offset != 0 {
		// fsck.fat takes no offset: write the filesystem alone as well.
		part = filepath.Join(dir, "part")
		imagetest.WriteLayout(t, part, vol.Offset, vol.Size, l, vol.Size <= 1<<30)
	}
	fsckClean(t, part)
	got := imagetest.TreeDigest(t, extract(t, img, vol.Offset))
	want := imagetest.TreeDigest(t, src)
	want = mtoolsNames(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("mcopy -s of the image differs from the source (-want +got):\n%s", d)
	}
	return img, part, l
}

// mtoolsNames maps each character outside the BMP to "__", as mtools
// 4.0.32 shows each half of a UTF-16 surrogate pair as '_'. Such names are
// checked exactly with 7-Zip in TestNamesOutsideBMP.
func mtoolsNames(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		var b strings.Builder
		for _, r := range k {
			if r > 0xFFFF {
				b.WriteString("__")
			} else {
				b.WriteRune(r)
			}
		}
		out[b.String()] = v
	}
	return out
}

// checkLayoutShape checks the layout's invariants: sorted non-overlapping
// extents inside the volume, one FileData extent and one run per non-empty
// file, at increasing offsets in Entries order.
func checkLayoutShape(t *testing.T, vol fsimage.Volume, l *fsimage.Layout) {
	t.Helper()
	p := &fsimage.Plan{Extents: l.Extents, DeviceSize: vol.Offset + vol.Size}
	if err := p.Check(); err != nil {
		t.Fatalf("Plan.Check() = %v, want nil", err)
	}
	if l.Extents[0].Offset != vol.Offset {
		t.Errorf("first extent at %d, want %d", l.Extents[0].Offset, vol.Offset)
	}
	var files []*fsimage.Entry
	for _, e := range vol.Entries {
		if !e.Dir && e.Size > 0 {
			files = append(files, e)
		}
	}
	if len(l.Files) != len(files) {
		t.Fatalf("len(Files) = %d, want %d", len(l.Files), len(files))
	}
	var prev int64 = -1
	for i, r := range l.Files {
		if r.Entry != files[i] || r.Offset <= prev {
			t.Fatalf("Files[%d] = %s at %d, want %s after %d", i, r.Entry.Path, r.Offset, files[i].Path, prev)
		}
		prev = r.Offset
	}
	n := 0
	for _, e := range l.Extents {
		if e.Kind == fsimage.FileData {
			if e.Length != e.Entry.Size || e.SourceOffset != 0 || e.Offset != l.Files[n].Offset {
				t.Fatalf("extent %s = %d bytes at %d from %d, want the whole file at %d", e.What, e.Length, e.Offset, e.SourceOffset, l.Files[n].Offset)
			}
			n++
		}
	}
}

// bigTree is the main test tree; cluster is the cluster size its
// one-cluster files are sized for.
func bigTree(cluster int64) []treeFile {
	files := []treeFile{
		{"readme.txt", 100},      // lower case 8.3: NT flags, no LFN
		{"README2.TXT", 7},       // upper case 8.3: no LFN
		{"Mixed.Txt", 9},         // mixed case: LFN, alias MIXED.TXT
		{"a/Readme.txt", 1},      // differ only in case, in different dirs
		{"b/README.TXT", 2},      //
		{"longfilename1.txt", 1}, // differ only beyond 8.3
		{"longfilename2.txt", 2},
		{"my archive.tar.gz", 3},
		{".hidden", 4},
		{"ünïcödé ñame.txt", 5},
		{"日本語のファイル名.txt", 6},
		{"😀.txt", 7},
		{"dir 😀/x😀y.bin", 8},
		{"empty.txt", 0},
		{"emptydir/", 0},
		{"e/f/emptydir/", 0},
		{"one-cluster.bin", cluster},
		{"one-cluster-plus-one.bin", cluster + 1},
		{"big.bin", 3*cluster + 17},
		{"UPPER.txt", 1}, {"lower.TXT", 1}, {"ab.c", 1}, {"x", 1}, {"A~1", 1}, {"name with  spaces ", 0},
	}
	files[len(files)-1].Path = "name with  spaces.x" // trailing space is invalid; keep the inner ones
	deep := ""
	for i := 0; i < 20; i++ {
		deep += fmt.Sprintf("level%02d/", i)
	}
	files = append(files, treeFile{deep, 0}, treeFile{deep + "deepest file.txt", 11})
	return files
}

func TestRoundTrip(t *testing.T) {
	testreq.Tools(t, "fsck.fat", "mcopy")
	for _, tc := range []struct {
		name       string
		size       int64
		offset     int64
		sectorSize int
		fatBits    int
	}{
		{"512", 64 << 20, 0, 512, 32},
		{"512 at 1MiB", 300 << 20, 1 << 20, 512, 32},
		{"4096", 300 << 20, 0, 4096, 32},
		{"4096 at 1MiB", 260 << 20, 1 << 20, 4096, 32},
		{"fat16 512", 20 << 20, 0, 512, 16},
		{"fat16 4096 at 1MiB", 64 << 20, 1 << 20, 4096, 16},
		{"64GiB sparse at 1MiB", 64 << 30, 1 << 20, 512, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			cs := int64(DefaultClusterSize(tc.size, tc.sectorSize))
			entries := makeTree(t, src, bigTree(cs))
			vol := fsimage.Volume{Offset: tc.offset, Size: tc.size, SectorSize: tc.sectorSize,
				Label: "My Stick", Serial: 0xDEADBEEF, Entries: entries, Now: testNow}
			img, part, l := checkImage(t, vol, src)
			if l.Label != "MY STICK" {
				t.Errorf("Layout.Label = %q, want %q", l.Label, "MY STICK")
			}
			checkBootSector(t, part, tc.offset/int64(tc.sectorSize), tc.sectorSize, tc.fatBits)
			if tc.fatBits == 32 {
				checkFSInfo(t, l, tc.sectorSize)
			}
			spec := img + "@@" + fmt.Sprint(tc.offset)
			out, err := run(t, "mdir", "-i", spec, "::/")
			if err != nil || !strings.Contains(out, "Volume in drive : is MY STICK") || !strings.Contains(out, "Serial Number is DEAD-BEEF") {
				t.Errorf("mdir -i %s ::/ = %v\n%s\nwant label MY STICK and serial DEAD-BEEF", spec, err, out)
			}
		})
	}
}

// checkBootSector runs fsck.fat -n -v on the filesystem image part and
// checks the FAT width, sector size and hidden sectors it reports.
func checkBootSector(t *testing.T, part string, hidden int64, ss, bits int) {
	t.Helper()
	out, _ := run(t, "fsck.fat", "-n", "-v", part)
	for _, want := range []string{
		fmt.Sprintf("%d bytes per logical sector", ss),
		fmt.Sprintf("2 FATs, %d bit entries", bits),
		fmt.Sprintf("%d hidden sectors", hidden),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("fsck.fat -n -v output lacks %q:\n%s", want, out)
		}
	}
}

// checkFSInfo checks the FAT32 FSInfo sector and its backup against the
// FAT in the layout: the free count and the next-free hint (the first free
// cluster, as the allocation is one run from cluster 2).
func checkFSInfo(t *testing.T, l *fsimage.Layout, ss int) {
	t.Helper()
	boot := l.Extents[0].Data
	le := binary.LittleEndian
	var fat []byte
	var fatLen int64
	for i, e := range l.Extents {
		if e.What == "fat #1" {
			fat = e.Data
			fatLen = e.Length
			if next := l.Extents[i+1]; next.What == "fat #1 free part" {
				fatLen += next.Length
			}
		}
	}
	reserved, fatSz := int64(le.Uint16(boot[14:])), int64(le.Uint32(boot[36:]))
	dataSec := int64(le.Uint32(boot[32:])) - reserved - 2*fatSz
	clusters := dataSec / int64(boot[13])
	if fatLen != fatSz*int64(ss) {
		t.Fatalf("fat #1 extents cover %d bytes, want %d", fatLen, fatSz*int64(ss))
	}
	used, firstFree := int64(0), int64(-1)
	for c := int64(2); c < clusters+2; c++ {
		var v uint32
		if c*4 < int64(len(fat)) {
			v = le.Uint32(fat[c*4:]) & 0x0FFFFFFF
		}
		if v != 0 {
			used++
		} else if firstFree < 0 {
			firstFree = c
		}
	}
	for _, sec := range []int{1, 7} {
		info := boot[sec*ss:]
		if got, want := int64(le.Uint32(info[488:])), clusters-used; got != want {
			t.Errorf("FSInfo (sector %d) free count = %d, want %d", sec, got, want)
		}
		if got := int64(le.Uint32(info[492:])); got != firstFree {
			t.Errorf("FSInfo (sector %d) next free = %d, want %d", sec, got, firstFree)
		}
		if le.Uint32(info[0:]) != 0x41615252 || le.Uint32(info[484:]) != 0x61417272 || le.Uint32(info[508:]) != 0xAA550000 {
			t.Errorf("FSInfo (sector %d) signatures = %x, want RRaA, rrAa, 0xAA550000", sec, info[:4])
		}
	}
}

package imgedit

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/exfat"
	"github.com/flashpipe/flashpipe/fsimage/fat"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/fsimage/relabel"
)

var when = time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)

// mtools runs an mtools command on the volume at byte off of img.
func mtools(t testing.TB, img string, off int64, name string, args ...string) string {
	t.Helper()
	return imagetest.Run(t, "", name, append([]string{"-i", fmt.Sprintf("%s@@%d", img, off)}, args...)...)
}

// edit runs Open and Patch on the image file img for partition n and
// writes the result into img.
func edit(t testing.TB, img string, n int, files []File) (*relabel.Volume, *Result) {
	t.Helper()
	f, size := imagetest.OpenImage(t, img)
	v, err := Open(f, size, n)
	if err != nil {
		t.Fatalf("Open(%s, %d) error = %v", img, n, err)
	}
	res, err := Patch(f, size, v, files)
	if err != nil {
		t.Fatalf("Patch(%s, %v) error = %v", img, v, err)
	}
	var prev int64
	for i, e := range res.Extents {
		if e.Offset < prev || e.Offset%512 != 0 || e.Length%512 != 0 || e.Length == 0 || int64(len(e.Data)) != e.Length ||
			e.Offset < v.Offset || e.End() > v.Offset+v.Size {
			t.Fatalf("Extents[%d] = %s at %d (%d bytes) after %d: want sorted whole sectors inside %v", i, e.What, e.Offset, e.Length, prev, v)
		}
		prev = e.End()
		if _, err := f.WriteAt(e.Data, e.Offset); err != nil {
			t.Fatal(err)
		}
	}
	return v, res
}

func digest(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// piFiles are the files a Raspberry Pi boot partition gets per stick.
func piFiles(seq int) []File {
	big := bytes.Repeat([]byte(fmt.Sprintf("echo stick %d\n", seq)), 3000) // several clusters
	return []File{
		{Path: "ssh", ModTime: when},
		{Path: "userconf.txt", Data: []byte("pi:$6$salt$hash\n"), ModTime: when},
		{Path: "firstrun.sh", Data: big, ModTime: when},
		{Path: "wpa_supplicant.conf", Data: []byte(fmt.Sprintf("network={\n ssid=\"hall-%d\"\n}\n", seq)), ModTime: when},
	}
}

// TestPatchFAT puts files into volumes made by mkfs.fat, which already
// hold files mcopy put there: plain 8.3 names, long names, empty files,
// files of several clusters, a file in an existing folder and in folders
// that are made, a file that replaces one of the same name (in another
// case). fsck.fat finds each volume clean and mtools reads every file
// back, byte for byte, the old ones unchanged.
func TestPatchFAT(t *testing.T) {
	for _, c := range []struct {
		kind string
		mib  int64
	}{{"fat12", 4}, {"fat16", 32}, {"fat32", 64}} {
		t.Run(c.kind, func(t *testing.T) {
			dir := t.TempDir()
			img := imagetest.Mkfs(t, dir, c.kind, c.mib, "BOOT")
			old := map[string][]byte{
				"OLD.TXT":           []byte("the image's own file\n"),
				"config.txt":        []byte("dtparam=audio=on\n"),
				"overlays/a.dtbo":   bytes.Repeat([]byte{0xAB}, 5000),
				"Some Long Name.md": []byte("kept\n"),
			}
			mtools(t, img, 0, "mmd", "::/overlays")
			for p, data := range old {
				src := filepath.Join(dir, "src")
				if err := os.WriteFile(src, data, 0o644); err != nil {
					t.Fatal(err)
				}
				mtools(t, img, 0, "mcopy", src, "::/"+p)
			}
			files := append(piFiles(7),
				File{Path: "old.txt", Data: []byte("replaced\n"), ModTime: when},
				File{Path: "overlays/Stick Serial Number.txt", Data: []byte("0042"), ModTime: when},
				File{Path: "new/deep/x.txt", Data: []byte("made\n"), ModTime: when},
			)
			_, res := edit(t, img, 0, files)
			if want := []string{"old.txt"}; fmt.Sprint(res.Replaced) != fmt.Sprint(want) {
				t.Errorf("Replaced = %v, want %v", res.Replaced, want)
			}
			want := map[string]string{"overlays": "dir", "new": "dir", "new/deep": "dir"}
			for p, data := range old {
				want[p] = digest(data)
			}
			delete(want, "OLD.TXT")
			for _, f := range files {
				want[f.Path] = digest(f.Data)
			}
			st, _ := os.Stat(img)
			got := imagetest.VolumeTree(t, img, "vfat", 0, st.Size())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("files read back with mcopy =\n%v\nwant\n%v", got, want)
			}
			if out := mtools(t, img, 0, "mtype", "::/old.txt"); out != "replaced\n" {
				t.Errorf("mtype ::/old.txt = %q, want %q", out, "replaced\n")
			}
			if out := mtools(t, img, 0, "mdir", "-a", "::/"); !strings.Contains(out, "old      txt") && !strings.Contains(out, "OLD      TXT") {
				t.Errorf("mdir ::/ does not list OLD.TXT:\n%s", out)
			}
		})
	}
}

// TestPatchPiDisk puts a Raspberry Pi's per-stick files into partition 1
// of an MBR disk laid out as Raspberry Pi OS ships, twice (a second stick
// from the same image, then the same image edited again): only
// partition 1 changes, fsck.fat finds it clean, mtools reads the files.
func TestPatchPiDisk(t *testing.T) {
	for _, table := range []string{"mbr", "gpt"} {
		t.Run(table, func(t *testing.T) {
			img := imagetest.PiDisk(t, t.TempDir(), table)
			before, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := edit(t, img, 1, piFiles(1))
			after, _ := os.ReadFile(img)
			for off := int64(0); off < int64(len(before)); off += 512 {
				if !bytes.Equal(before[off:off+512], after[off:off+512]) && (off < v.Offset || off >= v.Offset+v.Size) {
					t.Fatalf("sector at byte %d, outside partition 1 (%d..%d), changed", off, v.Offset, v.Offset+v.Size)
				}
			}
			edit(t, img, 1, piFiles(2)) // every file replaced
			got := imagetest.VolumeTree(t, img, "vfat", v.Offset, v.Size)
			for _, f := range piFiles(2) {
				if got[f.Path] != digest(f.Data) {
					t.Errorf("%s read back has SHA1 %q, want %q", f.Path, got[f.Path], digest(f.Data))
				}
			}
		})
	}
}

// TestPatchBuilder puts files into FAT32 and exFAT volumes flashpipe's
// own builders laid out, with files in the root folder and in a folder:
// the root folder, full to the end of its cluster, grows by a cluster; a
// file is replaced, one goes into the existing folder, folders are made.
// fsck.fat or fsck.exfat find the volume clean; mtools or exfat-fuse
// (mounting the volume read-only on a loop device) read every file back.
func TestPatchBuilder(t *testing.T) {
	build := map[string]func(fsimage.Volume) (*fsimage.Layout, error){"vfat": fat.Build, "exfat": exfat.Build}
	for _, fs := range []string{"vfat", "exfat"} {
		t.Run(fs, func(t *testing.T) {
			if fs == "exfat" {
				imagetest.NeedExFATMount(t)
			}
			var entries []*fsimage.Entry
			add := func(p string, data []byte) {
				entries = append(entries, &fsimage.Entry{Path: p, Size: int64(len(data)), Data: data, Mode: 0o644, ModTime: when,
					SHA1: sha1.Sum(data), Generated: true})
			}
			for i := range 120 { // 120 long names: more than one 4 KiB cluster of entries
				add(fmt.Sprintf("a file with a long name %03d.txt", i), []byte(fmt.Sprintf("file %d\n", i)))
			}
			entries = append(entries, &fsimage.Entry{Path: "docs", Dir: true, Mode: 0o755, ModTime: when, Generated: true})
			add("docs/readme.md", []byte("# docs\n"))
			add("OLD.TXT", bytes.Repeat([]byte("old "), 3000))
			sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
			const size = 64 << 20
			cs := map[string]int{"vfat": 0, "exfat": 4096}[fs] // FAT32's default; exFAT's root folder in one cluster of 128 entries
			lay, err := build[fs](fsimage.Volume{Size: size, SectorSize: 512, ClusterSize: cs, Entries: entries, Label: "FLASHPIPE", Now: when})
			if err != nil {
				t.Fatal(err)
			}
			plan := &fsimage.Plan{Extents: lay.Extents}
			plan.InlineData()
			img := filepath.Join(t.TempDir(), "built.img")
			if err := imagetest.WriteExtents(img, size, plan.Extents); err != nil {
				t.Fatal(err)
			}
			files := append(piFiles(3),
				File{Path: "old.txt", Data: []byte("replaced\n"), ModTime: when},
				File{Path: "docs/Stick Serial Number.txt", Data: []byte("0042"), ModTime: when},
				File{Path: "new/deep/x.txt", Data: []byte("made\n"), ModTime: when})
			for i := range 40 {
				files = append(files, File{Path: fmt.Sprintf("another long name for stick %02d.txt", i), Data: []byte{byte(i)}, ModTime: when})
			}
			_, res := edit(t, img, 0, files)
			if fmt.Sprint(res.Replaced) != "[old.txt]" {
				t.Errorf("Replaced = %v, want [old.txt]", res.Replaced)
			}
			want := map[string]string{"docs": "dir", "new": "dir", "new/deep": "dir"}
			for _, e := range entries {
				if !e.Dir && e.Path != "OLD.TXT" {
					want[e.Path] = digest(e.Data)
				}
			}
			for _, f := range files {
				want[f.Path] = digest(f.Data)
			}
			if got := imagetest.VolumeTree(t, img, fs, 0, size); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("files read back =\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestPatchExFATPartition puts a Raspberry Pi's files into the exFAT
// partition mkfs.exfat made in a disk image, twice (the second time
// replacing each): fsck.exfat finds it clean, exfat-fuse reads them.
func TestPatchExFATPartition(t *testing.T) {
	imagetest.NeedExFATMount(t)
	img := imagetest.PiDisk(t, t.TempDir(), "gpt")
	edit(t, img, 3, piFiles(1))
	v, _ := edit(t, img, 3, append(piFiles(2), File{Path: "config/wifi/wpa_supplicant.conf", Data: []byte("x"), ModTime: when}))
	got := imagetest.VolumeTree(t, img, "exfat", v.Offset, v.Size)
	for _, f := range piFiles(2) {
		if got[f.Path] != digest(f.Data) {
			t.Errorf("%s read back has SHA1 %q, want %q", f.Path, got[f.Path], digest(f.Data))
		}
	}
	if got["config/wifi/wpa_supplicant.conf"] != digest([]byte("x")) {
		t.Errorf("config/wifi/wpa_supplicant.conf read back: %q", got["config/wifi/wpa_supplicant.conf"])
	}
}

// TestPatchErrors: content that does not fit, a full FAT12/16 root
// folder, a file where a folder must be, a folder where the file must be,
// and partitions that hold no FAT are errors that say so, and nothing is
// returned to write.
func TestPatchErrors(t *testing.T) {
	dir := t.TempDir()
	fat12 := imagetest.Mkfs(t, dir, "fat12", 4, "")
	fat16 := imagetest.Mkfs(t, dir, "fat16", 32, "")
	mtools(t, fat12, 0, "mmd", "::/folder")
	cases := []struct {
		img   string
		n     int
		files []File
		want  string
	}{
		{fat12, 0, []File{{Path: "big.bin", Data: make([]byte, 5<<20)}}, "needs 5.2 MB (5242880 bytes)"},
		{fat12, 0, []File{{Path: "folder", Data: []byte("x")}}, "has a folder"},
		{fat12, 0, []File{{Path: "f.txt", Data: []byte("x")}, {Path: "f.txt/g.txt", Data: []byte("x")}}, "has a file"},
		{fat12, 0, []File{{Path: "bad:name.txt"}}, "cannot be a FAT name"},
		{fat16, 0, manyFiles(600), "root folder has no room"},
	}
	for _, c := range cases {
		f, size := imagetest.OpenImage(t, c.img)
		v, err := Open(f, size, c.n)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Patch(f, size, v, c.files)
		if err == nil || !strings.Contains(err.Error(), c.want) || res != nil {
			t.Errorf("Patch(%s, %s ...) = %v, %v; want an error saying %q", filepath.Base(c.img), c.files[len(c.files)-1].Path, res != nil, err, c.want)
		}
	}
	img := imagetest.PiDisk(t, dir, "mbr")
	f, size := imagetest.OpenImage(t, img)
	for n, want := range map[int]string{2: "holds ext4", 4: "no filesystem", 5: "no partition 5"} {
		if _, err := Open(f, size, n); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(partition %d) error = %v, want one saying %q", n, err, want)
		}
	}
}

func manyFiles(n int) []File {
	var out []File
	for i := range n {
		out = append(out, File{Path: fmt.Sprintf("F%d.TXT", i), Data: []byte("x")})
	}
	return out
}

// TestPatchCorrupt flips bytes of the boot sector, the FATs, the
// allocation bitmap and the folders of FAT12, FAT32 and exFAT volumes
// that hold files: Patch returns an error or extents inside the volume,
// never panics.
func TestPatchCorrupt(t *testing.T) {
	for _, kind := range []string{"fat12", "fat32", "exfat"} {
		dir := t.TempDir()
		img := imagetest.Mkfs(t, dir, kind, 34, "")
		var files []File
		for i := range 3 {
			files = append(files, File{Path: fmt.Sprintf("d/a long name %d.txt", i), Data: bytes.Repeat([]byte{byte(i)}, 3000*i)})
		}
		edit(t, img, 0, files)
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		head := min(len(data), 4<<20) // boot sector, FATs, bitmap, folders and the files
		seed := uint32(1)
		for run := range 400 {
			type flipped struct {
				at  int
				old byte
			}
			var undo []flipped
			for range 1 + run%8 {
				seed = seed*1664525 + 1013904223
				at := int(seed>>8) % head
				if run%2 == 0 {
					at %= 4096 // mostly the boot sector and the start of the FAT
				}
				undo = append(undo, flipped{at, data[at]})
				data[at] = byte(seed)
			}
			patchCorrupt(t, kind, run, data)
			for i := len(undo) - 1; i >= 0; i-- { // the clean volume again, for the next run
				data[undo[i].at] = undo[i].old
			}
		}
	}
}

// patchCorrupt runs Open and Patch on a corrupted volume: an error, or
// extents inside it.
func patchCorrupt(t *testing.T, kind string, run int, data []byte) {
	t.Helper()
	r := bytes.NewReader(data)
	v, err := Open(r, int64(len(data)), 0)
	if err != nil {
		return
	}
	res, err := Patch(r, int64(len(data)), v, piFiles(run))
	if err != nil {
		return
	}
	for _, e := range res.Extents {
		if e.Offset < 0 || e.End() > int64(len(data)) {
			t.Fatalf("%s run %d: extent %s at %d (%d bytes) outside the image", kind, run, e.What, e.Offset, e.Length)
		}
	}
}

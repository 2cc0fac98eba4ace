package compile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/units"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func content(t *testing.T) []*fsimage.Entry {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		"README.TXT":             "read me\n",
		"docs/Long File Name.md": strings.Repeat("long ", 3000),
		"docs/sub/empty.txt":     "",
		"pics/a.jpg":             strings.Repeat("\xff\xd8jpeg", 50000),
	}
	for name, data := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	es, err := manifest.Scan([]manifest.Source{{Paths: []string{src}}}, manifest.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Hash(context.Background(), es, nil, nil); err != nil {
		t.Fatal(err)
	}
	return es
}

func TestBuildChecksWithFsck(t *testing.T) {
	testreq.Tool(t, "sfdisk")
	es := content(t)
	cases := []struct {
		table, fs  string
		sectorSize int
	}{
		{"mbr", "vfat", 512}, {"gpt", "vfat", 512}, {"none", "vfat", 512},
		{"gpt", "exfat", 512}, {"mbr", "exfat", 4096}, {"none", "exfat", 512},
		{"gpt", "ext4", 512}, {"mbr", "ext4", 4096},
		{"gpt", "", 512},
	}
	for _, c := range cases {
		t.Run(c.table+"-"+c.fs+"-"+map[int]string{512: "512", 4096: "4k"}[c.sectorSize], func(t *testing.T) {
			spec := Spec{Table: c.table, PartName: "Data", FS: c.fs, Label: "FLASHPIPE", Serial: 0xABCD1234, Entries: es, Now: now, TempDir: t.TempDir()}
			const size = 100 << 20
			plan, err := Build(spec, size, c.sectorSize)
			if err != nil {
				t.Fatalf("Build() error = %v", err)
			}
			if plan.Cleanup != nil {
				defer plan.Cleanup()
			}
			if plan.FS != c.fs || plan.Serial != spec.Serial || plan.DeviceSize != size || plan.SectorSize != c.sectorSize {
				t.Errorf("Build() plan = FS %q serial %x size %d sector %d, want %q %x %d %d", plan.FS, plan.Serial, plan.DeviceSize, plan.SectorSize, c.fs, spec.Serial, size, c.sectorSize)
			}
			if c.fs != "" && plan.Label == "" {
				t.Errorf("Build() plan.Label = %q, want the label as written", plan.Label)
			}
			img := filepath.Join(t.TempDir(), "stick.img")
			if err := imagetest.WriteExtents(img, size, plan.Extents); err != nil {
				t.Fatal(err)
			}
			if c.table != "none" && c.sectorSize == 512 {
				out, err := exec.Command("sfdisk", "-d", img).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "start=        2048") {
					t.Errorf("sfdisk -d = %v\n%s\nwant a partition at sector 2048", err, out)
				}
			}
			if c.fs == "" {
				return
			}
			part := img
			if c.table != "none" {
				part = imagetest.Extract(t, img, plan.Partition.Offset, plan.Partition.Length)
			}
			imagetest.Fsck(t, c.fs, part)
			readBack(t, c.fs, img, part, plan.Partition.Offset, es)
		})
	}
}

func TestErrorsPassThrough(t *testing.T) {
	es := content(t)
	// A 40 MiB file (never read: building vfat and exfat plans reads no data).
	big := append(append([]*fsimage.Entry(nil), es...), &fsimage.Entry{Path: "zz-big.bin", Size: 40 << 20, Source: es[1].Source, ModTime: now})
	for _, fs := range []string{"vfat", "exfat"} {
		_, err := Build(Spec{Table: "mbr", FS: fs, Entries: big, Now: now}, 36<<20, 512)
		var ns *fsimage.NoSpaceError
		if !errors.As(err, &ns) {
			t.Errorf("Build(%s, 40 MiB file, 36 MiB device) error = %v, want *fsimage.NoSpaceError", fs, err)
		}
	}
	bad := append([]*fsimage.Entry(nil), es...)
	bad = append(bad, &fsimage.Entry{Path: "zz:bad?", Size: 1, Source: es[0].Source, ModTime: now})
	for _, fs := range []string{"vfat", "exfat"} {
		_, err := Build(Spec{Table: "gpt", FS: fs, Entries: bad, Now: now}, 64<<20, 512)
		var bn *fsimage.BadNamesError
		if !errors.As(err, &bn) {
			t.Errorf("Build(%s, bad name) error = %v, want *fsimage.BadNamesError", fs, err)
		}
		if _, err := MinDeviceSize(Spec{Table: "gpt", FS: fs, Entries: bad}, 512); !errors.As(err, &bn) {
			t.Errorf("MinDeviceSize(%s, bad name) error = %v, want *fsimage.BadNamesError", fs, err)
		}
	}
	if _, err := Build(Spec{Table: "mbr", FS: "ntfs"}, 64<<20, 512); err == nil {
		t.Errorf("Build(ntfs) error = nil, want unknown filesystem")
	}
}

func TestMinDeviceSize(t *testing.T) {
	testreq.Tool(t, "mke2fs")
	es := content(t)
	for _, c := range []struct{ table, fs string }{{"mbr", "vfat"}, {"gpt", "exfat"}, {"none", "vfat"}, {"gpt", "ext4"}, {"mbr", ""}} {
		spec := Spec{Table: c.table, FS: c.fs, Entries: es, Now: now, TempDir: t.TempDir()}
		min, err := MinDeviceSize(spec, 512)
		if err != nil {
			t.Errorf("MinDeviceSize(%s/%s) error = %v", c.table, c.fs, err)
			continue
		}
		plan, err := Build(spec, min, 512)
		if err != nil {
			t.Errorf("Build(%s/%s, MinDeviceSize() = %d) error = %v, want a plan", c.table, c.fs, min, err)
			continue
		}
		if plan.Cleanup != nil {
			plan.Cleanup()
		}
		if c.fs == "vfat" || c.fs == "exfat" {
			if _, err := Build(spec, min-1<<20, 512); err == nil {
				t.Errorf("Build(%s/%s, MinDeviceSize()-1MiB = %d) error = nil, want too small", c.table, c.fs, min-1<<20)
			}
		}
		t.Logf("MinDeviceSize(%s/%s) = %s", c.table, c.fs, units.Bytes(min))
	}
}

// readBack reads every file back from the image with the filesystem's own
// tools and compares it with its source.
func readBack(t *testing.T, fs, img, part string, offset int64, es []*fsimage.Entry) {
	t.Helper()
	for _, e := range es {
		if e.Dir {
			continue
		}
		var cmd *exec.Cmd
		switch fs {
		case "vfat":
			testreq.Tool(t, "mtype")
			cmd = exec.Command("mtype", "-i", fmt.Sprintf("%s@@%d", img, offset), "::/"+e.Path)
			cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		case "ext4":
			testreq.Tool(t, "debugfs")
			cmd = exec.Command("debugfs", "-R", `cat "/`+e.Path+`"`, part)
		default:
			return // exFAT: fsck only; the exfat package reads back with exfat-fuse
		}
		got, err := cmd.Output()
		want, _ := os.ReadFile(e.Source)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s of %s = %d bytes, %v, want the source's %d bytes", cmd.Args[0], e.Path, len(got), err, len(want))
		}
	}
}

// TestFATPartitionType: the MBR partition type says which FAT the volume
// holds, as blkid reads it from the volume itself: FAT16 LBA (0x0e) on a
// stick small enough for FAT16, FAT32 LBA (0x0c) above. sfdisk -J reads
// the table.
func TestFATPartitionType(t *testing.T) {
	testreq.Tools(t, "sfdisk", "blkid")
	es := content(t)
	for _, c := range []struct {
		size     int64
		wantFAT  string // blkid's VERSION
		wantType string // sfdisk's type
	}{
		{16 << 20, "FAT16", "e"},
		{64 << 20, "FAT32", "c"},
	} {
		t.Run(c.wantFAT, func(t *testing.T) {
			plan, err := Build(Spec{Table: "mbr", FS: "vfat", Entries: es, Now: now}, c.size, 512)
			if err != nil {
				t.Fatalf("Build() error = %v", err)
			}
			img := filepath.Join(t.TempDir(), "stick.img")
			if err := imagetest.WriteExtents(img, c.size, plan.Extents); err != nil {
				t.Fatal(err)
			}
			part := imagetest.Extract(t, img, plan.Partition.Offset, plan.Partition.Length)
			out, err := exec.Command("blkid", "-p", "-o", "value", "-s", "VERSION", part).Output()
			if got := strings.TrimSpace(string(out)); err != nil || got != c.wantFAT {
				t.Fatalf("blkid VERSION of the %d MiB volume = %q, %v; want %s", c.size>>20, got, err, c.wantFAT)
			}
			out, err = exec.Command("sfdisk", "-J", img).Output()
			if err != nil {
				t.Fatalf("sfdisk -J: %v", err)
			}
			var j struct {
				PartitionTable struct {
					Partitions []struct{ Type string } `json:"partitions"`
				} `json:"partitiontable"`
			}
			if err := json.Unmarshal(out, &j); err != nil || len(j.PartitionTable.Partitions) != 1 {
				t.Fatalf("sfdisk -J = %s (%v), want one partition", out, err)
			}
			if got := j.PartitionTable.Partitions[0].Type; got != c.wantType {
				t.Errorf("sfdisk type of the %s partition = %q, want %q", c.wantFAT, got, c.wantType)
			}
		})
	}
}

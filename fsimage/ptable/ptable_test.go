package ptable

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/exfat"
	"github.com/flashpipe/flashpipe/fsimage/ext4"
	"github.com/flashpipe/flashpipe/fsimage/fat"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/units"
)

// writeTable writes the table's extents to a sparse image file and
// returns its path.
func writeTable(t *testing.T, xs []fsimage.Extent, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	plan := &fsimage.Plan{DeviceSize: size, Extents: xs}
	if err := plan.Check(); err != nil {
		t.Fatalf("Plan.Check() = %v, want nil", err)
	}
	if err := imagetest.WriteExtents(p, size, xs); err != nil {
		t.Fatal(err)
	}
	return p
}

// attach returns img itself for 512-byte sectors (sfdisk reads the file),
// else the path of a loop device over img with that logical sector size.
func attach(t *testing.T, img string, sectorSize int) string {
	t.Helper()
	if sectorSize == 512 {
		return img
	}
	return looptest.Attach(t, img, sectorSize)
}

type sfdiskJSON struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
			UUID  string `json:"uuid"`
			Name  string `json:"name"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func sfdisk(t *testing.T, dev string) sfdiskJSON {
	t.Helper()
	out, err := exec.Command("sfdisk", "-J", dev).Output()
	if err != nil {
		t.Fatalf("sfdisk -J %s: %v", dev, err)
	}
	var j sfdiskJSON
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatalf("sfdisk -J output %q: %v", out, err)
	}
	return j
}

// fat32 is a partition type for tests where any will do.
var fat32 = fsimage.PartitionType{MBR: 0x0C, GPT: fsimage.BasicData}

func TestTables(t *testing.T) {
	testreq.Tools(t, "sgdisk", "sfdisk")
	const mib = 1 << 20
	// The types come from the filesystems' descriptors; what sfdisk reads
	// back is written out here, so a wrong id in a descriptor fails too.
	cases := []struct {
		table      string
		fs         *fsimage.Filesystem
		variant    string
		size       int64
		sectorSize int
		wantType   string
	}{
		{"mbr", fat.Filesystem, "fat32", 64 * mib, 512, "c"},
		{"mbr", fat.Filesystem, "fat16", 16 * mib, 512, "e"},
		{"mbr", exfat.Filesystem, "", 64*mib + 12345*512, 512, "7"},
		{"mbr", ext4.Filesystem, "", 40 * mib, 4096, "83"},
		{"gpt", fat.Filesystem, "fat32", 64 * mib, 512, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"},
		{"gpt", fat.Filesystem, "fat16", 64 * mib, 512, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"},
		{"gpt", ext4.Filesystem, "", 64*mib + 777*512, 512, "0FC63DAF-8483-4772-8E79-3D69D8477DE4"},
		{"gpt", exfat.Filesystem, "", 64 * mib, 4096, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"},
		{"gpt", fat.Filesystem, "", 64*mib + 5*4096, 4096, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"},
	}
	for _, c := range cases {
		v, err := c.fs.Variant(c.variant)
		if err != nil {
			t.Fatal(err)
		}
		name := c.table + "-" + c.fs.Name + c.variant + "-" + strings.ReplaceAll(units.Bytes(c.size), " ", "") + "-" + map[int]string{512: "512", 4096: "4k"}[c.sectorSize]
		t.Run(name, func(t *testing.T) {
			part, xs, err := Layout(c.table, c.size, c.sectorSize, v.Type, "FLASH Ω", 0xC0FFEE)
			if err != nil {
				t.Fatalf("Layout() error = %v", err)
			}
			if part.Offset != mib || part.Offset%mib != 0 || (part.Offset+part.Length)%mib != 0 {
				t.Errorf("Layout() partition = %+v, want 1 MiB aligned start and end", part)
			}
			img := writeTable(t, xs, c.size)
			dev := attach(t, img, c.sectorSize)
			j := sfdisk(t, dev).PartitionTable
			if want := map[string]string{"mbr": "dos", "gpt": "gpt"}[c.table]; j.Label != want {
				t.Errorf("sfdisk label = %q, want %q", j.Label, want)
			}
			if j.SectorSize != c.sectorSize {
				t.Errorf("sfdisk sectorsize = %d, want %d", j.SectorSize, c.sectorSize)
			}
			if len(j.Partitions) != 1 {
				t.Fatalf("sfdisk partitions = %+v, want 1", j.Partitions)
			}
			p := j.Partitions[0]
			ss := int64(c.sectorSize)
			if p.Start*ss != part.Offset || p.Size*ss != part.Length {
				t.Errorf("sfdisk partition = start %d size %d sectors, want %d, %d", p.Start, p.Size, part.Offset/ss, part.Length/ss)
			}
			if !strings.EqualFold(p.Type, c.wantType) {
				t.Errorf("sfdisk type = %q, want %q", p.Type, c.wantType)
			}
			if c.table == "gpt" {
				if p.Name != "FLASH Ω" {
					t.Errorf("sfdisk name = %q, want %q", p.Name, "FLASH Ω")
				}
				if p.UUID != PartitionGUID(0xC0FFEE) || j.ID != DiskGUID(0xC0FFEE) {
					t.Errorf("sfdisk GUIDs = disk %s part %s, want %s, %s", j.ID, p.UUID, DiskGUID(0xC0FFEE), PartitionGUID(0xC0FFEE))
				}
				out, err := exec.Command("sgdisk", "-v", dev).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "No problems found") {
					t.Errorf("sgdisk -v = %v\n%s\nwant no problems", err, out)
				}
			} else if j.ID != "0x00c0ffee" {
				t.Errorf("sfdisk id = %q, want 0x00c0ffee", j.ID)
			}
			if dev, _ := DeviceSize(c.table, c.sectorSize, part.Length); dev > c.size {
				t.Errorf("DeviceSize(%s, %d, %d) = %d, want ≤ %d", c.table, c.sectorSize, part.Length, dev, c.size)
			}
		})
	}
}

func TestDeviceSizeIsTight(t *testing.T) {
	for _, table := range []string{"mbr", "gpt", "none"} {
		for _, ss := range []int{512, 4096} {
			want := int64(37 << 20)
			dev, err := DeviceSize(table, ss, want)
			if err != nil {
				t.Fatal(err)
			}
			part, _, err := Layout(table, dev, ss, fat32, "", 1)
			if err != nil || part.Length < want {
				t.Errorf("Layout(%s, DeviceSize()=%d, %d) = %+v, %v, want partition ≥ %d", table, dev, ss, part, err, want)
			}
			if part, _, err := Layout(table, dev-int64(ss), ss, fat32, "", 1); err == nil && part.Length >= want {
				t.Errorf("Layout(%s, %d, %d) partition = %d, want < %d (DeviceSize not minimal)", table, dev-int64(ss), ss, part.Length, want)
			}
		}
	}
}

func TestNone(t *testing.T) {
	part, xs, err := Layout("none", 1000*512, 512, fat32, "", 1)
	if err != nil || part != (fsimage.Region{Offset: 0, Length: 1000 * 512}) || len(xs) != 0 {
		t.Errorf("Layout(none) = %+v, %d extents, %v, want whole device, none, nil", part, len(xs), err)
	}
}

func TestErrors(t *testing.T) {
	var nospace *fsimage.NoSpaceError
	if _, _, err := Layout("gpt", 1<<20, 512, fat32, "", 1); !errors.As(err, &nospace) {
		t.Errorf("Layout(gpt, 1 MiB) error = %v, want NoSpaceError", err)
	}
	if _, _, err := Layout("mbr", 64<<20, 1024, fat32, "", 1); err == nil {
		t.Errorf("Layout(sector 1024) error = nil, want error")
	}
	if _, _, err := Layout("gpt", 64<<20, 512, fat32, strings.Repeat("x", 37), 1); err == nil {
		t.Errorf("Layout(37-char name) error = nil, want error")
	}
	if _, _, err := Layout("apm", 64<<20, 512, fat32, "", 1); err == nil {
		t.Errorf("Layout(apm) error = nil, want error")
	}
}

// TestTypes: a type that would mark the entry unused, or a GUID that does
// not parse, is an error, not a table.
func TestTypes(t *testing.T) {
	for _, typ := range []fsimage.PartitionType{
		{MBR: 0, GPT: fsimage.BasicData},
		{MBR: 0xEE, GPT: fsimage.BasicData},
	} {
		if _, _, err := Layout("mbr", 64<<20, 512, typ, "", 1); err == nil {
			t.Errorf("Layout(mbr, type 0x%02X) error = nil, want an error", typ.MBR)
		}
	}
	for _, guid := range []string{"", "EBD0A0A2-B9E5-4433-87C0", "EBD0A0A2-B9E5-4433-87C0-68B6B72699CX", "00000000-0000-0000-0000-000000000000"} {
		if _, _, err := Layout("gpt", 64<<20, 512, fsimage.PartitionType{MBR: 0x0C, GPT: guid}, "", 1); err == nil {
			t.Errorf("Layout(gpt, type %q) error = nil, want an error", guid)
		}
	}
	g, err := ParseGUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7")
	if got := GUIDString(g); err != nil || got != fsimage.BasicData {
		t.Errorf("GUIDString(ParseGUID(lower case)) = %q, %v, want %s", got, err, fsimage.BasicData)
	}
}

// Package compile composes a complete write plan for one device: the
// partition table from fsimage/ptable and the filesystem from fsimage/fat,
// fsimage/exfat or fsimage/ext4, merged into one sorted, checked list of
// extents.
package compile

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/exfat"
	"github.com/flashpipe/flashpipe/fsimage/ext4"
	"github.com/flashpipe/flashpipe/fsimage/fat"
	"github.com/flashpipe/flashpipe/fsimage/ptable"
)

// Filesystems returns every filesystem flashpipe can put on a stick, in
// the order docs and messages list them: the one explicit list. mkfs's
// type, the label checks, --fs, validate and the docs tests all read it.
// To add a filesystem, see docs/architecture.md ("Adding a filesystem").
func Filesystems() []*fsimage.Filesystem {
	return []*fsimage.Filesystem{fat.Filesystem, exfat.Filesystem, ext4.Filesystem}
}

// Names returns the names of Filesystems, in order.
func Names() []string {
	var names []string
	for _, f := range Filesystems() {
		names = append(names, f.Name)
	}
	return names
}

// Lookup returns the filesystem called name, or an error listing the
// valid names.
func Lookup(name string) (*fsimage.Filesystem, error) {
	for _, f := range Filesystems() {
		if f.Name == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("unknown filesystem %q: want %s", name, strings.Join(Names(), ", "))
}

// tableOnly is the partition type of a table without a filesystem (no
// mkfs step): vfat's, what such a partition is most often formatted with.
var tableOnly = fat.Filesystem.Variants[0].Type

// Spec is what to put on a device, independent of its size.
type Spec struct {
	Table    string // "mbr" | "gpt" | "none"
	PartName string // GPT partition name

	FS          string // a Filesystems name ("vfat"), or "" (partition table only)
	ClusterSize int    // bytes; 0 picks the filesystem's default
	Label       string
	Serial      uint32 // volume serial; also seeds the MBR disk id and GPT GUIDs

	Entries []*fsimage.Entry // the manifest, sorted by Path
	Now     time.Time        // time for metadata no entry dates

	// TempDir is where ext4 images are built ("" = os.TempDir()).
	TempDir string
}

// Build returns the checked plan for spec on a device of deviceSize bytes
// with sectorSize-byte logical sectors. For vfat and exfat it reads no file
// data and is cheap; for ext4 it builds the filesystem image (see
// fsimage/ext4), and the caller must call Plan.Cleanup when done.
//
// *fsimage.NoSpaceError and *fsimage.BadNamesError from the builders are
// returned as they are.
func Build(spec Spec, deviceSize int64, sectorSize int) (*fsimage.Plan, error) {
	fs, typ, err := partitionType(spec.FS)
	if err != nil {
		return nil, err
	}
	part, xs, err := ptable.Layout(spec.Table, deviceSize, sectorSize, typ, spec.PartName, spec.Serial)
	if err != nil {
		return nil, err
	}
	plan := &fsimage.Plan{DeviceSize: deviceSize, SectorSize: sectorSize, Partition: part, FS: spec.FS, Serial: spec.Serial}
	layout := &fsimage.Layout{}
	if fs != nil {
		plan.Mount = fs.Mount
		if layout, err = fs.Build(volume(spec, part, sectorSize)); err != nil {
			return nil, err
		}
		plan.Cleanup = layout.Cleanup
		v, err := fs.Variant(layout.Variant)
		if err == nil && v.Type != typ {
			// The size picked the variant (FAT16 on a small stick): the
			// partition type says which, or some systems will not mount it.
			_, xs, err = ptable.Layout(spec.Table, deviceSize, sectorSize, v.Type, spec.PartName, spec.Serial)
		}
		if err != nil {
			cleanup(plan)
			return nil, err
		}
	}
	plan.Label = layout.Label
	plan.Extents = append(xs, layout.Extents...)
	fsimage.SortExtents(plan.Extents)
	plan.Files = layout.Files
	sort.Slice(plan.Files, func(i, j int) bool { return plan.Files[i].Offset < plan.Files[j].Offset })
	if err := plan.Check(); err != nil {
		cleanup(plan)
		return nil, fmt.Errorf("compile: %s %s plan is inconsistent (a bug): %w", spec.Table, spec.FS, err)
	}
	return plan, nil
}

// partitionType returns the filesystem called name (nil for "", a
// partition table only) and the partition type of its first variant.
func partitionType(name string) (*fsimage.Filesystem, fsimage.PartitionType, error) {
	if name == "" {
		return nil, tableOnly, nil
	}
	fs, err := Lookup(name)
	if err != nil {
		return nil, fsimage.PartitionType{}, fmt.Errorf("%w or none", err)
	}
	v, err := fs.Variant("")
	return fs, v.Type, err
}

// volume is what spec asks a builder to put in the partition part.
func volume(spec Spec, part fsimage.Region, sectorSize int) fsimage.Volume {
	return fsimage.Volume{Offset: part.Offset, Size: part.Length, SectorSize: sectorSize, ClusterSize: spec.ClusterSize,
		Label: spec.Label, Serial: spec.Serial, Entries: spec.Entries, Now: spec.Now, TempDir: spec.TempDir}
}

// cleanup releases what a plan that is not returned refers to.
func cleanup(plan *fsimage.Plan) {
	if plan.Cleanup != nil {
		plan.Cleanup()
	}
}

const mib = 1 << 20

// MinDeviceSize returns the smallest device size (to 1 MiB of filesystem
// size) that holds spec's content with sectorSize-byte sectors: the
// filesystem's MinSize. Errors that do not depend on the size (bad names,
// a bad label) are returned as they are.
func MinDeviceSize(spec Spec, sectorSize int) (int64, error) {
	fs, _, err := partitionType(spec.FS)
	if err != nil {
		return 0, err
	}
	fsSize := int64(mib)
	if fs != nil {
		if fsSize, err = fs.MinSize(volume(spec, fsimage.Region{Offset: mib}, sectorSize)); err != nil {
			return 0, err
		}
	}
	return ptable.DeviceSize(spec.Table, sectorSize, fsSize)
}

// CheckLabel returns an error when label cannot be the volume label of
// the filesystem called fs: the same rules its builder applies, so a label
// validate accepts is one a stick can hold. An unknown fs is mkfs's error
// to report, not the label's: CheckLabel returns nil then.
func CheckLabel(fs, label string) error {
	f, err := Lookup(fs)
	if err != nil {
		return nil
	}
	return f.CheckLabel(label)
}

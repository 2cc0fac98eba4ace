// Package compile composes a complete write plan for one device: the
// partition table from fsimage/ptable and the filesystem from fsimage/fat,
// fsimage/exfat or fsimage/ext4, merged into one sorted, checked list of
// extents.
package compile

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/exfat"
	"github.com/flashpipe/flashpipe/fsimage/ext4"
	"github.com/flashpipe/flashpipe/fsimage/fat"
	"github.com/flashpipe/flashpipe/fsimage/ptable"
)

// Spec is what to put on a device, independent of its size.
type Spec struct {
	Table    string // "mbr" | "gpt" | "none"
	PartName string // GPT partition name

	FS          string // "vfat" | "exfat" | "ext4" | "" (partition table only)
	ClusterSize int    // bytes; 0 picks the filesystem's default (vfat, exfat)
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
	part, xs, err := ptable.Layout(spec.Table, deviceSize, sectorSize, spec.FS, spec.PartName, spec.Serial)
	if err != nil {
		return nil, err
	}
	plan := &fsimage.Plan{DeviceSize: deviceSize, SectorSize: sectorSize, Partition: part, FS: spec.FS, Serial: spec.Serial}
	vol := fsimage.Volume{Offset: part.Offset, Size: part.Length, SectorSize: sectorSize, ClusterSize: spec.ClusterSize,
		Label: spec.Label, Serial: spec.Serial, Entries: spec.Entries, Now: spec.Now}
	var layout *fsimage.Layout
	switch spec.FS {
	case "":
		layout = &fsimage.Layout{}
	case "vfat":
		layout, err = fat.Build(vol)
	case "exfat":
		layout, err = exfat.Build(vol)
	case "ext4":
		layout, plan.Cleanup, err = ext4.Build(vol, ext4.Options{TempDir: spec.TempDir})
	default:
		return nil, fmt.Errorf("unknown filesystem %q: want vfat, exfat, ext4 or none", spec.FS)
	}
	if err != nil {
		return nil, err
	}
	if layout.Type != "" && layout.Type != spec.FS {
		// The size picked the variant (FAT16 on a small stick): the
		// partition type says which, or some systems will not mount it.
		if _, xs, err = ptable.Layout(spec.Table, deviceSize, sectorSize, layout.Type, spec.PartName, spec.Serial); err != nil {
			return nil, err
		}
	}
	plan.Label = layout.Label
	plan.Extents = append(xs, layout.Extents...)
	fsimage.SortExtents(plan.Extents)
	plan.Files = layout.Files
	sort.Slice(plan.Files, func(i, j int) bool { return plan.Files[i].Offset < plan.Files[j].Offset })
	if err := plan.Check(); err != nil {
		if plan.Cleanup != nil {
			plan.Cleanup()
		}
		return nil, fmt.Errorf("compile: %s %s plan is inconsistent (a bug): %w", spec.Table, spec.FS, err)
	}
	return plan, nil
}

// MinDeviceSize returns the smallest device size (to 1 MiB of filesystem
// size) that holds spec's content with sectorSize-byte sectors. Errors that
// do not depend on the size (bad names, a bad label) are returned as they
// are. For vfat and exfat it tries layouts only (metadata, no file data);
// for ext4 it uses ext4.MinSize.
func MinDeviceSize(spec Spec, sectorSize int) (int64, error) {
	var fsSize int64
	var err error
	switch spec.FS {
	case "":
		fsSize = 1 << 20
	case "ext4":
		fsSize, err = ext4.MinSize(spec.Entries, ext4.Options{TempDir: spec.TempDir})
	case "vfat", "exfat":
		fsSize, err = minFSSize(spec, sectorSize)
	default:
		return 0, fmt.Errorf("unknown filesystem %q: want vfat, exfat, ext4 or none", spec.FS)
	}
	if err != nil {
		return 0, err
	}
	return ptable.DeviceSize(spec.Table, sectorSize, fsSize)
}

const mib = 1 << 20

// minFSSize searches, in MiB, for the smallest vfat or exfat volume that
// lays out spec's content.
func minFSSize(spec Spec, sectorSize int) (int64, error) {
	try := func(size int64) error {
		vol := fsimage.Volume{Offset: mib, Size: size, SectorSize: sectorSize, ClusterSize: spec.ClusterSize,
			Label: spec.Label, Serial: spec.Serial, Entries: spec.Entries, Now: spec.Now}
		var err error
		if spec.FS == "vfat" {
			_, err = fat.Build(vol)
		} else {
			_, err = exfat.Build(vol)
		}
		return err
	}
	var content int64
	for _, e := range spec.Entries {
		content += e.Size
	}
	// Grow until it fits. Size-dependent failures (too small for the
	// cluster size, no space) grow; a BadNamesError never goes away.
	lo, hi := int64(0), max(content/mib+1, 1)
	var first error
	for {
		err := try(hi * mib)
		if err == nil {
			break
		}
		var bad *fsimage.BadNamesError
		if errors.As(err, &bad) {
			return 0, err
		}
		if first == nil {
			first = err
		}
		if hi >= 1<<24 { // 16 TiB: nothing fits; report the first reason
			return 0, first
		}
		lo = hi
		var ns *fsimage.NoSpaceError
		if errors.As(err, &ns) && ns.Needed/mib > hi {
			hi = ns.Needed/mib + 1
		} else {
			hi *= 2
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if try(mid*mib) == nil {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi * mib, nil
}

// CheckLabel returns an error when label cannot be the volume label of a
// filesystem of type fs ("vfat", "exfat", "ext4"): the same rules the
// builders apply, so a label validate accepts is one a stick can hold.
func CheckLabel(fs, label string) error {
	var err error
	switch fs {
	case "vfat":
		_, err = fat.CheckLabel(label)
	case "exfat":
		_, err = exfat.CheckLabel(label)
	case "ext4":
		err = ext4.CheckLabel(label)
	}
	return err
}

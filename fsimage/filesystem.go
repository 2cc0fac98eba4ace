package fsimage

import (
	"errors"
	"fmt"
)

// Filesystem is everything flashpipe knows about one filesystem it can put
// on a stick. Each builder package exports its own (fat.Filesystem,
// exfat.Filesystem, ext4.Filesystem), next to the code that lays it out:
// that file is the one place a filesystem lives. fsimage/compile lists
// them (compile.Filesystems), and the step checks, the label checks, the
// partition table, the mounted-tree check, the CLI and the docs tests all
// read them from there. docs/architecture.md ("Adding a filesystem") says
// which tests catch a field that was forgotten.
type Filesystem struct {
	// Name is what mkfs { type = ... } and --fs take: "vfat".
	Name string
	// Summary is a phrase for docs and messages: "FAT32, or FAT16 on
	// sticks too small for FAT32".
	Summary string
	// CheckLabel returns why label cannot be the volume label, or nil. The
	// builder applies the same rules, so a label validate accepts is one a
	// stick can hold.
	CheckLabel func(label string) error
	// MaxFileSize is the largest file the format holds, in bytes, whatever
	// the volume's size. Build refuses a larger file with a
	// *BadNamesError.
	MaxFileSize int64
	// Clusters says which cluster sizes the filesystem takes.
	Clusters ClusterSizes
	// Variants are the forms the filesystem takes on a stick, each with its
	// partition type. The first is what a table gets when Build reports no
	// variant (Layout.Variant ""); a builder that picks one by size (FAT16
	// or FAT32) names it in Layout.Variant.
	Variants []Variant
	// Build lays out vol; the Layout's Cleanup, when set, releases what
	// the extents refer to. It returns *NoSpaceError and *BadNamesError as
	// they are.
	Build func(vol Volume) (*Layout, error)
	// MinSize returns the smallest vol.Size (whole MiB) whose volume holds
	// vol's entries with its sector and cluster size and label; vol.Size
	// is ignored.
	MinSize func(vol Volume) (int64, error)
	// Tools are the host programs Build and MinSize run ("mke2fs"); none
	// when flashpipe lays the filesystem out itself. validate does not run
	// them, so it skips the content-fit check for such a filesystem.
	Tools []string
	// ReadsSources: Build reads the entries' source files (ext4's
	// mke2fs -d). The other builders only lay out extents, so an entry's
	// bytes may be held in memory (Entry.Data) instead of a file.
	ReadsSources bool
	// Mount says how the kernel mounts the filesystem (verify { mount =
	// true }).
	Mount Mount
	// VolumeID is the volume's identifier as blkid reports it (UUID=),
	// derived from the per-stick Volume.Serial: "1A2B-3C4D" for FAT and
	// exFAT, a UUID for ext4. Receipts record it.
	VolumeID func(serial uint32) string
}

// SerialID writes a 32-bit volume serial as FAT and exFAT volumes show it
// ("1A2B-3C4D"): their VolumeID.
func SerialID(serial uint32) string { return fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff) }

// Variant is one form of a filesystem and the partition type that says so.
type Variant struct {
	Name string // Layout.Variant that selects it: "fat16"; "" for a filesystem with one form
	Type PartitionType
}

// PartitionType is the type of the partition that holds a filesystem, in
// each kind of partition table.
type PartitionType struct {
	MBR byte   // MBR partition type: 0x0C (FAT32 LBA)
	GPT string // GPT partition type GUID in its text form: "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
}

// BasicData is the GPT partition type "Microsoft basic data", which FAT
// and exFAT volumes share.
const BasicData = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"

// ClusterSizes says which cluster sizes a filesystem takes.
type ClusterSizes struct {
	// Min and Max bound the cluster size a profile may set (a power of
	// two, at least the logical sector size). Max 0: a profile may not set
	// one.
	Min, Max int
	// Default returns the cluster (or block) size Build picks for a volume
	// of volumeBytes with sectorSize-byte logical sectors.
	Default func(volumeBytes int64, sectorSize int) int
}

// Settable reports whether a profile may choose the cluster size.
func (c ClusterSizes) Settable() bool { return c.Max > 0 }

// Check returns why a profile's cluster size of n bytes is not one the
// filesystem takes, or "".
func (c ClusterSizes) Check(n int64) string {
	switch {
	case !c.Settable():
		return "it takes no cluster size"
	case n < int64(c.Min) || n&(n-1) != 0:
		return fmt.Sprintf("a cluster is a power of two from %s to %s", binarySize(int64(c.Min)), binarySize(int64(c.Max)))
	case n > int64(c.Max):
		return fmt.Sprintf("clusters are at most %s", binarySize(int64(c.Max)))
	}
	return ""
}

// Range returns the cluster sizes a profile may set, for docs and
// messages: "512 B to 64 KiB"; "" when it may set none.
func (c ClusterSizes) Range() string {
	if !c.Settable() {
		return ""
	}
	return binarySize(int64(c.Min)) + " to " + binarySize(int64(c.Max))
}

// Variant returns the variant Build reported in Layout.Variant: "" is the
// first.
func (f *Filesystem) Variant(name string) (Variant, error) {
	if name == "" && len(f.Variants) > 0 {
		return f.Variants[0], nil
	}
	for _, v := range f.Variants {
		if v.Name == name {
			return v, nil
		}
	}
	return Variant{}, fmt.Errorf("%s has no variant %q (a bug in its builder or descriptor)", f.Name, name)
}

// Mount is how the kernel mounts a filesystem.
type Mount struct {
	// Type is the filesystem type mount(2) takes: "vfat".
	Type string
	// Own lists the top-level directories the filesystem makes itself
	// (ext4's "lost+found"), which the mounted tree may hold beyond the
	// content.
	Own []string
}

// binarySize names a limit that is a power of two by definition, in binary
// units as it is defined (see the operator guide's Units): "64 KiB". A
// size that is not a whole number of any unit is given in bytes.
func binarySize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for i < len(units)-1 && n >= 1024 && n%1024 == 0 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%d %s", n, units[i])
}

// SmallestVolume searches, in MiB, for the smallest vol.Size for which
// build lays out vol: the MinSize of a filesystem whose layout is cheap to
// try (it reads no file data). Size-dependent failures (too small for the
// cluster size, no space) grow the size; a *BadNamesError never goes away
// and is returned as it is.
func SmallestVolume(vol Volume, build func(Volume) (*Layout, error)) (int64, error) {
	const mib = 1 << 20
	try := func(size int64) error {
		v := vol
		v.Size = size
		_, err := build(v)
		return err
	}
	_, content := CountFiles(vol.Entries)
	lo, hi := int64(0), max(content/mib+1, 1)
	var first error
	for {
		err := try(hi * mib)
		if err == nil {
			break
		}
		var bad *BadNamesError
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
		var ns *NoSpaceError
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

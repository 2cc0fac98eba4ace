package fat

import "github.com/flashpipe/flashpipe/fsimage"

// Filesystem is what flashpipe knows about vfat (FAT32, and FAT16 on
// volumes too small for FAT32): the one place it is described.
var Filesystem = &fsimage.Filesystem{
	Name:    "vfat",
	Summary: "FAT32, or FAT16 on sticks too small for FAT32",
	CheckLabel: func(label string) error {
		_, err := CheckLabel(label)
		return err
	},
	MaxFileSize: maxFileSize,
	Clusters:    fsimage.ClusterSizes{Min: 512, Max: maxClusterSize, Default: DefaultClusterSize},
	Variants: []fsimage.Variant{
		{Name: "fat32", Type: fsimage.PartitionType{MBR: 0x0C, GPT: fsimage.BasicData}}, // W95 FAT32 (LBA)
		{Name: "fat16", Type: fsimage.PartitionType{MBR: 0x0E, GPT: fsimage.BasicData}}, // W95 FAT16 (LBA)
	},
	Build: Build,
	MinSize: func(vol fsimage.Volume) (int64, error) {
		return fsimage.SmallestVolume(vol, Build)
	},
	Mount:    fsimage.Mount{Type: "vfat"},
	VolumeID: fsimage.SerialID,
}

package exfat

import "github.com/flashpipe/flashpipe/fsimage"

// Filesystem is what flashpipe knows about exFAT: the one place it is
// described.
var Filesystem = &fsimage.Filesystem{
	Name:    "exfat",
	Summary: "exFAT, for files of 4 GiB and more",
	CheckLabel: func(label string) error {
		_, err := CheckLabel(label)
		return err
	},
	MaxFileSize: maxFileSize,
	Clusters:    fsimage.ClusterSizes{Min: 512, Max: maxClusterSize, Default: clusterSize},
	Variants: []fsimage.Variant{
		{Type: fsimage.PartitionType{MBR: 0x07, GPT: fsimage.BasicData}}, // HPFS/NTFS/exFAT
	},
	Build: Build,
	MinSize: func(vol fsimage.Volume) (int64, error) {
		return fsimage.SmallestVolume(vol, Build)
	},
	Mount:    fsimage.Mount{Type: "exfat"},
	VolumeID: fsimage.SerialID,
}

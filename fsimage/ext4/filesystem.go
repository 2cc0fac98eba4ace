package ext4

import "github.com/flashpipe/flashpipe/fsimage"

// Filesystem is what flashpipe knows about ext4: the one place it is
// described. mke2fs makes it (see the package comment).
var Filesystem = &fsimage.Filesystem{
	Name:        "ext4",
	Summary:     "ext4, made by mke2fs, for Linux readers",
	CheckLabel:  CheckLabel,
	MaxFileSize: MaxFileSize,
	// The block size is always BlockSize; a profile may not set one.
	Clusters: fsimage.ClusterSizes{Default: func(int64, int) int { return BlockSize }},
	Variants: []fsimage.Variant{
		{Type: fsimage.PartitionType{MBR: 0x83, GPT: "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}}, // Linux; Linux filesystem data
	},
	Build: func(vol fsimage.Volume) (*fsimage.Layout, error) {
		layout, cleanup, err := Build(vol, Options{TempDir: vol.TempDir})
		if err != nil {
			return nil, err
		}
		layout.Cleanup = cleanup
		return layout, nil
	},
	MinSize: func(vol fsimage.Volume) (int64, error) {
		return MinSize(vol.Entries, Options{TempDir: vol.TempDir})
	},
	Tools: []string{"mke2fs", "dumpe2fs", "debugfs"},
	// mke2fs -d copies the files: they must be files.
	ReadsSources: true,
	Mount:        fsimage.Mount{Type: "ext4", Own: []string{"lost+found"}},
	VolumeID:     deriveUUID,
}

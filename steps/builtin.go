// Package steps holds flashpipe's step kinds: one file per kind, each a
// struct with hcl tags that the pipeline decodes a step block into, plus the
// runtime that carries it out. Builtin lists every kind by hand; there is
// no init() registration.
package steps

import (
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/pipeline"
)

// Builtin returns the registry of every step kind flashpipe knows, with
// the write stage that fuses partition, mkfs, copy and label, and the
// filesystems' volume label rules.
func Builtin() *pipeline.Registry {
	return &pipeline.Registry{
		Kinds: map[string]pipeline.Kind{
			"wipe":      {Role: pipeline.RoleWipe, New: func() pipeline.Step { return &Wipe{} }, Summary: "clear old partition tables and filesystem signatures, or zero or discard the whole stick"},
			"partition": {Role: pipeline.RolePartition, New: func() pipeline.Step { return &Partition{} }, Summary: "write an MBR or GPT partition table, or none (superfloppy)"},
			"mkfs":      {Role: pipeline.RoleFilesystem, New: func() pipeline.Step { return &Mkfs{} }, Summary: "lay out a vfat (FAT32), exfat or ext4 filesystem"},
			"copy":      {Role: pipeline.RoleCopy, New: func() pipeline.Step { return &Copy{} }, Summary: "put content from sources and paths into the filesystem", Multiple: true},
			"label":     {Role: pipeline.RoleLabel, New: func() pipeline.Step { return &Label{} }, Summary: "set a per-stick volume label from an expression"},
			"verify":    {Role: pipeline.RoleVerify, New: func() pipeline.Step { return &Verify{} }, Summary: "read everything back from the stick, bypassing the page cache, and compare SHA1s"},
			"eject":     {Role: pipeline.RoleEject, New: func() pipeline.Step { return &Eject{} }, Summary: "flush the stick's cache, stop it and remove it from the USB bus"},
		},
		Fuse:       func(l *pipeline.WriteSpec) pipeline.Runner { return newWriter(l) },
		LabelRules: compile.CheckLabel,
	}
}

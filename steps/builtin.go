// Package steps holds flashpipe's step kinds: one file per kind, each
// declaring the kind (what the compiler needs to know: its order, whether
// it is fused into the write stage, whether it repeats), a struct with hcl
// tags that the pipeline decodes a step block into, and the runtime that
// carries it out. Builtin lists every kind by hand; there is no init()
// registration.
package steps

import (
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/pipeline"
)

// Builtin returns the registry of every step kind flashpipe knows, with
// the write stage that fuses partition, mkfs, copy and label, and the
// filesystems' volume label rules.
func Builtin() *pipeline.Registry {
	r := &pipeline.Registry{
		Fuse:       func(w *pipeline.WriteSpec) pipeline.Runner { return newWriter(w) },
		LabelRules: compile.CheckLabel,
	}
	r.Add(probeKind, wipeKind, partitionKind, mkfsKind, copyKind, fileKind, labelKind, imageKind, verifyKind, ejectKind)
	return r
}

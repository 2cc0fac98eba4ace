package steps

import (
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// Mkfs decodes a mkfs step; it is fused into the write stage.
//
//	step "mkfs" {
//	  type         = "vfat"    # "vfat" (FAT32), "exfat" or "ext4"
//	  cluster_size = "auto"    # or "32KiB"
//	  label        = "EXPO"    # may use device, job, station, now
//	}
type Mkfs struct {
	Type        string         `hcl:"type"`
	ClusterSize string         `hcl:"cluster_size,optional"`
	Label       hcl.Expression `hcl:"label,optional"`

	clusterBytes int
}

var _ pipeline.Contributor = (*Mkfs)(nil)

// Check validates the filesystem type, the cluster size and the label
// expression.
func (m *Mkfs) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	diags := checkEnum(c, "type", m.Type, "vfat", "exfat", "ext4")
	if m.ClusterSize != "" && m.ClusterSize != "auto" {
		n, err := matchers.ParseSize(m.ClusterSize)
		switch {
		case err != nil:
			diags = append(diags, c.Errorf("cluster_size", "Invalid cluster size", "cluster_size = %q: %s.", m.ClusterSize, err))
		case n < 512 || n > 32<<20 || n&(n-1) != 0:
			diags = append(diags, c.Errorf("cluster_size", "Invalid cluster size",
				"cluster_size = %q: a cluster is a power of two from 512 bytes up (vfat: at most 64KiB; exfat: at most 32MiB), or \"auto\".", m.ClusterSize))
		case m.Type == "vfat" && n > 64<<10:
			diags = append(diags, c.Errorf("cluster_size", "Invalid cluster size", "FAT32 clusters are at most 64KiB; %s is too large. Use exfat for larger clusters.", m.ClusterSize))
		case m.Type == "ext4":
			diags = append(diags, c.Errorf("cluster_size", "Cluster size not supported for ext4", "ext4 takes its block size from mke2fs; remove cluster_size."))
		default:
			m.clusterBytes = int(n)
		}
	}
	if pipeline.IsSet(m.Label) {
		diags = append(diags, c.DeviceExpr(m.Label)...)
	}
	return diags
}

// Contribute sets the layout's filesystem.
func (m *Mkfs) Contribute(l *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	l.FS, l.ClusterSize = m.Type, m.clusterBytes
	if pipeline.IsSet(m.Label) {
		l.Label = m.Label
	}
	return nil
}

// mkfsKind declares the mkfs step: fused into the write stage, it lays out
// the filesystem in the partition the partition step gives it.
var mkfsKind = pipeline.Kind{
	Name:     "mkfs",
	New:      func() pipeline.Step { return &Mkfs{} },
	Summary:  "lay out a vfat (FAT32), exfat or ext4 filesystem",
	Fused:    true,
	Provides: []string{"filesystem", pipeline.RoleWritten},
	Requires: []pipeline.Order{{Roles: []string{"table"}, What: "a partition step",
		Why: `mkfs needs a partition step before it. For a filesystem on the whole stick (superfloppy) write step "partition" { table = "none" }.`}},
	Precedes: []pipeline.Order{writesBeforeVerify},
}

// needsFilesystem is the requirement of the steps that put something into
// the filesystem mkfs lays out.
func needsFilesystem(why string) pipeline.Order {
	return pipeline.Order{Roles: []string{"filesystem"}, What: "a mkfs step", Why: why}
}

// Describe says what the step does, for plan.
func (m *Mkfs) Describe(_ *pipeline.WriteSpec, src func(hcl.Expression) string) string {
	d := "type " + m.Type
	if m.ClusterSize != "" && m.ClusterSize != "auto" {
		d += ", cluster " + m.ClusterSize // as written
	} else {
		d += ", cluster auto"
	}
	if pipeline.IsSet(m.Label) {
		d += ", label " + src(m.Label)
	}
	return d
}

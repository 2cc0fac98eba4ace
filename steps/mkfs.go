package steps

import (
	"fmt"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// Mkfs decodes a mkfs step; it is fused into the write stage.
//
//	step "mkfs" {
//	  type         = "vfat"    # a compile.Filesystems name: "vfat" (FAT32), "exfat", "ext4"
//	  cluster_size = "auto"    # or "32KiB"
//	  label        = "EXPO"    # may use device, job, station, now
//	}
type Mkfs struct {
	Type        string         `hcl:"type"`
	ClusterSize string         `hcl:"cluster_size,optional"`
	Label       hcl.Expression `hcl:"label,optional"`
}

var _ pipeline.Contributor = (*Mkfs)(nil)

// Check validates the filesystem type, the cluster size and the label
// expression, against the filesystems compile.Filesystems lists.
func (m *Mkfs) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	fs, err := compile.Lookup(m.Type)
	switch {
	case err != nil:
		diags = append(diags, m.typeError(c))
	case m.ClusterSize != "" && m.ClusterSize != "auto":
		diags = append(diags, m.checkClusterSize(c, fs)...)
	}
	if pipeline.IsSet(m.Label) {
		diags = append(diags, c.DeviceExpr(m.Label)...)
	}
	return diags
}

// typeError says that type names no filesystem, listing each with its
// summary, and which one a variant's name (fat32) belongs to.
func (m *Mkfs) typeError(c *pipeline.CheckContext) *hcl.Diagnostic {
	var choices []string
	hint := ""
	for _, fs := range compile.Filesystems() {
		choices = append(choices, fmt.Sprintf("%q (%s)", fs.Name, fs.Summary))
		for _, v := range fs.Variants {
			if v.Name != "" && strings.EqualFold(v.Name, m.Type) {
				hint = fmt.Sprintf(" %q is a variant of %q, which the stick's size picks: write type = %q.", v.Name, fs.Name, fs.Name)
			}
		}
	}
	return c.Errorf("type", "Invalid type", "type = %q is not valid. Choose one of: %s.%s", m.Type, strings.Join(choices, "; "), hint)
}

// checkClusterSize checks cluster_size against fs's cluster sizes and
// names the filesystems that take a size fs refuses.
func (m *Mkfs) checkClusterSize(c *pipeline.CheckContext, fs *fsimage.Filesystem) hcl.Diagnostics {
	n, err := matchers.ParseSize(m.ClusterSize)
	if err != nil {
		return hcl.Diagnostics{c.Errorf("cluster_size", "Invalid cluster size", "cluster_size = %q: %s.", m.ClusterSize, err)}
	}
	var others []string
	for _, o := range compile.Filesystems() {
		if o != fs && o.Clusters.Settable() && o.Clusters.Check(n) == "" {
			others = append(others, o.Name)
		}
	}
	hint := ""
	switch len(others) {
	case 0:
	case 1:
		hint = fmt.Sprintf(" %s takes %s clusters.", others[0], m.ClusterSize)
	default:
		hint = fmt.Sprintf(" %s take %s clusters.", strings.Join(others, " and "), m.ClusterSize)
	}
	if !fs.Clusters.Settable() {
		return hcl.Diagnostics{c.Errorf("cluster_size", "Cluster size not supported for "+fs.Name,
			"%s sets its own block size; remove cluster_size.%s", fs.Name, hint)}
	}
	if problem := fs.Clusters.Check(n); problem != "" {
		return hcl.Diagnostics{c.Errorf("cluster_size", "Invalid cluster size",
			"cluster_size = %q: on %s, %s; or write \"auto\".%s", m.ClusterSize, fs.Name, problem, hint)}
	}
	return nil
}

// clusterBytes is cluster_size in bytes, 0 for "auto" (the filesystem's
// default) and for a size that does not parse (Check reports that one).
func (m *Mkfs) clusterBytes() int {
	if m.ClusterSize == "" || m.ClusterSize == "auto" {
		return 0
	}
	n, err := matchers.ParseSize(m.ClusterSize)
	if err != nil {
		return 0
	}
	return int(n)
}

// Contribute sets the write's filesystem.
func (m *Mkfs) Contribute(l *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	l.FS, l.ClusterSize = m.Type, m.clusterBytes()
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
	Summary:  "lay out a filesystem: " + strings.Join(compile.Names(), ", "),
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

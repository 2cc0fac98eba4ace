package steps

import (
	"context"
	"fmt"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imgedit"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// Files into an image's partitions: a file step with partition = N after
// an image step puts its file, evaluated for each stick, into partition N
// of the image (FAT12/16/32 or exFAT). fsimage/imgedit computes the
// sectors that change; they are laid over the image's plan with the
// label's, so one write puts image, label and files on the stick and
// verify compares the files' sectors too.

// fileEditKind is the file step with partition: it edits the image step
// before it instead of joining the write stage.
var fileEditKind = pipeline.Kind{
	Name:   "file",
	New:    func() pipeline.Step { return &File{} },
	Edit:   true,
	Repeat: true,
	Requires: []pipeline.Order{{Roles: []string{"image"}, What: "an image step",
		Why: `partition = N puts the file into partition N of the disk image an image step writes: add step "image" before it, or remove partition to put the file into the filesystem step "mkfs" makes.`}},
	Precedes: []pipeline.Order{writesBeforeVerify},
}

// fileEdits returns fileEditKind for a file step with partition.
func fileEdits(s pipeline.Step) *pipeline.Kind {
	if f, ok := s.(*File); ok && f.Partition != nil {
		return &fileEditKind
	}
	return nil
}

// checkPartition checks the partition number, hands the step to the
// image step before it and, where validate can read the image, checks
// that the partition is there and holds FAT12/16/32 or exFAT.
func (s *File) checkPartition(c *pipeline.CheckContext) hcl.Diagnostics {
	n := *s.Partition
	if n < 0 {
		return hcl.Diagnostics{c.Errorf("partition", "Invalid partition number",
			"partition = %d: partitions are numbered from 1 as Linux numbers them (logical partitions from 5); 0 is the one volume of an image without a partition table.", n)}
	}
	var i *Image
	for _, sb := range c.Profile.Steps[:c.Block.Index] {
		if img, ok := sb.Step.(*Image); ok {
			i = img
		}
	}
	if i == nil {
		return nil // the order check reports the missing image step
	}
	i.files = append(i.files, s)
	if i.checked == nil {
		return nil
	}
	vol, diag := partitionIn(c, i.checked, n, "partition", "Partition cannot take files")
	switch {
	case diag != nil:
		return hcl.Diagnostics{diag}
	case vol == nil || imgedit.CanEdit(vol.FS):
		return nil
	}
	return hcl.Diagnostics{c.Errorf("partition", "Partition cannot take files",
		"partition = %d holds %s; files can be put into %s partitions only. Choose a partition that holds one of them.", n, vol.FS, imgedit.Editable)}
}

// filePlan evaluates the file steps for the job's stick, reads their
// partitions from the cache as the label's patches left them, and
// returns patches with the sectors the files change laid over them. The
// files are the job's Entries (generated), for the receipt. A partition
// that is not there or holds neither FAT nor exFAT, or files that do not
// fit, fail the
// job before anything is written.
func (i *Image) filePlan(ctx context.Context, j *pipeline.Job, src *imageSource, size int64, patches []fsimage.Extent) ([]fsimage.Extent, error) {
	if len(i.files) == 0 {
		return patches, nil
	}
	byPart := map[int][]imgedit.File{}
	var order []int
	jctx := j.EvalContext()
	for _, f := range i.files {
		g, err := EvalFile(f.spec, pipeline.WithFiles(jctx, f.spec.Dir), j.Now)
		if err != nil {
			return nil, fmt.Errorf("%s: nothing written: %w", j.Target, err)
		}
		n := *f.Partition
		if byPart[n] == nil {
			order = append(order, n)
		}
		byPart[n] = append(byPart[n], imgedit.File{Path: g.Path, Data: g.Data, ModTime: g.ModTime})
		e, _ := writeGenerated("", 0, g)
		j.Entries = append(j.Entries, e)
	}
	for _, n := range order {
		if j.Progress != nil && src.im.Ready() < size {
			j.Progress(pipeline.StageProgress{Stage: "decompress", Note: fmt.Sprintf("waiting for the image to be decompressed as far as partition %d's folders", n)})
		}
		r := imgedit.Layered(&ctxReader{ctx: ctx, src: src}, patches)
		vol, err := imgedit.Open(r, size, n)
		if err != nil {
			return nil, fmt.Errorf("%s: nothing written: partition = %d: %w", j.Target, n, err)
		}
		res, err := imgedit.Patch(r, size, vol, byPart[n])
		if err != nil {
			return nil, fmt.Errorf("%s: nothing written: %w", j.Target, err)
		}
		if patches, err = fsimage.Overlay(patches, res.Extents); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
	}
	return patches, nil
}

package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imgedit"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// Files into an image's partitions: a file step with partition = N after
// an image step puts its file, evaluated for each stick, into partition N
// of the image (FAT12/16/32 or exFAT); a copy step with partition = N its
// content, scanned and hashed as for a filesystem flashpipe lays out. fsimage/imgedit computes the
// sectors that change; they are laid over the image's plan with the
// label's, so one write puts image, label and files on the stick and
// verify compares the files' sectors too.

// editKind is the kind of a file or copy step with partition: it edits
// the image step before it instead of joining the write stage.
func editKind(name, what string, newStep func() pipeline.Step) pipeline.Kind {
	return pipeline.Kind{
		Name:   name,
		New:    newStep,
		Edit:   true,
		Repeat: true,
		Requires: []pipeline.Order{{Roles: []string{"image"}, What: "an image step",
			Why: fmt.Sprintf(`partition = N puts %s into partition N of the disk image an image step writes: add step "image" before it, or remove partition to put %[1]s into the filesystem step "mkfs" makes.`, what)}},
		Precedes: []pipeline.Order{writesBeforeVerify},
	}
}

var (
	fileEditKind = editKind("file", "the file", func() pipeline.Step { return &File{} })
	copyEditKind = editKind("copy", "the content", func() pipeline.Step { return &Copy{} })
)

// fileEdits returns fileEditKind for a file step with partition.
func fileEdits(s pipeline.Step) *pipeline.Kind {
	if f, ok := s.(*File); ok && f.Partition != nil {
		return &fileEditKind
	}
	return nil
}

// copyEdits returns copyEditKind for a copy step with partition.
func copyEdits(s pipeline.Step) *pipeline.Kind {
	if f, ok := s.(*Copy); ok && f.Partition != nil {
		return &copyEditKind
	}
	return nil
}

// imagePartition checks partition number n of a file or copy step,
// returns the image step before it (nil when there is none: the order
// check reports that) and, where validate can read the image, checks
// that the partition is there and holds FAT12/16/32 or exFAT.
func imagePartition(c *pipeline.CheckContext, n int) (*Image, hcl.Diagnostics) {
	if n < 0 {
		return nil, hcl.Diagnostics{c.Errorf("partition", "Invalid partition number",
			"partition = %d: partitions are numbered from 1 as Linux numbers them (logical partitions from 5); 0 is the one volume of an image without a partition table.", n)}
	}
	var i *Image
	for _, sb := range c.Profile.Steps[:c.Block.Index] {
		if img, ok := sb.Step.(*Image); ok {
			i = img
		}
	}
	if i == nil || i.checked == nil {
		return i, nil
	}
	vol, diag := partitionIn(c, i.checked, n, "partition", "Partition cannot take files")
	switch {
	case diag != nil:
		return i, hcl.Diagnostics{diag}
	case vol == nil || imgedit.CanEdit(vol.FS):
		return i, nil
	}
	return i, hcl.Diagnostics{c.Errorf("partition", "Partition cannot take files",
		"partition = %d holds %s; files can be put into %s partitions only. Choose a partition that holds one of them.", n, vol.FS, imgedit.Editable)}
}

// filePlan scans and hashes the copy steps' content (hashes cached for
// the profile's jobs), evaluates the file steps for the job's stick,
// reads their partitions from the cache as the label's patches left them,
// and returns patches with the sectors the content and files change laid
// over them: in each partition the copied content first, then the files.
// Both are the job's Entries (the files marked generated), for the
// receipt. A partition that is not there or holds neither FAT nor exFAT,
// a path that two steps give the same partition, or content that does
// not fit, fail the job before anything is written.
func (i *Image) filePlan(ctx context.Context, j *pipeline.Job, src *imageSource, size int64, patches []fsimage.Extent) ([]fsimage.Extent, error) {
	if len(i.files) == 0 && len(i.copies) == 0 {
		return patches, nil
	}
	byPart, order, err := i.partitionFiles(ctx, j)
	if err != nil {
		return nil, fmt.Errorf("%s: nothing written: %w", j.Target, err)
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

// partitionFiles returns what goes into each partition, the partitions in
// the order the steps name them, and makes it the job's Entries (anew
// when the job plans again).
func (i *Image) partitionFiles(ctx context.Context, j *pipeline.Job) (map[int][]imgedit.File, []int, error) {
	j.Entries = nil
	byPart := map[int][]imgedit.File{}
	var order []int
	seen := map[int]map[string]string{} // folded paths of each partition, and what put them there
	add := func(n int, f imgedit.File, what string) error {
		if byPart[n] == nil {
			order = append(order, n)
			seen[n] = map[string]string{}
		}
		key := strings.ToUpper(f.Path)
		if prev, ok := seen[n][key]; ok && !(f.Dir && prev == "a folder") {
			return fmt.Errorf("partition %d: %s %s: %s already puts %s there", n, what, f.Path, prev, f.Path)
		}
		seen[n][key] = what
		if f.Dir {
			seen[n][key] = "a folder"
		}
		byPart[n] = append(byPart[n], f)
		return nil
	}
	for _, c := range i.copies {
		i.mu.Lock()
		if i.hashes == nil {
			i.hashes = manifest.NewCache()
		}
		i.mu.Unlock()
		entries, err := Content(ctx, &pipeline.WriteSpec{Copies: []*pipeline.CopySpec{c.contributed}}, i.hashes, j.Now, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("copy: %w", err)
		}
		for _, e := range entries {
			f := imgedit.File{Path: e.Path, ModTime: e.ModTime, Dir: e.Dir}
			if !e.Dir && e.Size > 0 {
				f.Source = e
			}
			if err := add(*c.Partition, f, "a copy step"); err != nil {
				return nil, nil, err
			}
		}
		j.Entries = append(j.Entries, entries...)
	}
	jctx := j.EvalContext()
	for _, f := range i.files {
		g, err := EvalFile(f.spec, pipeline.WithFiles(jctx, f.spec.Dir), j.Now)
		if err != nil {
			return nil, nil, err
		}
		if err := add(*f.Partition, imgedit.File{Path: g.Path, Data: g.Data, ModTime: g.ModTime}, "a file step"); err != nil {
			return nil, nil, err
		}
		e, _ := writeGenerated("", 0, g)
		j.Entries = append(j.Entries, e)
	}
	return byPart, order, nil
}

package steps

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/flashpipe/flashpipe/diskimage"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/relabel"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// The image step's per-stick label: one partition of the image (FAT,
// exFAT or ext2/3/4) gets the label, evaluated for each stick, as the
// label step gives one to a filesystem flashpipe lays out. fsimage/relabel
// computes the sectors that change; they are laid over the image's plan,
// so one write puts image and label on the stick and verify compares the
// label's sectors too.

// checkLabelAttrs checks that label and label_partition come together,
// the partition number, and the label expression's references.
func (i *Image) checkLabelAttrs(c *pipeline.CheckContext) hcl.Diagnostics {
	labelled := pipeline.IsSet(i.Label)
	switch {
	case labelled && i.LabelPartition == nil:
		return hcl.Diagnostics{c.Errorf("label", "Missing label_partition",
			"label names no partition of the image: add label_partition, the number of the partition to label as Linux numbers them (1 for sdX1, logical partitions from 5), or 0 for an image without a partition table.")}
	case !labelled && i.LabelPartition != nil:
		return hcl.Diagnostics{c.Errorf("label_partition", "label_partition without label",
			"label_partition says which partition gets the label, but the step sets none: add label, or remove label_partition.")}
	case !labelled:
		return nil
	case *i.LabelPartition < 0:
		return hcl.Diagnostics{c.Errorf("label_partition", "Invalid partition number",
			"label_partition = %d: partitions are numbered from 1 as Linux numbers them (logical partitions from 5); 0 is the one volume of an image without a partition table.", *i.LabelPartition)}
	}
	return c.DeviceExpr(i.Label)
}

// checkLabelRules finds the labelled partition in the image src (nil with
// --skip-content) where validate can read it — in a raw image, or in the
// first 64 KiB of a compressed one — and checks the label against its
// filesystem's rules. Where its filesystem cannot be read yet, the label
// must fit at least one filesystem a partition can be labelled on; the
// station checks the rest before it writes a stick.
func (i *Image) checkLabelRules(c *pipeline.CheckContext, src *diskimage.Source) hcl.Diagnostics {
	if !pipeline.IsSet(i.Label) || i.LabelPartition == nil || *i.LabelPartition < 0 {
		return nil
	}
	if src != nil {
		vol, diag := i.findPartition(c, src)
		if diag != nil {
			return hcl.Diagnostics{diag}
		}
		if vol != nil {
			i.labelFS = string(vol.FS)
			return c.CheckLabel(i.Label, vol.Rules(), compile.CheckLabel)
		}
	}
	return c.CheckLabel(i.Label, strings.Join(relabel.Filesystems, "|"), anyLabelRules)
}

// findPartition looks for the labelled partition in what validate can
// read of src. It returns the partition with its filesystem, nil when that
// cannot be told yet, or the diagnostic for a partition that is not there
// or cannot be labelled.
func (i *Image) findPartition(c *pipeline.CheckContext, src *diskimage.Source) (*relabel.Volume, *hcl.Diagnostic) {
	return partitionIn(c, src, *i.LabelPartition, "label_partition", "Partition cannot be labelled")
}

// partitionIn looks for partition n in what validate can read of src and
// identifies its filesystem: nil when that cannot be told yet, else the
// partition or a diagnostic on the attribute attr (summary cannot, for a
// partition whose filesystem cannot be read).
func partitionIn(c *pipeline.CheckContext, src *diskimage.Source, n int, attr, cannot string) (*relabel.Volume, *hcl.Diagnostic) {
	r, size, done, err := validateReader(src)
	if err != nil {
		return nil, c.Errorf("source", "Image cannot be used", "%s.", err)
	}
	defer done()
	vol, err := relabel.Find(r, size, n)
	if r.past {
		return nil, nil // the table goes on past what validate can read (logical partitions)
	}
	if err != nil {
		return nil, c.Errorf(attr, "No such partition", "%s = %d: %s.", attr, n, err)
	}
	r.strict = true // a boot sector or superblock must lie whole in what validate read
	err = vol.Identify(r, size)
	switch {
	case r.past:
		return nil, nil
	case err != nil:
		return nil, c.Errorf(attr, cannot, "%s = %d: %s. Choose a partition that holds one of them.", attr, n, err)
	}
	return vol, nil
}

// anyLabelRules accepts a label that at least one filesystem a partition
// can be labelled on takes.
func anyLabelRules(_, label string) error {
	var why []string
	for _, fs := range relabel.Filesystems {
		err := compile.CheckLabel(fs, label)
		if err == nil {
			return nil
		}
		why = append(why, err.Error())
	}
	return fmt.Errorf("no filesystem a partition can be labelled on takes it (%s)", strings.Join(why, "; "))
}

// headReader reads an image as validate has it: a raw image's file, or
// the image's first bytes (Source.Head) with zeros past them. past
// records a read whose answer is not the image's: one that starts past
// them or, strict, whose first volumeHead bytes reach past them (a volume
// whose boot sector or superblock validate has not got whole). Detecting
// a filesystem reads 64 KiB for the signatures of others (btrfs, ISO
// 9660): those are not needed to tell FAT, exFAT and ext.
type headReader struct {
	file         *os.File
	head         []byte
	strict, past bool
}

// volumeHead is where a FAT or exFAT boot sector or an ext superblock
// ends, from the start of its volume.
const volumeHead = 2048

func (h *headReader) ReadAt(p []byte, off int64) (int, error) {
	if h.file != nil {
		return h.file.ReadAt(p, off)
	}
	past := off >= int64(len(h.head))
	if h.strict {
		past = off+min(int64(len(p)), volumeHead) > int64(len(h.head))
	}
	h.past = h.past || past
	clear(p)
	if off < int64(len(h.head)) {
		copy(p, h.head[off:])
	}
	return len(p), nil
}

// validateReader returns a reader of src for validate and the image's size
// (a huge one when it is not known before decompression), and what closes
// it.
func validateReader(src *diskimage.Source) (*headReader, int64, func(), error) {
	if src.Format == diskimage.Raw {
		f, _, err := fsimage.OpenRegular(src.Path)
		if err != nil {
			return nil, 0, nil, err
		}
		return &headReader{file: f}, src.Size, func() { f.Close() }, nil
	}
	size := src.Size
	if size < 0 {
		size = 1 << 50
	}
	return &headReader{head: src.Head}, size, func() {}, nil
}

// describeLabel says which partition gets which label, for plan.
func (i *Image) describeLabel(expr func(hcl.Expression) string) string {
	if !pipeline.IsSet(i.Label) || i.LabelPartition == nil {
		return ""
	}
	d := fmt.Sprintf("; label %s on partition %d", expr(i.Label), *i.LabelPartition)
	if *i.LabelPartition == 0 {
		d = fmt.Sprintf("; label %s on the image's volume", expr(i.Label))
	}
	if i.labelFS != "" {
		d += " (" + i.labelFS + ")"
	}
	return d
}

// labelPlan, when the step sets a label, evaluates it for the job's stick,
// reads the labelled partition from the cache (waiting for the few
// sectors it needs to be decompressed) and returns the sectors that
// change, for Prepare to lay over the plan. A partition that is not there or cannot be labelled, or
// a label its filesystem cannot hold, fails the job before anything is
// written.
func (i *Image) labelPlan(ctx context.Context, j *pipeline.Job, src *imageSource, size int64) ([]fsimage.Extent, error) {
	if !pipeline.IsSet(i.Label) {
		return nil, nil
	}
	label, diags := pipeline.EvalString(i.Label, j.EvalContext())
	if diags.HasErrors() {
		return nil, fmt.Errorf("image: label: %s", diags.Error())
	}
	n := *i.LabelPartition
	if j.Progress != nil && src.im.Ready() < size {
		j.Progress(pipeline.StageProgress{Stage: "decompress", Note: fmt.Sprintf("waiting for the image to be decompressed as far as partition %d's label", n)})
	}
	r := &ctxReader{ctx: ctx, src: src}
	vol, err := relabel.Find(r, size, n)
	if err != nil {
		return nil, fmt.Errorf("%s: nothing written: label_partition = %d: %w", j.Target, n, err)
	}
	res, err := relabel.Patch(r, size, vol, label, j.Now)
	if err != nil {
		return nil, fmt.Errorf("%s: nothing written: label %q: %w", j.Target, label, err)
	}
	j.Plan.Label = res.Label
	return res.Extents, nil
}

// ctxReader reads a cached image as it fills, as an io.ReaderAt.
type ctxReader struct {
	ctx context.Context
	src *imageSource
}

func (r *ctxReader) ReadAt(p []byte, off int64) (int, error) {
	return r.src.ReadAtContext(r.ctx, p, off)
}

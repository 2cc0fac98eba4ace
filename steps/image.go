package steps

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/flashpipe/flashpipe/diskimage"
	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/units"
	"github.com/hashicorp/hcl/v2"
)

// imageKind declares the image step: a stage of its own that writes a
// disk image — partition table and partitions come from the image — so it
// takes the place of partition, mkfs, copy and label.
var imageKind = pipeline.Kind{
	Name:     "image",
	New:      func() pipeline.Step { return &Image{} },
	Summary:  "write a disk image (raw, gzip, xz, zstd, bzip2, or in a zip): its mapped blocks only, with a block map",
	Provides: []string{"image", pipeline.RoleWritten},
	Excludes: []pipeline.Order{{Roles: []string{"table", "filesystem", "content"},
		Why: "the image brings its own partition table and partitions. Remove the partition, mkfs and copy steps, or write content with them in a profile of its own. File and copy steps put files into one of the image's FAT or exFAT partitions with partition = N (1 for the Raspberry Pi's boot partition)."},
		{Roles: []string{"label"},
			Why: `the image step labels one of the image's partitions itself: write label and label_partition in step "image" instead.`}},
	Precedes: []pipeline.Order{writesBeforeVerify},
}

// Image decodes an image step. Relative paths are relative to the file
// that declares the step; var.* works.
//
//	step "image" {
//	  source = "images/raspios.img.xz"  # raw (.img, .iso), gzip, xz, zstd, bzip2, or a zip holding one image
//	  entry  = "raspios.img"            # the image of a zip that holds several
//	  bmap   = "auto"                   # a bmaptool block map: "auto" finds one next to the image or in
//	                                    # the zip (none found: the whole image is written); a path; or ""
//	  label           = format("PI-%04d", job.seq) # a per-stick volume label (see imagelabel.go) ...
//	  label_partition = 1                          # ... of this partition (0: an image without a table)
//	}
type Image struct {
	Source         string         `hcl:"source"`
	Entry          string         `hcl:"entry,optional"`
	Bmap           string         `hcl:"bmap,optional"`
	Label          hcl.Expression `hcl:"label,optional"`
	LabelPartition *int           `hcl:"label_partition,optional"`

	path, bmap string            // resolved
	checked    *diskimage.Source // as validate opened it; nil with --skip-content
	labelFS    string            // the labelled partition's filesystem, when validate could read it
	files      []*File           // the file steps that put files into the image's partitions
	copies     []*Copy           // the copy steps that put content into them
	hashes     *manifest.Cache   // SHA1s of that content, shared by the profile's jobs

	mu    sync.Mutex
	cache *diskimage.Cache // shared by the profile's jobs, opened by the first
}

var (
	_ pipeline.Runner     = (*Image)(nil)
	_ pipeline.Preparer   = (*Image)(nil)
	_ pipeline.SizeNeeder = (*Image)(nil)
)

// Check resolves the paths and, unless content checks are skipped, opens
// the image: its format must be known, a zip must say which image, and a
// block map must match the image's size and its own checksum.
func (i *Image) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	i.path = pipeline.ResolvePaths(c.Block.DeclRange.Filename, []string{i.Source})[0]
	i.bmap = i.Bmap
	if i.Bmap != "" && i.Bmap != diskimage.BmapAuto {
		i.bmap = pipeline.ResolvePaths(c.Block.DeclRange.Filename, []string{i.Bmap})[0]
	}
	diags := i.checkLabelAttrs(c)
	if c.SkipContent() {
		return append(diags, i.checkLabelRules(c, nil)...)
	}
	src, err := diskimage.Open(i.path, diskimage.Options{Entry: i.Entry, Bmap: i.bmap})
	if err != nil {
		return append(diags, c.Errorf("source", "Image cannot be used", "%s. A station fails every job of this profile until this is fixed; where the image exists only on the stations, check the files with flashpipe validate --skip-content.", err))
	}
	i.checked = src
	if diags.HasErrors() {
		return diags
	}
	return i.checkLabelRules(c, src)
}

// Describe says what the step writes, for plan: the image's format and
// size, and how much of it the block map maps.
func (i *Image) Describe(_ *pipeline.WriteSpec, expr func(hcl.Expression) string) string {
	src := i.checked
	if src == nil {
		return "source " + i.path + " (not opened: --skip-content)" + i.describeLabel(expr)
	}
	d := fmt.Sprintf("%s, %s", src.Name(), src.Format)
	if src.Format == diskimage.Zip {
		d += " holding " + src.EntryFormat.String()
	}
	if src.Size >= 0 {
		d += ", image " + units.Exact(src.Size)
	} else {
		d += ", image size known once decompressed"
	}
	if src.Bmap != nil {
		d += fmt.Sprintf(", block map %s: %s mapped", src.BmapName, units.Exact(src.Bmap.MappedBytes()))
	} else {
		d += ", no block map: every byte is written"
	}
	return d + i.describeLabel(expr)
}

// MinStickSize returns the image's size as validate read it, or -1 when
// it is not known before decompression (or content was not opened).
func (i *Image) MinStickSize() int64 {
	if i.checked == nil {
		return -1
	}
	return i.checked.Size
}

// Prepare opens the image again (a file changed since the station loaded
// it is noticed), joins or starts its decompression into the station's
// cache, refuses an image larger than the stick before anything is
// written, and lays out the plan: every mapped range of the image, read
// from the cache as it fills.
func (i *Image) Prepare(ctx context.Context, j *pipeline.Job) error {
	src, err := diskimage.Open(i.path, diskimage.Options{Entry: i.Entry, Bmap: i.bmap})
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	cache, err := i.openCache(j.Config.Station.ImageCacheDir())
	if err != nil {
		return err
	}
	im, err := cache.Get(src)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	j.Closers = append(j.Closers, im.Close)
	dev, err := openTarget(j)
	if err != nil {
		return err
	}
	size := src.Size
	if size < 0 {
		if j.Progress != nil {
			j.Progress(pipeline.StageProgress{Stage: "decompress", Note: "waiting for the image to be decompressed to learn its size"})
		}
		if size, err = im.WaitSize(ctx); err != nil {
			return fmt.Errorf("image: %w", err)
		}
	}
	if size > capacity(j, dev.Size) {
		return fmt.Errorf("%s: nothing written: the image %s is %s, the stick only %s", j.Target, src.Name(), units.Exact(size), units.Exact(capacity(j, dev.Size)))
	}
	regions, err := im.Mapped(ctx)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	cached := &imageSource{im: im}
	j.Plan = imagePlan(dev.Size, dev.LogicalSectorSize, regions, cached)
	patches, err := i.labelPlan(ctx, j, cached, size)
	if err != nil {
		return err
	}
	if patches, err = i.filePlan(ctx, j, cached, size, patches); err != nil {
		return err
	}
	if j.Plan.Extents, err = fsimage.Overlay(j.Plan.Extents, patches); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// openCache opens the decompression cache on first use.
func (i *Image) openCache(dir string) (*diskimage.Cache, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache == nil {
		c, err := diskimage.OpenCache(dir)
		if err != nil {
			return nil, fmt.Errorf("image cache: %w", err)
		}
		i.cache = c
	}
	return i.cache, nil
}

// imagePlan writes each mapped region from src: bytes the cache holds as
// holes are read as zeros and written, never skipped, so nothing of the
// stick's past shows through a mapped range.
func imagePlan(devSize int64, sectorSize int, regions []fsimage.Region, src *imageSource) *fsimage.Plan {
	plan := &fsimage.Plan{DeviceSize: devSize, SectorSize: sectorSize}
	for _, r := range regions {
		plan.Extents = append(plan.Extents, fsimage.Extent{Offset: r.Offset, Length: r.Length, Kind: fsimage.ReaderData,
			Reader: src, SourceOffset: r.Offset, What: fmt.Sprintf("image bytes %d-%d", r.Offset, r.Offset+r.Length-1)})
	}
	return plan
}

// imageSource reads a cached image as it fills.
type imageSource struct{ im *diskimage.Image }

// ReadAtContext waits until the bytes are decompressed (and checked
// against the block map), then reads them.
func (s *imageSource) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := s.im.WaitFor(ctx, off+int64(len(p))); err != nil {
		return 0, err
	}
	return s.im.ReadAt(p, off)
}

// Run streams the image's mapped ranges to the stick and reports, for the
// receipt, the image's and the block map's checksums, how much of the
// image was mapped (and written), and how much of the stick lies past the
// image's end (the image step does not write it; a wipe step may have
// cleared signatures there).
func (i *Image) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	var out pipeline.Outcome
	if j.Plan == nil {
		if err := i.Prepare(ctx, j); err != nil {
			return out, err
		}
	}
	src := planSource(j.Plan)
	if src == nil {
		return out, errors.New("image: the plan holds no range of the image (is its block map empty?)")
	}
	dev, err := openTarget(j)
	if err != nil {
		return out, err
	}
	st, err := executor.Write(ctx, dev, j.Plan, executor.Options{Progress: progress(j), MinWriteMBps: j.Profile.MinWriteMBps})
	out.BytesWritten = st.Bytes
	if err != nil {
		return out, err
	}
	meta, err := src.im.Wait(ctx)
	if err != nil {
		return out, fmt.Errorf("image: %w", err)
	}
	out.Details = imageDetails(src.im.Source(), meta, j.Plan, dev.Size)
	out.Note = fmt.Sprintf("image written: %s of %s mapped", units.Bytes(j.Plan.Bytes()), units.Bytes(meta.Size))
	if pipeline.IsSet(i.Label) {
		out.Label, out.Details["label_partition"] = j.Plan.Label, *i.LabelPartition
		out.Note += fmt.Sprintf(", partition %d labelled %q", *i.LabelPartition, j.Plan.Label)
	}
	if out.Files = generatedFiles(j.Entries); len(out.Files) > 0 {
		out.Note += fmt.Sprintf(", %d file(s) generated into its partitions", len(out.Files))
	}
	if shared := Shared(j.Entries); len(shared) > 0 {
		out.ManifestDigest = manifest.Digest(shared)
		n, _ := fsimage.CountFiles(shared)
		out.Note += fmt.Sprintf(", %d file(s) copied into its partitions", n)
	}
	return out, nil
}

// planSource returns the image an image plan reads from (its first extent
// may be a label's sector), or nil when it reads none.
func planSource(p *fsimage.Plan) *imageSource {
	for _, e := range p.Extents {
		if s, ok := e.Reader.(*imageSource); ok {
			return s
		}
	}
	return nil
}

// imageDetails are what a receipt keeps of an image job.
func imageDetails(src *diskimage.Source, meta diskimage.Meta, plan *fsimage.Plan, devSize int64) map[string]any {
	d := map[string]any{
		"image":            src.Name(),
		"format":           src.Format.String(),
		"image_sha256":     meta.SHA256,
		"image_bytes":      meta.Size,
		"file_sha256":      meta.FileSHA256,
		"mapped_bytes":     plan.Bytes(),
		"bytes_past_image": devSize - meta.Size,
	}
	if src.Bmap != nil {
		d["bmap"], d["bmap_sha256"] = src.BmapName, src.Bmap.FileChecksum
	}
	return d
}

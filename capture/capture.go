package capture

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/matchers"
)

// blockSize is the block of the block map, and of every range copied.
const blockSize = bmap.DefaultBlockSize

// Options say what to write and how much of the source to map.
type Options struct {
	// Output is the image file to write; its name gives its format
	// (FormatOf).
	Output string
	// Bmap writes the block map next to the image (bmap.PathFor).
	Bmap bool
	// Full maps every byte of the source, not only what its filesystems
	// use.
	Full bool
	// Force replaces an existing output and block map.
	Force bool
	// Sysfs and Procfs are the live system's (matchers.OSRoots): where a
	// block device's partitions, mounts and holders are read, and which
	// device the output lies on. A block device source needs them.
	Sysfs, Procfs fs.FS
	// Progress, when set, is called as the copy ("read") and the read-back
	// ("verify") go on, with bytes done and in total.
	Progress func(phase string, done, total int64)
}

// Capture is a source opened for capture, its allocation map read: what
// will be copied, before anything is. Write copies it; Close releases it.
type Capture struct {
	// Source is the path of the stick or image file; Block is true for a
	// block device, whose sysfs view is Device.
	Source string
	Block  bool
	Device *matchers.Device
	// Size is the source's size in bytes, and so the image's.
	Size int64
	// Map is the source's allocation map (its partition table and
	// partitions, what is mapped of each and why); nil with Options.Full.
	Map *allocmap.Map
	// Mapped is how many bytes are copied: the map's ranges in whole
	// blocks of the block map.
	Mapped int64
	// Format is the output's format; Output its path, Bmap the block map's
	// ("" without one).
	Format       Format
	Output, Bmap string

	src *source
	m   *bmap.Map
	opt Options
}

// Result is what a capture wrote.
type Result struct {
	// SHA256 is the image's SHA-256 (of its Size bytes, decompressed), as
	// read back from the output.
	SHA256 string
	// FileSize is the output file's size: for a raw image its Size (the
	// holes take no space), for a compressed one the compressed bytes.
	FileSize int64
}

// Open opens source read-only and decides what to copy: it refuses a
// source that is neither a regular file nor a block device, a block device
// something may write while it is read (a read-write mount, swap, a
// holder), an output that exists (without Force), is the source itself or
// lies on the source device; then it reads the allocation map (unless
// Full).
func Open(source string, opt Options) (*Capture, error) {
	f, err := FormatOf(opt.Output)
	if err != nil {
		return nil, err
	}
	src, err := openSource(source, opt.Sysfs, opt.Procfs)
	if err != nil {
		return nil, err
	}
	c := &Capture{Source: source, Block: src.block, Device: src.dev, Size: src.size, Format: f, Output: opt.Output, src: src, opt: opt}
	if opt.Bmap {
		c.Bmap = bmap.PathFor(opt.Output)
	}
	if err := c.plan(); err != nil {
		src.f.Close()
		return nil, err
	}
	return c, nil
}

// plan checks the outputs and maps the source.
func (c *Capture) plan() error {
	if err := c.src.checkOutput(c.Output, c.Bmap, c.opt.Force); err != nil {
		return err
	}
	mapped := []fsimage.Region{{Offset: 0, Length: c.Size}}
	if !c.opt.Full {
		var ss int
		if c.Device != nil {
			ss = c.Device.LogicalSectorSize
		}
		am, err := allocmap.Read(c.src.r, c.Size, allocmap.Options{SectorSize: ss, BlockSize: blockSize})
		if err != nil {
			return fmt.Errorf("reading %s: %w", c.Source, err)
		}
		c.Map, mapped = am, am.Ranges
	}
	name := c.Bmap
	if name == "" {
		name = "the block map of " + c.Output
	}
	m, err := bmap.New(name, c.Size, mapped)
	if err != nil {
		return err
	}
	c.m, c.Mapped = m, m.MappedBytes()
	return nil
}

// Close releases the source.
func (c *Capture) Close() error { return c.src.f.Close() }

// beforeReadBack, when set (by tests), is called with the written image's
// path before it is read back.
var beforeReadBack func(part string)

// Write copies the mapped ranges into OUTPUT.part (and the block map into
// BMAP.part), checks that the source did not change meanwhile, reads the
// written image back and compares it (see readBack), and only then renames
// both into place. On any failure both are removed and nothing at the
// output paths changes.
func (c *Capture) Write(ctx context.Context) (res *Result, err error) {
	part, bpart := c.Output+".part", ""
	if c.Bmap != "" {
		bpart = c.Bmap + ".part"
	}
	defer func() {
		if err != nil {
			os.Remove(part)
			if bpart != "" {
				os.Remove(bpart)
			}
		}
	}()
	n, err := c.writeImage(ctx, part)
	if err != nil {
		return nil, err
	}
	if err := c.src.unchanged(); err != nil {
		return nil, err
	}
	if bpart != "" {
		if err := c.writeBmap(bpart); err != nil {
			return nil, err
		}
	}
	if beforeReadBack != nil {
		beforeReadBack(part)
	}
	sum, err := readBack(ctx, part, c.Output, bpart, c.Format, c.m, c.progress("verify"))
	if err != nil {
		return nil, fmt.Errorf("reading back the image: %w; it is not kept", err)
	}
	if bpart != "" {
		if err := os.Rename(bpart, c.Bmap); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(part, c.Output); err != nil {
		return nil, err
	}
	syncDir(filepath.Dir(c.Output))
	return &Result{SHA256: sum, FileSize: n}, nil
}

// writeImage writes the image into part, syncs it and drops it from the
// page cache, so that the read-back reads the disk.
func (c *Capture) writeImage(ctx context.Context, part string) (int64, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := copyImage(ctx, newReader(c.src.r, c.Source, c.m), c.Format, f, c.progress("read"))
	if err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("writing %s: %w", part, err)
	}
	dropCache(f)
	return n, f.Close()
}

// writeBmap writes the block map, whose checksums the copy filled in.
func (c *Capture) writeBmap(path string) error {
	data, err := c.m.Marshal()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func (c *Capture) progress(phase string) func(done, total int64) {
	if c.opt.Progress == nil {
		return nil
	}
	return func(done, total int64) { c.opt.Progress(phase, done, total) }
}

// syncDir makes a rename in dir durable; errors are ignored (not every
// filesystem syncs directories).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

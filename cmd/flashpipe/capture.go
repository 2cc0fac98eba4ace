package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/flashpipe/flashpipe/capture"
	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/units"
	"github.com/spf13/cobra"
)

func newCaptureCmd() *cobra.Command {
	var opt capture.Options
	cmd := &cobra.Command{
		Use:   "capture SOURCE -o IMAGE [--bmap] [--full] [--force]",
		Short: "Make a disk image of a master stick or an image file, copying only what its filesystems use",
		Long: `capture reads SOURCE — a master stick (/dev/sdX) or an image file — and writes
its disk image to IMAGE, which a station writes with --image or step "image".
The name of IMAGE says its format:

  NAME.img       raw, a sparse file
  NAME.img.zst   zstd: fast and small, the usual choice
  NAME.img.xz    xz: a little smaller, several times slower to write and to read
  NAME.img.gz    gzip: for tools that read nothing else

For FAT12/16/32, exFAT and ext2/3/4 partitions only the blocks the
filesystem uses are copied, with all its metadata; the partition table and
the boot area before the first partition are copied too. Anything else —
another filesystem, one that is damaged or was not cleanly unmounted — is
copied whole, and capture says why. --full copies every byte. What is not
copied is zeros in the image (holes in a raw one).

--bmap writes a bmaptool block map next to the image (NAME.bmap for
NAME.img, NAME.img.bmap for NAME.img.zst), which bmaptool copy and
bmap = "auto" find: then only the copied blocks are written to each stick.

capture only reads SOURCE (O_RDONLY, not exclusively). It refuses a stick
mounted read-write (a read-only mount is fine), in use as swap or by device
mapper, RAID or LVM; an output on the stick itself; and an existing output
without --force. The image is written to IMAGE.part, read back and compared
with what was read — every copied range by its SHA-256, everything else as
zeros — and renamed to IMAGE only when that passes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opt.Output == "" {
				return fmt.Errorf("give the image to write with -o, e.g. -o master.img.zst")
			}
			opt.Sysfs, opt.Procfs = matchers.OSRoots()
			opt.Progress = progressTo(cmd.ErrOrStderr(), 5*time.Second)
			c, err := capture.Open(args[0], opt)
			if err != nil {
				return err
			}
			defer c.Close()
			out := cmd.OutOrStdout()
			describeCapture(out, c)
			res, err := c.Write(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (%s, %s): read back, every copied range equal to what was read from %s and the rest zeros\n",
				c.Output, c.Format, units.Bytes(res.FileSize), c.Source)
			fmt.Fprintf(out, "image SHA-256 %s (%s)\n", res.SHA256, units.Exact(c.Size))
			if c.Bmap != "" {
				fmt.Fprintf(out, "block map %s: %s mapped, checked against the image\n", c.Bmap, units.Bytes(c.Mapped))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opt.Output, "output", "o", "", "image to write: NAME.img, NAME.img.zst, NAME.img.xz or NAME.img.gz")
	fl.BoolVar(&opt.Bmap, "bmap", false, "write a bmaptool block map next to the image")
	fl.BoolVar(&opt.Full, "full", false, "copy every byte, not only what the filesystems use")
	fl.BoolVar(&opt.Force, "force", false, "replace an existing image and block map")
	return cmd
}

// describeCapture prints what capture found on the source: its partition
// table, each partition with its filesystem, size and what is copied of it
// (or why it is copied whole), and the totals.
func describeCapture(w io.Writer, c *capture.Capture) {
	kind := "image file"
	if c.Block {
		kind = "block device " + c.Device.Name
	}
	fmt.Fprintf(w, "source %s (%s, %s), read-only\n", c.Source, kind, units.Exact(c.Size))
	if c.Map == nil {
		fmt.Fprintf(w, "--full: every byte is copied\n")
	} else {
		describeMap(w, c.Map)
	}
	fmt.Fprintf(w, "copy %s of %s (%.1f%%, in 4 KiB blocks) to %s (%s)\n", units.Bytes(c.Mapped), units.Bytes(c.Size),
		float64(c.Mapped)*100/float64(c.Size), c.Output, c.Format)
}

func describeMap(w io.Writer, m *allocmap.Map) {
	fmt.Fprintf(w, "partition table %s, %d-byte sectors", m.Table, m.SectorSize)
	if m.TableNote != "" {
		fmt.Fprintf(w, ": %s", m.TableNote)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tOFFSET\tSIZE\tFILESYSTEM\tCOPIED")
	for _, p := range m.Partitions {
		copied := units.Bytes(p.Mapped) + " (what the filesystem uses)"
		if p.Whole {
			copied = "whole: " + p.Reason
		}
		name := p.What
		if p.Name != "" {
			name += " " + fmt.Sprintf("%q", p.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, units.Bytes(p.Offset), units.Bytes(p.Size), p.FS, copied)
	}
	fmt.Fprintf(tw, "partition table and boot area\t\t\t\t%s\n", units.Bytes(m.System))
	tw.Flush()
}

// progressTo returns a progress callback that prints a line to w at the
// end of each phase and, before it, at most every interval.
func progressTo(w io.Writer, interval time.Duration) func(phase string, done, total int64) {
	var cur string
	var last time.Time
	var ended bool
	return func(phase string, done, total int64) {
		now := time.Now()
		if phase != cur {
			cur, last, ended = phase, now, false
		}
		end := done >= total
		if ended || !end && now.Sub(last) < interval {
			return
		}
		last, ended = now, end
		pct := 100.0
		if total > 0 {
			pct = float64(done) * 100 / float64(total)
		}
		verb := map[string]string{"read": "read from the source", "verify": "read back"}[phase]
		fmt.Fprintf(w, "capture: %s %s of %s (%.0f%%)\n", verb, units.Bytes(done), units.Bytes(total), pct)
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/units"
	"github.com/spf13/cobra"
)

func newBuildCmd() *cobra.Command {
	var lo loadOptions
	var legacy legacyFlags
	var profile, size, output string
	var sector int
	var withBmap bool
	cmd := &cobra.Command{
		Use:   "build [CONFIG... --profile NAME | -c DIR [-x EXT] [--label L] [--fs F] [--table T]] --size SIZE -o IMAGE",
		Short: "Write the image of one stick to a file (no root needed)",
		Long: `build compiles a profile's partition table, filesystem, content and label for a
stick of the given size and writes it to an image file, sparse where the plan
has zeros. The image is exactly what the station would write to a stick.

It prints the number of files of the content (empty ones included) and their
size, and how much it wrote: the partition table, the filesystem metadata,
areas that must read as zeros and the file data, as a stick's receipt counts.

--bmap writes a bmaptool block map next to the image (stick.bmap for
stick.img) that maps what the plan writes — the partition table, the
filesystem metadata, areas that must read as zeros and the file data — so
that bmaptool copy and flash --image --bmap auto write only those.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" || size == "" {
				return fmt.Errorf("give --size (e.g. 8GiB) and -o IMAGE")
			}
			devSize, err := matchers.ParseSize(size)
			if err != nil {
				return fmt.Errorf("--size %q: %w", size, err)
			}
			_, cfg, err := loadChecked(cmd.ErrOrStderr(), &lo, &legacy, args, false)
			if err != nil {
				return err
			}
			p, err := pickProfile(cfg, profile)
			if err != nil {
				return err
			}
			plan, entries, err := planImage(cmd.Context(), cfg, p, output, devSize, sector)
			if err != nil {
				return err
			}
			defer func() {
				if plan.Cleanup != nil {
					_ = plan.Cleanup()
				}
			}()
			bmapPath := ""
			if withBmap {
				if bmapPath, err = bmapFor(output); err != nil {
					return err
				}
			}
			if err := fsimage.WriteImagePlan(cmd.Context(), plan, output, nil); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			if bmapPath != "" {
				if err := writePlanBmap(cmd.Context(), plan, output, bmapPath); err != nil {
					return err
				}
			}
			files, content := fsimage.CountFiles(entries)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s, %s, %d files (%s), label %q; %s written: partition table, filesystem metadata, zeroed areas and file data\n",
				output, size, describeLayout(p.Write), files, units.Bytes(content), plan.Label, units.Bytes(plan.Bytes()))
			if bmapPath != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote block map %s\n", bmapPath)
			}
			return nil
		},
	}
	lo.register(cmd)
	legacy.register(cmd, true)
	cmd.Flags().StringVar(&profile, "profile", "", "profile to build (may be omitted when the files hold one)")
	cmd.Flags().StringVar(&size, "size", "", "size of the stick, e.g. 8GiB or 16GB")
	cmd.Flags().StringVarP(&output, "output", "o", "", "image file to write")
	cmd.Flags().IntVar(&sector, "sector-size", 512, "logical sector size: 512 or 4096")
	cmd.Flags().BoolVar(&withBmap, "bmap", false, "write a bmaptool block map next to the image")
	return cmd
}

// bmapFor returns where the block map of the image output goes, refusing
// when a map bmaptool would take first lies next to it.
func bmapFor(output string) (string, error) {
	if _, err := os.Lstat(output + ".bmap"); err == nil {
		return "", fmt.Errorf("%s exists: bmaptool and bmap = \"auto\" would take it for the image's block map before %s; remove it", output+".bmap", bmap.PathFor(output))
	}
	return bmap.PathFor(output), nil
}

// writePlanBmap writes the block map of the image a plan was written to:
// every extent is mapped, Zero extents too (they must read back as zeros
// on the stick); what no extent covers is don't-care. Its checksums are
// read from the image.
func writePlanBmap(ctx context.Context, plan *fsimage.Plan, image, path string) error {
	regions := make([]fsimage.Region, len(plan.Extents))
	for i, x := range plan.Extents {
		regions[i] = fsimage.Region{Offset: x.Offset, Length: x.Length}
	}
	f, err := os.Open(image)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := bmap.Build(ctx, path, f, plan.DeviceSize, regions)
	if err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".part", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".part", path)
}

func describeLayout(l *pipeline.WriteSpec) string {
	if l == nil {
		return "nothing to write"
	}
	return fmt.Sprintf("%s table, %s", l.Table, l.FS)
}

// planImage compiles a profile's layout for an image file of the given
// size: the same plan the station builds for a stick. It returns the
// content's manifest too.
func planImage(ctx context.Context, cfg *pipeline.Config, p *pipeline.Profile, target string, size int64, sector int) (*fsimage.Plan, []*fsimage.Entry, error) {
	if p.Write == nil {
		return nil, nil, fmt.Errorf("profile %q writes nothing (no partition, mkfs or copy steps)", p.Name)
	}
	now := time.Now()
	j := &pipeline.Job{Seq: 1, Config: cfg, Profile: p, Device: matchers.ImageFile(target, size), Target: target, Now: now}
	entries, err := steps.Content(ctx, p.Write, manifest.NewCache(), now, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(p.Pools) > 0 {
		return nil, nil, fmt.Errorf("profile %q takes rows from pool %s: only a station hands out a pool's rows (flashpipe run), so that none goes to two sticks", p.Name, strings.Join(p.Pools, ", "))
	}
	if entries, err = steps.Generate(p.Write, j, entries); err != nil {
		j.Close()
		return nil, nil, err
	}
	label, err := steps.JobLabel(p.Write, j)
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	plan, err := compile.Build(steps.Spec(p.Write, entries, label, steps.VolumeSerial(j), now), size, sector)
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	plan.InlineData() // generated files' bytes, held in memory
	// The generated files' sources (ext4) live until the plan is cleaned up.
	own := plan.Cleanup
	plan.Cleanup = func() error {
		err := j.Close()
		if own != nil {
			if e := own(); e != nil {
				err = e
			}
		}
		return err
	}
	return plan, entries, err
}

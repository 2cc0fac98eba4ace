package main

import (
	"context"
	"fmt"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/units"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

func newBuildCmd() *cobra.Command {
	var lo loadOptions
	var legacy legacyFlags
	var profile, size, output string
	var sector int
	cmd := &cobra.Command{
		Use:   "build [CONFIG... --profile NAME | -c DIR [-x EXT] [--label L] [--fs F] [--table T]] --size SIZE -o IMAGE",
		Short: "Write the image of one stick to a file (no root needed)",
		Long: `build compiles a profile's partition table, filesystem, content and label for a
stick of the given size and writes it to an image file, sparse where the plan
has zeros. The image is exactly what the station would write to a stick.

It prints the number of files of the content (empty ones included) and their
size, and how much it wrote: the partition table, the filesystem metadata,
areas that must read as zeros and the file data, as a stick's receipt counts.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" || size == "" {
				return fmt.Errorf("give --size (e.g. 8GiB) and -o IMAGE")
			}
			devSize, err := matchers.ParseSize(size)
			if err != nil {
				return fmt.Errorf("--size %q: %w", size, err)
			}
			_, cfg, err := loadChecked(cmd, &lo, &legacy, args, false)
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
			if err := fsimage.WriteImagePlan(cmd.Context(), plan, output, nil); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			files, content := fsimage.CountFiles(entries)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s, %s, %d files (%s), label %q; %s written: partition table, filesystem metadata, zeroed areas and file data\n",
				output, size, describeLayout(p.Write), files, units.Bytes(content), plan.Label, units.Bytes(plan.Bytes()))
			return nil
		},
	}
	lo.register(cmd)
	legacy.register(cmd, true)
	cmd.Flags().StringVar(&profile, "profile", "", "profile to build (may be omitted when the files hold one)")
	cmd.Flags().StringVar(&size, "size", "", "size of the stick, e.g. 8GiB or 16GB")
	cmd.Flags().StringVarP(&output, "output", "o", "", "image file to write")
	cmd.Flags().IntVar(&sector, "sector-size", 512, "logical sector size: 512 or 4096")
	return cmd
}

// pickProfile finds a profile by name, or the only one.
func pickProfile(cfg *pipeline.Config, name string) (*pipeline.Profile, error) {
	if name == "" {
		if len(cfg.Profiles) == 1 {
			return cfg.Profiles[0], nil
		}
		return nil, fmt.Errorf("the files hold %d profiles: choose one with --profile %s", len(cfg.Profiles), profileNames(cfg))
	}
	for _, p := range cfg.Profiles {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no profile %q; profiles: %s", name, profileNames(cfg))
}

func profileNames(cfg *pipeline.Config) string {
	var s string
	for i, p := range cfg.Profiles {
		if i > 0 {
			s += ", "
		}
		s += p.Name
	}
	return s
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
	label, err := steps.JobLabel(p.Write, j)
	if err != nil {
		return nil, nil, err
	}
	plan, err := compile.Build(steps.Spec(p.Write, entries, label, steps.VolumeSerial(j), now), size, sector)
	return plan, entries, err
}

// checkContentFit fails validate when a profile's content cannot be read,
// does not fit the smallest stick its match admits, or fails to lay out at
// all (names the filesystem cannot hold, a 4 GiB file on FAT32). It skips
// a filesystem whose layout runs host programs (ext4's mke2fs): validate
// runs where station files are checked, which need not have them.
func checkContentFit(ctx context.Context, cfg *pipeline.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range cfg.Profiles {
		if p.Write == nil || runsTools(p.Write.FS) {
			continue
		}
		entries, err := steps.Content(ctx, p.Write, manifest.NewCache(), time.Now(), nil)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Content cannot be read",
				Detail: fmt.Sprintf("profile %q: %s. A station fails every job of this profile until this is fixed.", p.Name, err), Subject: p.DeclRange.Ptr()})
			continue
		}
		spec := steps.Spec(p.Write, entries, "", 1, time.Now())
		need, err := compile.MinDeviceSize(spec, 512)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Content cannot be laid out",
				Detail: fmt.Sprintf("profile %q: %s", p.Name, err), Subject: p.DeclRange.Ptr()})
			continue
		}
		if p.Match.MinSize > 0 && need > p.Match.MinSize {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Content does not fit the smallest matching stick",
				Detail: fmt.Sprintf("profile %q matches sticks from %s, but its content needs a stick of at least %s. Raise the match's minimum size or trim the content.",
					p.Name, units.Exact(p.Match.MinSize), units.Exact(need)),
				Subject: p.DeclRange.Ptr()})
		}
	}
	return diags
}

// runsTools reports whether laying out the filesystem called name runs
// host programs (fsimage.Filesystem.Tools).
func runsTools(name string) bool {
	fs, err := compile.Lookup(name)
	return err == nil && len(fs.Tools) > 0
}

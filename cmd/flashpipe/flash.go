package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/spf13/cobra"
)

func newFlashCmd() *cobra.Command {
	var lo loadOptions
	var legacy legacyFlags
	var profile, receiptsPath, logLevel, logFormat, size string
	var override bool
	cmd := &cobra.Command{
		Use:   "flash [CONFIG... --profile NAME | -c DIR [-x EXT] [--label L] [--fs F] [--table T]] TARGET...",
		Short: "Run a profile on explicit targets: block devices or image files",
		Long: `flash runs a profile's steps on the targets given, all at once: block devices
(which must still pass the safety guard, unless --i-know-what-i-am-doing) or
image files (no root needed; a missing image is created with --size). Station
files and targets are told apart by their names: *.hcl files and directories
are configuration, the rest are targets.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfgArgs, targets []string
			for _, a := range args {
				if st, err := os.Stat(a); err == nil && st.IsDir() || strings.HasSuffix(a, ".hcl") {
					cfgArgs = append(cfgArgs, a)
				} else {
					targets = append(targets, a)
				}
			}
			if len(targets) == 0 {
				return fmt.Errorf("give at least one target: a block device such as /dev/sdb, or an image file")
			}
			_, cfg, err := loadChecked(cmd.ErrOrStderr(), &lo, &legacy, cfgArgs, false)
			if err != nil {
				return err
			}
			p, err := pickProfile(cfg, profile)
			if err != nil {
				return err
			}
			if receiptsPath != "" {
				// Everything beside the receipts file (the image cache)
				// goes beside the one given, as with run --receipts.
				cfg.Station.Receipts = receiptsPath
			}
			if err := receipts.CheckAppendable(cmp.Or(receiptsPath, cfg.Station.Receipts)); err != nil {
				return fmt.Errorf("cannot record the targets' receipts: %w (--receipts takes another file)", err)
			}
			log := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			sysfs, procfs := matchers.OSRoots()
			jobs := make([]station.Target, len(targets))
			for i, t := range targets {
				dev, err := flashTarget(t, size, override, cfg.Station.AllowBuses)
				if err != nil {
					return err
				}
				if dev != nil && override {
					log.Warn("safety guard overridden by --i-know-what-i-am-doing", "target", t)
				}
				jobs[i] = station.Target{Profile: p, Path: t, Device: dev}
			}
			st := station.New(station.Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, Receipts: receiptsPath,
				Log: log, Board: status.NewBoard(), Concurrency: len(targets), GuardOverride: override})
			results := st.Flash(cmd.Context(), jobs)
			failed, unverified := 0, 0
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, r := range results {
				switch r.Result {
				case receipts.ResultDone:
				case receipts.ResultUnverified:
					unverified++
				default:
					failed++
				}
				_ = enc.Encode(r)
			}
			if unverified > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "flashpipe: %d of %d target(s) written but not verified: profile %q has no verify step\n", unverified, len(targets), p.Name)
			}
			if failed > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "flashpipe: %d of %d target(s) failed\n", failed, len(targets))
				return exitError{1}
			}
			return nil
		},
	}
	lo.register(cmd)
	legacy.register(cmd, true)
	legacy.registerImage(cmd)
	fl := cmd.Flags()
	fl.StringVar(&profile, "profile", "", "profile to run (may be omitted when the files hold one)")
	fl.StringVar(&receiptsPath, "receipts", "", "receipts file to append to (default: station.receipts, else receipts.jsonl in the current directory)")
	fl.StringVar(&size, "size", "", "create missing image files of this size, e.g. 8GiB")
	fl.BoolVar(&override, "i-know-what-i-am-doing", false, "write block devices the safety guard refuses (logged)")
	fl.StringVar(&logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fl.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

// flashTarget prepares one target: a block device is identified and
// guarded (nil error means it may be written); an image file is created
// when missing and --size is given. It returns nil for image files.
func flashTarget(target, size string, override bool, buses []string) (*matchers.Device, error) {
	st, err := os.Stat(target)
	if os.IsNotExist(err) {
		if size == "" {
			return nil, fmt.Errorf("%s does not exist: give --size to create an image file", target)
		}
		n, err := matchers.ParseSize(size)
		if err != nil {
			return nil, fmt.Errorf("--size %q: %w", size, err)
		}
		f, err := os.Create(target)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return nil, f.Truncate(n)
	}
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() {
		return nil, nil
	}
	if st.Mode()&os.ModeDevice == 0 {
		return nil, fmt.Errorf("%s is neither a block device nor an image file", target)
	}
	real, err := filepath.EvalSymlinks(target)
	if err != nil {
		return nil, err
	}
	sysfs, procfs := matchers.OSRoots()
	dev, err := matchers.ReadFrom(sysfs, procfs, filepath.Base(real))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot identify it in sysfs: %w", target, err)
	}
	if err := (matchers.Guard{AllowedBuses: buses}).Check(dev); err != nil && !override {
		return nil, fmt.Errorf("%s: refused by the safety guard: %w (--i-know-what-i-am-doing overrides, and is logged)", target, err)
	}
	return dev, nil
}

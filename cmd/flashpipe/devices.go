package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/spf13/cobra"
)

func newDevicesCmd() *cobra.Command {
	var lo loadOptions
	var allowBus []string
	cmd := &cobra.Command{
		Use:   "devices [CONFIG...]",
		Short: "List block devices with their identity, the guard's verdict and the profile that would take them",
		Long: `devices writes nothing. For every whole disk it shows what a match block can
use (vendor and product id, serial, port, size, bus), whether the safety guard
would allow writing it, and, given station files, which profile would take it.
This is how an operator writes match blocks.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg *pipeline.Config
			if len(args) > 0 {
				l, c, diags, err := lo.load(args)
				if err != nil {
					return err
				}
				printDiags(cmd.ErrOrStderr(), l, diags)
				if diags.HasErrors() {
					return exitError{1}
				}
				cfg = c
			}
			buses := allowBus
			if len(buses) == 0 && cfg != nil {
				buses = cfg.Station.AllowBuses
			}
			sysfs, procfs := matchers.OSRoots()
			names, err := matchers.List(sysfs)
			if err != nil {
				return err
			}
			var devs []*matchers.Device
			for _, n := range names {
				d, err := matchers.ReadFrom(sysfs, procfs, n)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", n, err)
					continue
				}
				devs = append(devs, d)
			}
			writeDevices(cmd.OutOrStdout(), devs, matchers.Guard{AllowedBuses: buses}, cfg)
			return nil
		},
	}
	lo.register(cmd)
	cmd.Flags().StringSliceVar(&allowBus, "allow-bus", nil, "buses the guard allows (default: the station's, or usb)")
	return cmd
}

func writeDevices(w io.Writer, devs []*matchers.Device, g matchers.Guard, cfg *pipeline.Config) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tBUS\tVENDOR:PRODUCT\tSERIAL\tPORT\tSIZE\tDISKSEQ\tGUARD\tPROFILE")
	for _, d := range devs {
		verdict := "writable"
		if err := g.Check(d); err != nil {
			verdict = "refused: " + err.Error()
		}
		prof := "-"
		if cfg != nil {
			prof = "none"
			for _, p := range cfg.Profiles {
				if ok, _ := p.Match.Match(d); ok {
					prof = p.Name
					break
				}
			}
		}
		ids := "-"
		if d.VendorID != 0 {
			ids = fmt.Sprintf("%04x:%04x", d.VendorID, d.ProductID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Name, d.Bus, ids, dash(d.Serial), dash(d.Port), matchers.FormatSize(d.Size), d.DiskSeq, verdict, prof)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

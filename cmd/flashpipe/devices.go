package main

import (
	"cmp"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/units"
	"github.com/spf13/cobra"
)

func newDevicesCmd() *cobra.Command {
	var lo loadOptions
	var allowBus []string
	var listPorts bool
	cmd := &cobra.Command{
		Use:   "devices [CONFIG...] [--ports]",
		Short: "List block devices with their identity, the guard's verdict and the profile that would take them",
		Long: `devices writes nothing. For every whole disk it shows what a match block can
use (vendor and product id, serial, port, size, bus), whether the safety guard
would allow writing it, and, given station files, which profile would take it.
This is how an operator writes match blocks.

With --ports it lists the USB hubs' ports instead, empty or not, with their
port paths (what match { port = ... } and station { ports = ... } take) and,
given station files, whether the dashboard shows a tile for each.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg *pipeline.Config
			if len(args) > 0 {
				_, c, err := loadChecked(cmd.ErrOrStderr(), &lo, nil, args, false)
				if err != nil {
					return err
				}
				cfg = c
			}
			buses := allowBus
			if len(buses) == 0 && cfg != nil {
				buses = cfg.Station.AllowBuses
			}
			sysfs, procfs := matchers.OSRoots()
			if listPorts {
				ports, err := matchers.HubPorts(sysfs)
				if err != nil {
					return err
				}
				writePorts(cmd.OutOrStdout(), ports, cfg)
				return nil
			}
			names, err := matchers.List(sysfs)
			if err != nil {
				return err
			}
			var devs []*matchers.Device
			for _, n := range names {
				d, err := matchers.ReadFrom(sysfs, procfs, n)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", printable.String(n), printable.String(err.Error()))
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
	cmd.Flags().BoolVar(&listPorts, "ports", false, "list USB hub ports (empty or not) instead of disks")
	return cmd
}

// writeDevices prints one row per disk. What the disk reports about itself
// (serial, and in the guard's verdict its partitions' mount points) is
// escaped for the terminal.
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dash(d.Name), dash(d.Bus), ids, dash(d.Serial), dash(d.Port),
			units.Bytes(d.Size), d.DiskSeq, dash(verdict), dash(prof))
	}
	tw.Flush()
}

// dash returns s escaped for the terminal, or "-" when it is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return printable.String(s)
}

// writePorts prints hub ports: path, what is plugged in, and, with a
// config, whether station.ports gives it a dashboard tile.
func writePorts(w io.Writer, ports []matchers.Port, cfg *pipeline.Config) {
	if len(ports) == 0 {
		fmt.Fprintln(w, "no USB hub ports (no USB controller, or sysfs is not mounted)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tPLUGGED IN\tTILE")
	for _, p := range ports {
		in := "-"
		if p.InUse {
			in = cmp.Or(p.Product, "(a USB device)")
		}
		tile := "-"
		if cfg != nil {
			tile = "no"
			if len(matchers.MatchPorts([]matchers.Port{p}, cfg.Station.Ports)) > 0 {
				tile = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", dash(p.Path), dash(in), tile)
	}
	tw.Flush()
}

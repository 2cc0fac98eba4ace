package main

import (
	"fmt"
	"os"
	"time"

	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var csv bool
	var serial, find string
	cmd := &cobra.Command{
		Use:   "report RECEIPTS.jsonl...",
		Short: "Summarise receipts: totals per profile and day, failures, throughput",
		Long: `report reads receipts files and prints totals per profile and per day, every
failure with its reason, and throughput. --csv writes one row per receipt for a
spreadsheet; --serial finds one stick's records; --find finds the stick that got
a pool row (its value, or POOL:N such as keys:17), a generated file (its SHA1
or path) or a disk identifier (MBR signature, disk or partition GUID, volume
serial).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var all []receipts.Receipt
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				rs, bad, err := receipts.Read(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				if bad > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: skipped %d unreadable line(s)\n", path, bad)
				}
				all = append(all, rs...)
			}
			if serial != "" {
				all = report.FindSerial(all, serial)
				if len(all) == 0 {
					return fmt.Errorf("no receipt for serial %q", serial)
				}
			}
			if find != "" {
				ms := report.Find(all, find)
				if len(ms) == 0 {
					return fmt.Errorf("no receipt holds %q", find)
				}
				for _, m := range ms {
					r := m.Receipt
					fmt.Fprintf(cmd.OutOrStdout(), "%s  %s  job %d  %s serial %q  %s  %s: %s\n", r.Time.Format(time.RFC3339), r.Station, r.Job,
						printable.String(r.Device.Name), printable.String(r.Device.Serial), r.Profile, r.Result, m.What)
				}
				return nil
			}
			if csv {
				return report.WriteCSV(cmd.OutOrStdout(), all)
			}
			return report.WriteText(cmd.OutOrStdout(), report.Summarize(all))
		},
	}
	cmd.Flags().BoolVar(&csv, "csv", false, "one CSV row per receipt")
	cmd.Flags().StringVar(&serial, "serial", "", "only the records of the stick with this serial")
	cmd.Flags().StringVar(&find, "find", "", "the sticks that got this pool row value (or POOL:N), generated file SHA1 or path, or disk identifier")
	return cmd
}

package main

import (
	"fmt"
	"os"

	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var csv bool
	var serial string
	cmd := &cobra.Command{
		Use:   "report RECEIPTS.jsonl...",
		Short: "Summarise receipts: totals per profile and day, failures, throughput",
		Long: `report reads receipts files and prints totals per profile and per day, every
failure with its reason, and throughput. --csv writes one row per receipt for a
spreadsheet; --serial finds one stick's records.`,
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
			if csv {
				return report.WriteCSV(cmd.OutOrStdout(), all)
			}
			return report.WriteText(cmd.OutOrStdout(), report.Summarize(all))
		},
	}
	cmd.Flags().BoolVar(&csv, "csv", false, "one CSV row per receipt")
	cmd.Flags().StringVar(&serial, "serial", "", "only the records of the stick with this serial")
	return cmd
}

package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/pool"
	"github.com/spf13/cobra"
)

func newPoolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool",
		Short: "Show a station's data pools, or put a row back into one",
		Long: `pool reads the pools the station files declare and their journals beside the
receipts file (station.receipts, or --receipts): how many rows are free, in use,
spent and burnt, and where each row that is not free went.`,
	}
	cmd.AddCommand(newPoolStatusCmd(), newPoolReturnCmd())
	return cmd
}

// poolFlags are the flags both pool subcommands take.
type poolFlags struct {
	lo       loadOptions
	receipts string
	name     string
}

func (f *poolFlags) register(cmd *cobra.Command) {
	f.lo.register(cmd)
	cmd.Flags().StringVar(&f.receipts, "receipts", "", "receipts file (overrides station.receipts); pool journals are beside it")
	cmd.Flags().StringVar(&f.name, "pool", "", "the pool (may be omitted when the files declare one)")
}

// specs loads the station files and returns the specs of their pools,
// sorted by name, or only the one --pool names.
func (f *poolFlags) specs(cmd *cobra.Command, args []string) ([]pool.Spec, error) {
	_, cfg, err := loadChecked(cmd.ErrOrStderr(), &f.lo, &legacyFlags{}, args, false)
	if err != nil {
		return nil, err
	}
	rpath := cfg.Station.Receipts
	if f.receipts != "" {
		rpath = f.receipts
	}
	var out []pool.Spec
	for n, b := range cfg.Pools {
		if f.name == "" || f.name == n {
			out = append(out, specOf(b, rpath))
		}
	}
	if len(out) == 0 {
		names := make([]string, 0, len(cfg.Pools))
		for n := range cfg.Pools {
			names = append(names, n)
		}
		sort.Strings(names)
		if f.name != "" {
			return nil, fmt.Errorf("no pool %q in these files.%s Pools: %s", f.name, pipeline.DidYouMean(f.name, names), strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("these files declare no pool")
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out, nil
}

func specOf(b *pipeline.PoolBlock, receipts string) pool.Spec {
	return pool.Spec{Name: b.Name, File: b.File, Format: b.Format, Journal: pool.JournalPath(receipts, b.Name), Burn: b.Burn()}
}

func newPoolStatusCmd() *cobra.Command {
	var f poolFlags
	var rows bool
	cmd := &cobra.Command{
		Use:   "status [FILES...]",
		Short: "Rows free, in use, spent and burnt, per pool (also while a station runs)",
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := f.specs(cmd, args)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, s := range specs {
				st, last, err := pool.ReadStatus(s)
				if err != nil {
					return fmt.Errorf("pool %q: %w", s.Name, err)
				}
				fmt.Fprintf(w, "pool %s: %d rows: %d free, %d in use, %d spent, %d burnt (journal %s)\n", s.Name, st.Rows, st.Free, st.Taken, st.Spent, st.Burnt, s.Journal)
				if !rows {
					continue
				}
				ns := make([]int, 0, len(last))
				for n := range last {
					ns = append(ns, n)
				}
				sort.Ints(ns)
				for _, n := range ns {
					l := last[n]
					fmt.Fprintf(w, "  row %d: %s %s job %s %s\n", n, pool.StateOf(l, true), l.Time.Format("2006-01-02T15:04:05Z07:00"), l.Job, l.Why)
				}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&rows, "rows", false, "list every row that is not free, with its last journal line")
	return cmd
}

func newPoolReturnCmd() *cobra.Command {
	var f poolFlags
	var row int
	var why string
	cmd := &cobra.Command{
		Use:   "return --row N [--pool NAME] [FILES...]",
		Short: "Put a spent or burnt row back into its pool (the station must be stopped)",
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := f.specs(cmd, args)
			if err != nil {
				return err
			}
			if len(specs) != 1 {
				return fmt.Errorf("the files declare %d pools: name one with --pool", len(specs))
			}
			p, err := pool.Open(specs[0])
			if err != nil {
				return err
			}
			defer p.Close()
			if err := p.Return(row, "operator: "+why); err != nil {
				return err
			}
			st := p.Status()
			fmt.Fprintf(cmd.OutOrStdout(), "pool %s: row %d returned; %d of %d rows free\n", specs[0].Name, row, st.Free, st.Rows)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&row, "row", 0, "the row to return, numbered from 1 in file order")
	cmd.Flags().StringVar(&why, "why", "returned by the operator", "why, for the journal")
	cmd.MarkFlagRequired("row")
	return cmd
}

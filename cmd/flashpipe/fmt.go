package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
)

func newFmtCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [-check] FILE|DIR...",
		Short: "Rewrite station files in canonical format",
		Long: `fmt rewrites station files in the canonical HCL layout (aligned equals signs,
two-space indents). With -check it changes nothing and exits 1 listing the
files that are not formatted, for CI.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := pipeline.ExpandPaths(args)
			if err != nil {
				return err
			}
			parser := hclparse.NewParser()
			var unformatted int
			for _, f := range files {
				src, err := fsimage.ReadRegular(f)
				if err != nil {
					return err
				}
				if _, diags := parser.ParseHCL(src, f); diags.HasErrors() {
					l := pipeline.NewLoader(nil)
					l.Parser = parser
					printDiags(cmd.ErrOrStderr(), l, diags)
					return exitError{1}
				}
				out := hclwrite.Format(src)
				if bytes.Equal(out, src) {
					continue
				}
				unformatted++
				fmt.Fprintln(cmd.OutOrStdout(), f)
				if !check {
					if err := os.WriteFile(f, out, 0o644); err != nil {
						return err
					}
				}
			}
			if check && unformatted > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; exit 1 if a file is not formatted")
	return cmd
}

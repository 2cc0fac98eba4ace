//go:build gendocs

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// extraCommands adds the hidden gendocs command to a build with -tags
// gendocs, which scripts/package.sh uses; a release build has none (see
// gendocs_release.go), so the man page generator is not in the binary
// that ships.
func extraCommands() []*cobra.Command { return []*cobra.Command{newGendocsCmd()} }

func newGendocsCmd() *cobra.Command {
	var manDir, version string
	var date int64
	cmd := &cobra.Command{
		Use:    "gendocs --man DIR",
		Short:  "Write a man page for every command (for packaging)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(manDir, 0o755); err != nil {
				return err
			}
			when := time.Unix(date, 0).UTC()
			root := cmd.Root()
			root.DisableAutoGenTag = true // no generation date in the pages: the package is reproducible
			err := doc.GenManTree(root, &doc.GenManHeader{
				Title: "FLASHPIPE", Section: "1", Date: &when,
				Source: "flashpipe " + version, Manual: "flashpipe manual",
			}, manDir)
			if err != nil {
				return err
			}
			pages, _ := filepath.Glob(filepath.Join(manDir, "*.1"))
			fmt.Fprintf(cmd.OutOrStdout(), "gendocs: %d man pages in %s\n", len(pages), manDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "directory for the man pages (section 1)")
	cmd.Flags().StringVar(&version, "version", "devel", "the version the pages name")
	cmd.Flags().Int64Var(&date, "date", 0, "the pages' date, in seconds since 1970 (the commit's)")
	cmd.MarkFlagRequired("man")
	return cmd
}

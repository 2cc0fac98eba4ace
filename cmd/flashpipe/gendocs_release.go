//go:build !gendocs

package main

import "github.com/spf13/cobra"

// extraCommands is empty in a release build: gendocs (gendocs.go) is built
// only with -tags gendocs.
func extraCommands() []*cobra.Command { return nil }

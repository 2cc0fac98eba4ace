package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/flashpipe/flashpipe/printable"
	"github.com/spf13/cobra"
)

// exitError carries an exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run is the whole program: it parses args, runs one command and returns
// the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(singleDashCheck(args))
	stopSignals := func() {}
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		if cmd.Name() != "run" {
			var sctx context.Context
			sctx, stopSignals = signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			cmd.SetContext(sctx)
		}
	}
	err := root.ExecuteContext(ctx)
	stopSignals()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "flashpipe:", printable.Lines(err.Error())) // errors name content files and devices
		return 2
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "flashpipe",
		Short: "A USB stick duplication station",
		Long: `flashpipe takes newly inserted USB sticks, matches each to a profile, and
wipes, partitions, formats, fills, verifies (read back from the stick) and
ejects it, many at once, keeping a receipt for every stick.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newValidateCmd(),
		newPlanCmd(),
		newFmtCmd(),
		newBuildCmd(),
		newCaptureCmd(),
		newRunCmd(),
		newFlashCmd(),
		newDevicesCmd(),
		newReportCmd(),
		newPoolCmd(),
		newDemoCmd(),
		newVersionCmd(),
	)
	root.AddCommand(extraCommands()...)
	return root
}

// singleDashCheck lets `fmt -check` be written with one dash, as Terraform
// and Packer users do; POSIX flag parsing would read it as -c -h -e -c -k.
func singleDashCheck(args []string) []string {
	if len(args) == 0 || args[0] != "fmt" {
		return args
	}
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "-check" {
			out[i] = "--check"
		}
	}
	return out
}

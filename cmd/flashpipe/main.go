// Command flashpipe is a USB stick duplication station.
package main

import (
	"context"
	"os"
)

// main installs no signal handling of its own: run handles SIGINT, SIGTERM
// and SIGHUP as a station must (grace period, second signal aborts,
// reload), and the one-shot commands use interruptible contexts.
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

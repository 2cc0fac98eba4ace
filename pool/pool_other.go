//go:build !unix

package pool

import (
	"fmt"
	"runtime"
)

// Spec says which pool to open; see the unix build.
type Spec struct {
	Name, File, Journal string
	Format              Format
	Burn                bool
}

// JournalPath is the journal of pool name for the receipts file at receipts.
func JournalPath(receipts, name string) string { return receipts + ".pool-" + name + ".journal" }

// Pool is not available on this system: it needs flock.
type Pool struct{}

// Open is not available on this system: run the station on Linux.
func Open(s Spec) (*Pool, error) {
	return nil, fmt.Errorf("pool %q: pools are not supported on %s; run the station on Linux", s.Name, runtime.GOOS)
}

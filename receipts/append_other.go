//go:build !unix

package receipts

import (
	"fmt"
	"runtime"
)

// Append is not available on this system: it needs flock and O_APPEND
// semantics. Run the station on Linux.
func Append(path string, r Receipt) error {
	return fmt.Errorf("append receipt to %s: not supported on %s; run the station on Linux", path, runtime.GOOS)
}

// CheckAppendable is not available on this system; see Append.
func CheckAppendable(path string) error { return Append(path, Receipt{}) }

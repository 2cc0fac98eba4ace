// Package units formats byte counts for people, the one way flashpipe
// shows a size: decimal SI units, as stick makers label their sticks and as
// MB/s rates count (1 kB = 1000 bytes, 1 MB = 10^6, 1 GB = 10^9), with one
// decimal. Where precision matters (a stick too small by a few sectors)
// Exact adds the byte count. Sizes the user wrote (--size 8GiB) are echoed
// as written, not through this package.
//
// It is a leaf: every other package may use it.
package units

import (
	"fmt"
	"strconv"
)

var prefixes = []string{"kB", "MB", "GB", "TB", "PB", "EB"}

// Bytes formats n for people: "512 B", "1.5 kB", "6.6 MB", "8.0 GB".
func Bytes(n int64) string {
	if n < 0 {
		return "-" + Bytes(-n)
	}
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	i := -1
	// Move up a unit while the value would print as 1000.0 or more.
	for v >= 999.95 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %s", v, prefixes[i])
}

// Exact is Bytes followed by the exact count when the unit rounds it:
// "6.6 MB (6576959 bytes)", "8.0 GB (8000000000 bytes)", "512 B".
func Exact(n int64) string {
	if n > -1000 && n < 1000 {
		return Bytes(n)
	}
	return fmt.Sprintf("%s (%d bytes)", Bytes(n), n)
}

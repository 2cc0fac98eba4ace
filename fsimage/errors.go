package fsimage

import (
	"fmt"
	"strings"
)

// NoSpaceError reports content that does not fit on the target. It is
// returned before anything is written.
type NoSpaceError struct {
	What      string // "FAT32 volume", "device", ...
	Needed    int64  // bytes needed, including filesystem overhead
	Available int64  // bytes available
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("content does not fit on the %s: needs %s (%d bytes), %s (%d bytes) available; %s short",
		e.What, HumanBytes(e.Needed), e.Needed, HumanBytes(e.Available), e.Available, HumanBytes(e.Needed-e.Available))
}

// BadName is one path the target filesystem cannot hold, and why.
type BadName struct {
	Path   string
	Reason string
}

// BadNamesError lists every path a filesystem cannot hold (invalid
// characters, too long, case-insensitive collisions, files too large).
type BadNamesError struct {
	FS    string
	Names []BadName
}

func (e *BadNamesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d path(s) cannot be stored on %s:", len(e.Names), e.FS)
	for _, n := range e.Names {
		fmt.Fprintf(&b, "\n  %s: %s", n.Path, n.Reason)
	}
	return b.String()
}

// HumanBytes formats n with binary units, e.g. "1.5 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit || m <= -unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

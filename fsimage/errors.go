package fsimage

import (
	"fmt"
	"strings"

	"github.com/flashpipe/flashpipe/units"
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
		e.What, units.Bytes(e.Needed), e.Needed, units.Bytes(e.Available), e.Available, units.Bytes(e.Needed-e.Available))
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

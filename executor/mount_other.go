//go:build !linux

package executor

import (
	"context"
	"fmt"
	"runtime"

	"github.com/flashpipe/flashpipe/fsimage"
)

// MountCheck is the result of VerifyMount.
type MountCheck struct {
	Supported, OK              bool
	Missing, Extra, Mismatched []string
	Message                    string
}

// VerifyMount is not available on this system: it never passes.
func VerifyMount(ctx context.Context, devPath string, m fsimage.Mount, entries []*fsimage.Entry, mountDir string) (*MountCheck, error) {
	return &MountCheck{Message: fmt.Sprintf("not checked: mounting is only done on Linux, not %s", runtime.GOOS)}, nil
}

// String returns Message.
func (m *MountCheck) String() string { return m.Message }

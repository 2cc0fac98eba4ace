//go:build !linux

package matchers

import "io/fs"

// rdev is Linux-only: elsewhere a loop device's backing file is matched by
// its /dev/<name> path alone.
func rdev(fs.FileInfo) (string, bool) { return "", false }

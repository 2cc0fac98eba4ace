//go:build !linux

package fsimage

import (
	"errors"
	"os"
)

var errNoCopyRange = errors.New("copy_file_range not possible")

// copyFileRange always defers to the copy through memory here.
func copyFileRange(dst, src *os.File, dstOff, srcOff, n int64) (int64, error) {
	return 0, errNoCopyRange
}

// dataAfter treats the whole range as data here.
func dataAfter(f *os.File, off, end int64) (lo, hi int64) { return off, end }

// startWriteback leaves writeback to the final fsync here.
func startWriteback(f *os.File, off, n int64) {}

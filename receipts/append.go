//go:build unix

package receipts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Append adds r to the receipts file at path as one JSON line. The line is
// written with a single write(2) under O_APPEND while holding an exclusive
// flock, then fsynced, so goroutines and processes appending to the same
// file never interleave. If the file does not end in '\n' (a crash tore the
// last line), the new line starts with '\n' so the torn line stays on a line
// of its own and readers skip it.
func Append(path string, r Receipt) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("receipt for job %d: %w", r.Job, err)
	}
	line = append(line, '\n')
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("append receipt: %w", err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := flock(fd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("append receipt: lock %s: %w", path, err)
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("append receipt: %w", err)
	}
	if fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return fmt.Errorf("append receipt: read %s: %w", path, err)
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	n, err := writeOnce(fd, line)
	if err == nil && n != len(line) {
		// Only a full disk does this; the partial line stays isolated
		// because the next Append starts with '\n'.
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("append receipt to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("append receipt: fsync %s: %w", path, err)
	}
	return nil
}

// appendRoom is how much room CheckAppendable wants for receipts: a
// receipt is a few KiB at most.
const appendRoom = 64 << 10

// CheckAppendable checks that receipts can be appended to the file at
// path, creating it (empty) when it does not exist: its directory exists
// and is writable, the file is not read-only, and its filesystem has room
// for a receipt. The room is reserved past the end of the file
// (fallocate with KEEP_SIZE, which changes neither its size nor its
// content, and which later receipts fill); where the filesystem cannot
// reserve, its free space is checked instead.
func CheckAppendable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("receipts file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("receipts file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("receipts file %s: not a regular file", path)
	}
	err = reserve(int(f.Fd()), fi.Size(), appendRoom)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		var st unix.Statfs_t
		if err = unix.Fstatfs(int(f.Fd()), &st); err == nil && uint64(st.Bavail)*uint64(st.Bsize) < appendRoom {
			err = unix.ENOSPC
		}
	}
	if err != nil {
		return fmt.Errorf("receipts file %s: no room for receipts: %w", path, err)
	}
	return nil
}

// writeOnce is a single write(2), retried only when interrupted before
// writing anything.
func writeOnce(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

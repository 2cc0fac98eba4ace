//go:build unix

package receipts

import (
	"encoding/json"
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

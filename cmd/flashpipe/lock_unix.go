//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// stationLockPath is the lock one station per machine holds while it
// runs: /run/flashpipe/station.lock for root (the station; a directory of
// its own, which flashpipe.service can make writable as its
// RuntimeDirectory under ProtectSystem=strict), else in the user's
// runtime directory; the temporary directory where neither exists (an
// initramfs without /run).
func stationLockPath() string {
	if os.Geteuid() == 0 {
		if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
			return "/run/flashpipe/station.lock"
		}
	} else if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "flashpipe.lock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("flashpipe-%d.lock", os.Geteuid()))
}

// lockStation takes the machine's station lock at path, writing this
// process's pid and receipts file into it, and returns the function that
// gives it up. Two stations on one machine would both take every stick
// (one would then find each stick busy), so a second one is refused with
// the first one's pid and receipts file.
func lockStation(path, receipts string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("station lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("station lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("station lock %s: %w", path, err)
		}
		b, _ := io.ReadAll(io.LimitReader(f, 4096))
		pid, other, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		who := "another station"
		if _, err := strconv.Atoi(pid); err == nil {
			who = fmt.Sprintf("another station (pid %s, receipts %s)", pid, other)
		}
		return nil, fmt.Errorf("%s is running on this machine: two stations would both take every stick; stop it first (it holds %s)", who, path)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), receipts)), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("station lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

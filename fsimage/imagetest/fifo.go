package imagetest

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// FIFO makes a named pipe at path. Opening it for reading blocks until a
// writer comes, which no test provides: code that opens content without
// checking what it is hangs on it.
func FIFO(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
}

// Within runs f and fails t if it has not returned within d: what would
// hang on the FIFO at fifo fails the test instead. On a timeout it opens
// the FIFO for writing and closes it, so that an open or a read blocked on
// it returns and the test binary can go on.
func Within(t testing.TB, d time.Duration, fifo, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatalf("%s did not return within %s: it blocked on the FIFO %s", what, d, fifo)
	}
}

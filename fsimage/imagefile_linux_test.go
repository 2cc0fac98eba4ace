package fsimage

import (
	"crypto/sha1"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHashMappedFault: a mapped image that shrinks under the hasher gives
// an error, not a crash of the whole station.
func TestHashMappedFault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, pattern(1<<20, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 1<<20, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	err = hashMapped(sha1.New(), m)
	if err == nil || !strings.Contains(err.Error(), "fault") {
		t.Errorf("hashMapped(truncated mapping) error = %v, want a fault error", err)
	}
}

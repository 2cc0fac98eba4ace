package imagetest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
)

// checkers are the oracles the tests trust for each filesystem, by its
// descriptor's Name: the filesystem's own checker, read-only. A filesystem
// that compile.Filesystems lists needs one here (Fsck fails without it).
var checkers = map[string][]string{
	"vfat":  {"fsck.fat", "-n"},
	"exfat": {"fsck.exfat", "-n"},
	"ext4":  {"e2fsck", "-fn"},
}

// Fsck runs the checker of the filesystem called fs on volume (an image
// file or block device holding the volume alone) and fails t with the
// checker's output when it finds a problem. A filesystem without a
// checker fails t: add one to checkers.
func Fsck(t testing.TB, fs, volume string) {
	t.Helper()
	c, ok := checkers[fs]
	if !ok {
		t.Fatalf("imagetest has no checker for filesystem %q: add its fsck to checkers in fsimage/imagetest/fsck.go", fs)
	}
	testreq.Tool(t, c[0])
	if out, err := exec.Command(c[0], append(c[1:], volume)...).CombinedOutput(); err != nil {
		t.Errorf("%s %s %s = %v\n%s", c[0], strings.Join(c[1:], " "), volume, err, out)
	}
}

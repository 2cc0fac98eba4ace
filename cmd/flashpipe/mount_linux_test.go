package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

const mountConfig = `
source "c" { paths = [%q] }
profile "m" {
  step "wipe" {}
  step "partition" { table = "%s" }
  step "mkfs" { type = "%s" }
  step "copy" { sources = [source.c] }
  step "verify" { mount = true }
}
`

// TestVerifyMount runs verify { mount = true } on loop devices. ext4, which
// this kernel mounts, passes with the tree compared; where the kernel has no
// driver for the filesystem (vfat here), the job fails saying so: a check
// that could not run is never a pass.
func TestVerifyMount(t *testing.T) {
	looptest.Require(t)
	testreq.Tool(t, "mke2fs")
	content := smallContent(t)
	for _, tc := range []struct{ table, fs string }{{"mbr", "ext4"}, {"gpt", "ext4"}, {"mbr", "vfat"}} {
		t.Run(tc.table+"-"+tc.fs, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "m.hcl")
			os.WriteFile(cfg, []byte(fmt.Sprintf(mountConfig, content, tc.table, tc.fs)), 0o644)
			dev := looptest.Attach(t, looptest.Sparse(t, dir, 48<<20), 0)
			var stdout, stderr bytes.Buffer
			args := []string{"flash", "--i-know-what-i-am-doing", "--receipts", filepath.Join(dir, "r.jsonl"), cfg, dev}
			code := run(context.Background(), args, &stdout, &stderr)
			kernelHas := tc.fs == "ext4" || filesystemSupported(tc.fs)
			switch {
			case kernelHas && code != 0:
				t.Errorf("flash with verify mount on %s = exit %d, want 0; stdout:\n%s\nstderr:\n%s", tc.fs, code, stdout.String(), stderr.String())
			case kernelHas && !strings.Contains(stdout.String(), `"mount":"`):
				t.Errorf("receipt has no mount result:\n%s", stdout.String())
			case !kernelHas && (code == 0 || !strings.Contains(stdout.String(), "cannot mount")):
				t.Errorf("flash with verify mount on %s without kernel support = exit %d, stdout %s; want a failure saying the kernel cannot mount it", tc.fs, code, stdout.String())
			}
		})
	}
}

// filesystemSupported reports whether /proc/filesystems lists fs.
func filesystemSupported(fs string) bool {
	b, _ := os.ReadFile("/proc/filesystems")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(line, "nodev")) == fs {
			return true
		}
	}
	return false
}

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
)

// TestReleaseBuildHasNoTestHooks builds flashpipe twice — as released, and
// with -tags testhooks as the end-to-end suite builds it — and flashes an
// image file with FLASHPIPE_TEST_BEFORE_VERIFY naming a program that leaves
// a mark. The release build must not run it; the test build must (which
// shows the probe itself works).
func TestReleaseBuildHasNoTestHooks(t *testing.T) {
	testreq.Short(t, "builds flashpipe twice")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	dir := t.TempDir()
	content := smallContent(t)
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"ran on $1 at $FLASHPIPE_TEST_FILE_OFFSET\" >> \"$HOOK_MARK\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		tags    []string
		wantRan bool
	}{
		{"release", nil, false},
		{"testhooks", []string{"-tags", "testhooks"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, "flashpipe-"+tc.name)
			args := append(append([]string{"build", "-o", bin}, tc.tags...), ".")
			if out, err := exec.Command(goBin, args...).CombinedOutput(); err != nil {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			mark := filepath.Join(dir, tc.name+".mark")
			img := filepath.Join(dir, tc.name+".img")
			cmd := exec.Command(bin, "flash", "-c", content, "--size", "40MiB", "--receipts", filepath.Join(dir, tc.name+".jsonl"), img)
			cmd.Env = append(os.Environ(), "FLASHPIPE_TEST_BEFORE_VERIFY="+hook, "HOOK_MARK="+mark)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s flash: %v", tc.name, err)
			}
			var rc receipts.Receipt
			if err := json.Unmarshal(out, &rc); err != nil || rc.Result != receipts.ResultDone {
				t.Errorf("%s flash receipt = %s (%v), want result done", tc.name, out, err)
			}
			_, statErr := os.Stat(mark)
			if ran := statErr == nil; ran != tc.wantRan {
				t.Errorf("%s build: hook ran = %v, want %v", tc.name, ran, tc.wantRan)
			}
		})
	}
}

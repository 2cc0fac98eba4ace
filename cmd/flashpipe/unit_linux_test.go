package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
)

// unitCapabilities returns the CapabilityBoundingSet of
// packaging/flashpipe.service, the unit the Debian package installs.
func unitCapabilities(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "packaging", "flashpipe.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapabilityBoundingSet="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatal("packaging/flashpipe.service has no CapabilityBoundingSet")
	return nil
}

// TestDaemonUnitCapabilities runs the station as flashpipe.service does —
// root with only the unit's CapabilityBoundingSet, and no new privileges
// (setpriv, as systemd would set them up) — and writes and verifies a loop
// device with it. Without CAP_SYS_ADMIN the same job fails in verify
// (BLKFLSBUF, which drops the page cache so that verify reads the stick):
// the bounding set is what the station needs, and the test can tell.
func TestDaemonUnitCapabilities(t *testing.T) {
	looptest.Require(t)
	setpriv := testreq.Tool(t, "setpriv")
	caps := unitCapabilities(t)
	bin := buildBinary(t)
	var without []string
	for _, c := range caps {
		if c != "CAP_SYS_ADMIN" {
			without = append(without, c)
		}
	}
	for _, tc := range []struct {
		name       string
		caps       []string
		wantResult receipts.Result
	}{
		{"unit", caps, receipts.ResultDone},
		{"without-CAP_SYS_ADMIN", without, receipts.ResultFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bounding := "-all"
			for _, c := range tc.caps {
				bounding += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
			}
			wrapper := filepath.Join(dir, "flashpipe-confined")
			script := fmt.Sprintf("#!/bin/sh\nexec %s --bounding-set=%s --no-new-privs -- %s \"$@\"\n", setpriv, bounding, bin)
			if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cfgPath, rpath := daemonFiles(t, dir, 1<<20, "p")
			d := startDaemon(t, wrapper, "--receipts", rpath, cfgPath)
			looptest.Attach(t, looptest.Sparse(t, dir, daemonSize), 0)
			rs := waitDaemonReceipts(t, d, rpath, 1)
			if rs[0].Result != tc.wantResult {
				t.Fatalf("with %s: receipt = %s (step %s: %s), want %s; log:\n%s", bounding, rs[0].Result, rs[0].FailedStep, rs[0].Error, tc.wantResult, d.log())
			}
			if tc.wantResult == receipts.ResultFailed && (rs[0].FailedStep != "verify" || !strings.Contains(rs[0].Error, "BLKFLSBUF")) {
				t.Errorf("without CAP_SYS_ADMIN: failed in %s with %q, want verify's BLKFLSBUF", rs[0].FailedStep, rs[0].Error)
			}
		})
	}
}

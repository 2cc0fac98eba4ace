package station

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/status"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

// stackMounted formats the image file of a stick with ext4 at 1 MiB,
// attaches it as the stick and, on the stick, a read-only loop device at
// that offset (losetup -r -o 1M), and mounts that one read-only: the
// stick is in use only through the stacked loop device. It returns the
// stick's kernel name and the stacked device's.
func stackMounted(t *testing.T, img string) (stick, peek string) {
	t.Helper()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "offset=1048576", img, "60M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	stick = looptest.Attach(t, img, 0)
	peek = looptest.AttachWith(t, stick, "--read-only", "--offset", "1048576")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-o", "ro", peek, dir).CombinedOutput(); err != nil {
		testreq.Capability(t, "ext4 in the kernel", fmt.Errorf("mount %s: %v: %s", peek, err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return filepath.Base(stick), filepath.Base(peek)
}

// TestStationRefusesStackedStick: a stick whose only user is a read-only
// loop device stacked on it, mounted, is refused by the station's guard
// and left byte-for-byte alone (the issue's `losetup -r -o 1M` case, which
// was written while mounted). The station takes present devices, so the
// stack is in place before it first looks.
func TestStationRefusesStackedStick(t *testing.T) {
	looptest.Require(t)
	testreq.Tools(t, "mkfs.ext4", "mount", "umount")
	img := looptest.Sparse(t, t.TempDir(), matchSize)
	stick, peek := stackMounted(t, img)
	before := hashFile(t, img)

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sysfs, procfs := matchers.OSRoots()
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	board := status.NewBoard()
	var logs bytes.Buffer
	st := New(Options{Config: testConfig(t, makeContent(t, 1<<20)), Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs,
		IncludePresent: true, Receipts: rpath, Board: board, RescanInterval: 100 * time.Millisecond,
		Log: hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &logs}, Level: hclog.Debug})})
	intake, stop := context.WithCancel(context.Background())
	done := make(chan Summary)
	go func() { done <- st.Run(intake, context.Background()) }()
	row, ok := firstRow(board, stick)
	time.Sleep(500 * time.Millisecond) // a few rescans: none may take it
	stop()
	sum := <-done

	want := peek + " is mounted at "
	if !ok || row.State != status.StateRefused || !strings.Contains(row.Error, want) || !strings.Contains(row.Error, "a loop device on "+stick) {
		t.Errorf("board row of %s: %s %q, want refused with the guard's reason (%s…, a loop device on %s)", stick, row.State, row.Error, want, stick)
	}
	if sum.Done+sum.Failed+sum.Removed+sum.Unverified != 0 {
		t.Errorf("Run() = %v, want no job", sum)
	}
	if _, err := os.Stat(rpath); err == nil {
		if rs := readReceiptsFile(t, rpath); len(rs) != 0 {
			t.Errorf("receipts %+v, want none (no job)", rs)
		}
	}
	if got := hashFile(t, img); got != before {
		t.Errorf("stick with a mounted loop device on it: sha1 %s after the run, want unchanged %s", got, before)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("station log:\n%s", logs.String())
	}
}

// firstRow waits up to a minute for the board's first row of the device.
func firstRow(b *status.Board, name string) (status.Row, bool) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, j := range b.Snapshot() {
			if j.Device == name {
				return j, true
			}
		}
	}
	return status.Row{}, false
}

// TestBeforeFirstWriteSeesStackedLoop: a loop device stacked on the stick
// after it was matched (between the station's decision and the first
// write) makes the job's pre-write check refuse it.
func TestBeforeFirstWriteSeesStackedLoop(t *testing.T) {
	looptest.Require(t)
	img := looptest.Sparse(t, t.TempDir(), matchSize)
	sysfs, procfs := matchers.OSRoots()
	cfg := testConfig(t, t.TempDir())
	st := New(Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs})

	name := filepath.Base(looptest.Attach(t, img, 0))
	d, err := matchers.ReadFrom(sysfs, procfs, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.guard().Check(d); err != nil {
		t.Fatalf("guard before stacking: %v, want nil", err)
	}
	j := st.newJob(context.Background(), cfg, cfg.Profiles[0], d, 1, 1, hclog.NewNullLogger())
	defer j.cancel()
	peek := filepath.Base(looptest.AttachWith(t, "/dev/"+name, "--read-only", "--offset", "1048576"))

	want := "it is in use by " + peek + ", a loop device on " + name
	var r *matchers.Refusal
	if err := j.pj.BeforeFirstWrite(); !errors.As(err, &r) || r.Reason != want {
		t.Errorf("BeforeFirstWrite() with %s stacked on %s = %v, want reason %q", peek, name, err, want)
	}
}

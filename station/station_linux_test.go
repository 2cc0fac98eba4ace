package station

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// Sizes that only this test's loop devices have, so a station under test
// never takes a loop device another test package attached meanwhile.
const (
	matchSize   = 67 << 20
	noMatchSize = 69 << 20
)

func testConfig(t *testing.T, content string) *pipeline.Config {
	t.Helper()
	src := fmt.Sprintf(`
station {
  name        = "test"
  allow_buses = ["loop"]
  concurrency = 2
}
source "c" { paths = [%q] }
profile "loop67" {
  match {
    bus  = "loop"
    size = "67MiB..67MiB"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "label" { label = format("T%%03d", job.seq) }
  step "verify" {}
}
`, content)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("test.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	return cfg
}

// makeContent writes a small tree plus one file of bigSize random bytes.
func makeContent(t *testing.T, bigSize int) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"README.txt":          []byte("hello\n"),
		"docs/Long name.txt":  []byte("long name\n"),
		"docs/deep/a/b/c.txt": []byte("deep\n"),
		"empty.txt":           nil,
	}
	big := make([]byte, bigSize)
	rand.New(rand.NewSource(1)).Read(big)
	files["media/big.bin"] = big
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func hashFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// scribble fills the first MiB of a file with random bytes, so "unchanged"
// means something.
func scribble(t *testing.T, path string, seed int64) {
	t.Helper()
	b := make([]byte, 1<<20)
	rand.New(rand.NewSource(seed)).Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
}

// waitReceipts waits until the receipts file holds n lines.
func waitReceipts(t *testing.T, path string, n int) []receipts.Receipt {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var rs []receipts.Receipt
		if f, err := os.Open(path); err == nil {
			rs, _, _ = receipts.Read(f)
			f.Close()
		}
		if len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("receipts in %s: %d after 2 minutes, want %d", path, len(rs), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// compareTree extracts the FAT filesystem at 1 MiB into img with mtools and
// compares it with the source tree, names and bytes. The caller checks for
// mcopy (testreq.Tool) before it starts the station.
func compareTree(t *testing.T, img, src string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command("mcopy", "-s", "-n", "-i", img+"@@1M", "::/", out)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v: %s", err, b)
	}
	want, got := imagetest.TreeDigest(t, src), imagetest.TreeDigest(t, out)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("tree on the stick = %v, want %v", got, want)
	}
}

func attach(t *testing.T, size int64, seed int64) (dev, backing string) {
	backing = looptest.Sparse(t, t.TempDir(), size)
	scribble(t, backing, seed)
	return looptest.Attach(t, backing, 0), backing
}

// TestStationLoopDevices runs a station over the real uevent socket with
// loop devices allowed: a device attached before start, one that matches
// no profile and a read-only one (refused by the guard, and shown so on the
// board) are left byte-for-byte alone; a matching device attached after
// start is written and its tree reads back identical; a device whose
// medium goes away mid-write fails as removed, and the station goes on.
func TestStationLoopDevices(t *testing.T) {
	// Every need first: a skip after the station starts would leak it.
	looptest.Require(t)
	looptest.RequireThrottle(t)
	testreq.Tool(t, "mcopy")
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	content := makeContent(t, 16<<20) // 16 s at the 1 MiB/s throttle below: time to pull it mid-write
	cfg := testConfig(t, content)
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")

	_, presentImg := attach(t, matchSize, 1)
	presentSum := hashFile(t, presentImg)

	l, err := uevent.Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	sysfs, procfs := matchers.OSRoots()
	board := status.NewBoard()
	var logs bytes.Buffer
	st := New(Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, Uevents: l,
		Receipts: rpath, Board: board, Log: hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &logs}, Level: hclog.Debug})})
	intake, stop := context.WithCancel(context.Background())
	done := make(chan Summary)
	go func() { done <- st.Run(intake, context.Background()) }()
	time.Sleep(300 * time.Millisecond) // let Run record the baseline

	_, otherImg := attach(t, noMatchSize, 2)
	otherSum := hashFile(t, otherImg)
	_, goodImg := attach(t, matchSize, 3)
	rs := waitReceipts(t, rpath, 1)
	if r := rs[0]; r.Result != "done" || r.Verify == nil || !r.Verify.OK || r.Profile != "loop67" || !strings.HasPrefix(r.Label, "T") {
		t.Fatalf("receipt = %+v, want done, verified, profile loop67, label T...", r)
	}
	compareTree(t, goodImg, content)

	roImg := looptest.Sparse(t, t.TempDir(), matchSize)
	scribble(t, roImg, 5)
	roSum := hashFile(t, roImg)
	roDev := looptest.AttachReadOnly(t, roImg)
	if j := waitState(t, board, filepath.Base(roDev), status.StateRefused); !strings.Contains(j.Error, "read-only") {
		t.Errorf("board row of the read-only device: error %q, want the guard's reason (read-only)", j.Error)
	}

	// Pull the medium of the next stick while it is being written: the
	// backing file shrinks to nothing and the loop device re-reads its size.
	remDev, remImg := attach(t, matchSize, 4)
	looptest.Throttle(t, remDev, 1<<20, 0)
	waitWriting(t, board, filepath.Base(remDev))
	if err := os.Truncate(remImg, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("losetup", "-c", remDev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -c: %v: %s", err, out)
	}
	rs = waitReceipts(t, rpath, 2)
	if r := rs[1]; r.Result != "removed" || r.FailedStep != "write" || !strings.Contains(r.Error, "removed during write") {
		t.Errorf("receipt of the pulled stick = result %q, step %q, error %q; want removed during write", r.Result, r.FailedStep, r.Error)
	}

	stop()
	sum := <-done
	if sum.Done != 1 || sum.Removed != 1 || sum.Failed != 0 || sum.Refused < 1 {
		t.Errorf("Run() = %v, want 1 done, 1 removed, 0 failed, at least 1 refused", sum)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if got := hashFile(t, presentImg); got != presentSum {
		t.Errorf("device present at start: sha1 %s after the run, want unchanged %s", got, presentSum)
	}
	if got := hashFile(t, otherImg); got != otherSum {
		t.Errorf("device matching no profile: sha1 %s after the run, want unchanged %s", got, otherSum)
	}
	if got := hashFile(t, roImg); got != roSum {
		t.Errorf("read-only device: sha1 %s after the run, want unchanged %s", got, roSum)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("station log:\n%s", logs.String())
	}
}

// waitState waits until the board shows a row of the device in state and
// returns it.
func waitState(t *testing.T, b *status.Board, name string, state status.State) status.Row {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, j := range b.Snapshot() {
			if j.Device == name && j.State == state {
				return j
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no %s row on the board after a minute", name, state)
	return status.Row{}
}

// waitWriting waits until the board shows the device's job writing.
func waitWriting(t *testing.T, b *status.Board, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, j := range b.Snapshot() {
			if j.Device == name && j.Step == "write" && j.Done > 0 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no job writing after a minute", name)
}

// TestRemoveEventForPresentDisk: the kernel sends a remove uevent for a
// loop device that stays attached (echo remove > /sys/block/loopN/uevent)
// while a station writes it; the job is not aborted and the stick is
// written and verified.
func TestRemoveEventForPresentDisk(t *testing.T) {
	looptest.Require(t)
	looptest.RequireThrottle(t)
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	r := startLoopStation(t, testConfig(t, makeContent(t, 6<<20)), rpath)
	dev, _ := attach(t, matchSize, 6)
	looptest.Throttle(t, dev, 1<<20, 0)
	waitWriting(t, r.board, filepath.Base(dev))
	if err := os.WriteFile(filepath.Join("/sys/block", filepath.Base(dev), "uevent"), []byte("remove"), 0); err != nil {
		t.Fatalf("trigger a remove uevent: %v", err)
	}
	rs := waitReceipts(t, rpath, 1)
	r.stop()
	<-r.done
	if rc := rs[0]; rc.Result != receipts.ResultDone {
		t.Errorf("receipt after a remove event for a disk still attached = result %q, error %q; want done\n%s", rc.Result, rc.Error, r.logs)
	}
	if !strings.Contains(r.logs.String(), "ignored a remove event") {
		t.Errorf("the log does not say the remove event was ignored:\n%s", r.logs)
	}
}

// loopRun is a station over the real uevent socket and sysfs, for the
// tests with loop devices.
type loopRun struct {
	st    *Station
	board *status.Board
	logs  *logBuf
	stop  context.CancelFunc // cancels intake
	done  chan Summary       // Run's result
}

// startLoopStation runs a station with cfg and the receipts file rpath,
// and waits until it has recorded the disks present.
func startLoopStation(t *testing.T, cfg *pipeline.Config, rpath string) *loopRun {
	t.Helper()
	l, err := uevent.Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	t.Cleanup(func() { l.Close() })
	sysfs, procfs := matchers.OSRoots()
	r := &loopRun{board: status.NewBoard(), done: make(chan Summary, 1)}
	var log hclog.Logger
	r.logs, log = newLog()
	r.st = New(Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, Uevents: l, Receipts: rpath, Board: r.board, Log: log})
	intake, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() { r.done <- r.st.Run(intake, context.Background()) }()
	waitRunning(t, r.st)
	return r
}

// smallTmpfs mounts a tmpfs of size bytes and unmounts it in t.Cleanup.
func smallTmpfs(t *testing.T, size int) string {
	t.Helper()
	testreq.Root(t, "to mount a tmpfs")
	dir := t.TempDir()
	if err := unix.Mount("flashpipe-test", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		testreq.Capability(t, "a tmpfs mount", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fill writes a file into dir until its filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			return p
		}
	}
}

// TestOpenRefusesFaultyReceipts: a station refuses to start when its
// receipts file is on a full filesystem or a read-only mount, or in a
// directory that does not exist, and says which and why.
func TestOpenRefusesFaultyReceipts(t *testing.T) {
	full := smallTmpfs(t, 64<<10)
	fill(t, full)
	ro := t.TempDir()
	if err := unix.Mount(t.TempDir(), ro, "", unix.MS_BIND, ""); err != nil {
		testreq.Capability(t, "a bind mount", err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		testreq.Capability(t, "a read-only bind mount", err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(full, "r.jsonl"), "no space left on device"},
		{filepath.Join(ro, "r.jsonl"), "read-only file system"},
		{filepath.Join(t.TempDir(), "missing", "r.jsonl"), "no such file or directory"},
	} {
		st := New(Options{Config: testConfig(t, t.TempDir()), Receipts: tc.path})
		err := st.Open()
		if err == nil || !strings.Contains(err.Error(), "cannot record jobs") || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Open() with receipts %s = %v, want cannot record jobs, the path and %q", tc.path, err, tc.want)
		}
	}
}

// TestReceiptsDiskFullMidRun: the receipts file is rotated away and the
// filesystem fills up while a stick is written. Its receipt cannot be
// written: the station shows why, takes no new stick, and when space is
// freed writes the receipt and takes the stick that waited.
func TestReceiptsDiskFullMidRun(t *testing.T) {
	looptest.Require(t)
	looptest.RequireThrottle(t)
	dir := smallTmpfs(t, 1<<20)
	defer func(d time.Duration) { ReceiptRetry = d }(ReceiptRetry)
	ReceiptRetry = 200 * time.Millisecond
	rpath := filepath.Join(dir, "receipts.jsonl")
	r := startLoopStation(t, testConfig(t, makeContent(t, 4<<20)), rpath)
	board := r.board
	first, _ := attach(t, matchSize, 7)
	looptest.Throttle(t, first, 1<<20, 0)
	waitWriting(t, board, filepath.Base(first))
	if err := os.Rename(rpath, rpath+".1"); err != nil { // rotated
		t.Fatal(err)
	}
	filler := fill(t, dir)
	alert := waitAlert(t, board)
	if !strings.Contains(alert.Message, "no space left on device") || !strings.Contains(alert.Message, rpath) {
		t.Errorf("alert = %q, want it to name the receipts file and say no space left on device", alert.Message)
	}
	second, secondImg := attach(t, matchSize, 8)
	secondSum := hashFile(t, secondImg)
	waitFor(t, r.logs, filepath.Base(second)+": not taken for now: receipts cannot be written")
	for _, j := range board.Snapshot() {
		if j.Device == filepath.Base(first) && j.State.Terminal() {
			t.Errorf("row of the stick whose receipt is not written = %+v, want it not finished", j)
		}
		if j.Device == filepath.Base(second) {
			t.Errorf("a stick inserted while receipts cannot be written has a row: %+v", j)
		}
	}
	if got := hashFile(t, secondImg); got != secondSum {
		t.Errorf("a stick inserted while receipts cannot be written was changed")
	}
	os.Remove(filler)
	rs := waitReceipts(t, rpath, 2)
	r.stop()
	<-r.done
	if rs[0].Result != receipts.ResultDone || rs[0].Device.Name != filepath.Base(first) || rs[1].Result != receipts.ResultDone || rs[1].Device.Name != filepath.Base(second) {
		t.Errorf("receipts after space was freed = %+v, want the first stick's, then the second's, both done", rs)
	}
	if alerts, _ := board.Alerts(); len(alerts) != 0 {
		t.Errorf("alerts after space was freed = %+v, want none", alerts)
	}
}

// waitAlert waits until the board shows an alert and returns the first.
func waitAlert(t *testing.T, b *status.Board) status.Alert {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if alerts, _ := b.Alerts(); len(alerts) > 0 {
			return alerts[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no alert on the board after a minute")
	return status.Alert{}
}

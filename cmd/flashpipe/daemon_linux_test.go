package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
)

// daemonSize is a loop device size no other test uses, so the station
// under test takes only its own devices.
const daemonSize = 71 << 20

const daemonConfig = `
station {
  name        = "daemon-test"
  allow_buses = ["loop"]
  grace       = "60s"
}
source "c" { paths = [%q] }
profile "%s" {
  match {
    bus  = "loop"
    size = "71MiB..71MiB"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
`

// daemon is a running `flashpipe run` process.
type daemon struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// waitLog waits until the daemon's log holds s.
func (d *daemon) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(d.log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon log never said %q:\n%s", s, d.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startDaemon(t *testing.T, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(bin, append([]string{"run", "--no-table"}, args...)...)}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.out.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); _ = d.cmd.Wait() })
	d.waitLog(t, "station running")
	// The log says the station runs a moment before it has recorded the
	// disks present, which it leaves alone: a stick attached in between
	// (a slow scan of many loop devices on a busy machine) would be one.
	if !slices.Contains(args, "--include-present") {
		d.waitLog(t, "devices present now are left alone")
	}
	return d
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flashpipe")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

func readReceipts(t *testing.T, path string) []receipts.Receipt {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	rs, _, _ := receipts.Read(f)
	return rs
}

func waitDaemonReceipts(t *testing.T, d *daemon, path string, n int) []receipts.Receipt {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if rs := readReceipts(t, path); len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d receipts after 2 minutes; log:\n%s", n, d.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDaemonReloadAndSignals runs the real binary over the real uevent
// socket: a broken config on SIGHUP keeps the old profiles (the next stick
// is still written, by the old profile), a good one swaps them (for jobs and
// on the dashboard's /api/profiles), and SIGTERM during a slow job lets it
// finish and exits 0 with a summary.
func TestDaemonReloadAndSignals(t *testing.T) {
	looptest.Require(t)
	looptest.RequireThrottle(t) // before the daemon starts: a skip would leave it running
	bin := buildBinary(t)
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	os.MkdirAll(content, 0o755)
	big := make([]byte, 3<<20)
	rand.New(rand.NewSource(7)).Read(big)
	os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(content, "a.txt"), []byte("a\n"), 0o644)
	cfgPath := filepath.Join(dir, "station.hcl")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(daemonConfig, content, "old")), 0o644)
	rpath := filepath.Join(dir, "receipts.jsonl")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := startDaemon(t, bin, "--receipts", rpath, "--listen", addr, cfgPath)

	// A broken reload keeps the old profiles.
	os.WriteFile(cfgPath, []byte("profile \"new\" {\n  step \"wipe\" { mode = \"fast\" }\n}\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reload failed; keeping the old profiles")
	looptest.Attach(t, looptest.Sparse(t, dir, daemonSize), 0)
	rs := waitDaemonReceipts(t, d, rpath, 1)
	if rs[0].Profile != "old" || rs[0].Result != "done" {
		t.Errorf("after a broken reload: receipt profile %q result %q, want old, done", rs[0].Profile, rs[0].Result)
	}
	if got := apiProfiles(t, addr); got != "old" {
		t.Errorf("/api/profiles after a broken reload = %q, want old", got)
	}
	// A read-only stick is refused, and /metrics counts it by kind beside
	// the stick written; the listener's counters are there, at zero.
	looptest.AttachReadOnly(t, looptest.Sparse(t, dir, daemonSize))
	d.waitLog(t, "refused by the safety guard")
	metrics := getMetrics(t, addr)
	for _, want := range []string{`flashpipe_guard_refusals_total{reason="read_only"} 1`, `flashpipe_sticks_total{profile="old",result="done"} 1`,
		"flashpipe_uevent_overflows_total 0", "flashpipe_uevents_dropped_total 0"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}

	// A good reload swaps them for new jobs.
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(daemonConfig, content, "new")), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "profiles reloaded")
	if got := apiProfiles(t, addr); got != "new" {
		t.Errorf("/api/profiles after a good reload = %q, want new", got)
	}

	// SIGTERM while a throttled job writes: the job finishes, the
	// process exits 0 with a summary.
	slow := looptest.Attach(t, looptest.Sparse(t, dir, daemonSize), 0)
	looptest.Throttle(t, slow, 1<<20, 0)
	d.waitLog(t, "flashpipe."+filepath.Base(slow)+": step: n=2/3 stage=write")
	d.cmd.Process.Signal(syscall.SIGTERM)
	err = d.cmd.Wait()
	if err != nil {
		t.Errorf("flashpipe run after SIGTERM: %v, want exit 0; log:\n%s", err, d.log())
	}
	rs = readReceipts(t, rpath)
	if len(rs) != 2 || rs[1].Profile != "new" || rs[1].Result != "done" {
		t.Errorf("receipts after SIGTERM = %+v, want a second one: profile new, done", rs)
	}
	if !strings.Contains(d.log(), "stopped: 2 done, 0 unverified, 0 failed") {
		t.Errorf("no one-line summary in the log:\n%s", d.log())
	}
}

// apiProfiles returns the names of the dashboard's /api/profiles, joined
// by commas.
func apiProfiles(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/profiles")
	if err != nil {
		t.Fatalf("GET /api/profiles: %v", err)
	}
	defer resp.Body.Close()
	var ps []struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil {
		t.Fatalf("GET /api/profiles: %s: %v", resp.Status, err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

// getMetrics returns the dashboard's /metrics.
func getMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s: %v", resp.Status, err)
	}
	return string(b)
}

// daemonFiles writes the daemon test's content (a file of bigSize random
// bytes) and station file with the profile called profile, and returns
// the station file and a receipts path.
func daemonFiles(t *testing.T, dir string, bigSize int, profile string) (cfgPath, rpath string) {
	t.Helper()
	content := filepath.Join(dir, "content")
	os.MkdirAll(content, 0o755)
	big := make([]byte, bigSize)
	rand.New(rand.NewSource(7)).Read(big)
	os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644)
	cfgPath = filepath.Join(dir, "station.hcl")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(daemonConfig, content, profile)), 0o644)
	return cfgPath, filepath.Join(dir, "receipts.jsonl")
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// apiJobs returns the dashboard's /api/jobs.
func apiJobs(t *testing.T, addr string) []status.Row {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/jobs")
	if err != nil {
		t.Fatalf("GET /api/jobs: %v", err)
	}
	defer resp.Body.Close()
	var rows []status.Row
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		t.Fatalf("GET /api/jobs: %s: %v", resp.Status, err)
	}
	return rows
}

// TestDaemonKilledMidWrite kills a real station (SIGKILL, as a crash or a
// power cut leaves it) while it writes a stick, and starts it again: the
// job gets a receipt with result interrupted and the stage it reached, the
// dashboard shows the stick — still attached — as interrupted, and once it
// is inserted again it is written like a new stick.
func TestDaemonKilledMidWrite(t *testing.T) {
	looptest.Require(t)
	looptest.RequireThrottle(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath, rpath := daemonFiles(t, dir, 4<<20, "p")
	addr := freeAddr(t)
	d := startDaemon(t, bin, "--receipts", rpath, "--listen", addr, cfgPath)
	backing := looptest.Sparse(t, dir, daemonSize)
	dev, pull := looptest.AttachPullable(t, backing)
	looptest.Throttle(t, dev, 1<<20, 0)
	d.waitLog(t, "flashpipe."+filepath.Base(dev)+": step: n=2/3 stage=write")
	time.Sleep(500 * time.Millisecond) // well into the write
	d.cmd.Process.Kill()
	d.cmd.Wait() // the kernel gives its locks back once it is gone
	if rs := readReceipts(t, rpath); len(rs) != 0 {
		t.Fatalf("receipts after SIGKILL = %+v, want none yet", rs)
	}

	d = startDaemon(t, bin, "--receipts", rpath, "--listen", addr, cfgPath)
	rs := readReceipts(t, rpath)
	if len(rs) != 1 || rs[0].Result != receipts.ResultInterrupted || rs[0].FailedStep != "write" || rs[0].Device.Name != filepath.Base(dev) || rs[0].Device.DiskSeq == 0 {
		t.Fatalf("receipts after the restart = %+v, want one: interrupted in write on %s, with its diskseq", rs, filepath.Base(dev))
	}
	var row *status.Row
	for deadline := time.Now().Add(10 * time.Second); row == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, j := range apiJobs(t, addr) { // the log says the station runs a moment before it has looked at the sticks
			if j.Device == filepath.Base(dev) {
				row = &j
			}
		}
	}
	if row == nil || row.State != status.StateInterrupted || !strings.Contains(row.Error, "insert it again") {
		t.Fatalf("/api/jobs after the restart: row of %s = %+v, want interrupted, saying to insert it again", filepath.Base(dev), row)
	}
	// Inserted again: a new diskseq, a new job.
	pull()
	looptest.Attach(t, backing, 0)
	rs = waitDaemonReceipts(t, d, rpath, 2)
	if rs[1].Result != receipts.ResultDone {
		t.Errorf("receipt of the stick inserted again = %+v, want done", rs[1])
	}
}

// TestSecondStationRefused: a second `flashpipe run` on the machine while
// one runs refuses to start, naming the first one's pid, instead of
// fighting it for every stick.
func TestSecondStationRefused(t *testing.T) {
	looptest.Require(t) // the stations take loop devices of their size
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath, rpath := daemonFiles(t, dir, 1<<10, "p")
	first := startDaemon(t, bin, "--receipts", rpath, cfgPath)
	for _, receipts := range []string{rpath, filepath.Join(dir, "other.jsonl")} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a second station that starts runs until killed
		out, err := exec.CommandContext(ctx, bin, "run", "--no-table", "--receipts", receipts, cfgPath).CombinedOutput()
		cancel()
		want := fmt.Sprintf("another station (pid %d, receipts %s) is running on this machine", first.cmd.Process.Pid, rpath)
		if err == nil || !strings.Contains(string(out), want) || strings.Contains(string(out), "station running") {
			t.Errorf("a second run with receipts %s: %v, output:\n%s\nwant it refused before it starts: %q", receipts, err, out, want)
		}
	}
}

// hungConfig is a station whose one profile writes loop devices of
// daemonSize without a wipe, its write stage timing out after %q, with a
// grace period of 3 s.
const hungConfig = `
station {
  name        = "hung-test"
  allow_buses = ["loop"]
  grace       = "3s"
}
source "c" { paths = [%q] }
profile "p" {
  match {
    bus  = "loop"
    size = "71MiB..71MiB"
  }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" {
    sources = [source.c]
    timeout = %q
  }
  step "verify" {}
}
`

// TestDaemonHungStick: a stick that writes 1 kB/s (a write to it stays in
// the kernel for seconds). Its write stage's timeout fails the job on time
// with a receipt that says so; and a station stopped while such a stick is
// written exits within its grace period and a few seconds, logging every
// signal, with the job's receipt.
func TestDaemonHungStick(t *testing.T) {
	looptest.Require(t)
	looptest.RequireThrottle(t)
	bin := buildBinary(t)
	for _, tc := range []struct {
		name, timeout string
		sigterm       bool
		want          string
	}{
		{"timeout", "5s", false, "timed out after 5s"},
		{"sigterm", "10m", true, "aborted during write (station shutting down)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := filepath.Join(dir, "content")
			os.MkdirAll(content, 0o755)
			os.WriteFile(filepath.Join(content, "a.bin"), make([]byte, 1<<20), 0o644)
			cfgPath := filepath.Join(dir, "station.hcl")
			os.WriteFile(cfgPath, []byte(fmt.Sprintf(hungConfig, content, tc.timeout)), 0o644)
			rpath := filepath.Join(dir, "receipts.jsonl")
			// Slow before the station sees it, which then takes it at start.
			dev := looptest.Attach(t, looptest.Sparse(t, dir, daemonSize), 0)
			looptest.Throttle(t, dev, 1<<10, 0)
			d := startDaemon(t, bin, "--include-present", "--receipts", rpath, cfgPath)
			d.waitLog(t, "flashpipe."+filepath.Base(dev)+": step: n=1/2 stage=write")
			started := time.Now()
			if tc.sigterm {
				time.Sleep(time.Second)
				d.cmd.Process.Signal(syscall.SIGTERM)
				exited := make(chan error, 1)
				go func() { exited <- d.cmd.Wait() }()
				select {
				case <-exited:
				case <-time.After(3*time.Second + 15*time.Second):
					t.Fatalf("flashpipe run still running 18 s after SIGTERM with a 3 s grace period; log:\n%s", d.log())
				}
				t.Logf("exited %v after SIGTERM", time.Since(started).Round(100*time.Millisecond))
				for _, want := range []string{"signal received: signal=terminated stop=1", "grace period over: aborting running jobs", "giving up on the stage"} {
					if !strings.Contains(d.log(), want) {
						t.Errorf("log lacks %q:\n%s", want, d.log())
					}
				}
			}
			rs := waitDaemonReceipts(t, d, rpath, 1)
			took := time.Since(started)
			if r := rs[0]; r.Result != receipts.ResultFailed || r.FailedStep != "write" || !strings.Contains(r.Error, tc.want) {
				t.Errorf("receipt = result %q, step %q, error %q; want failed in write: %s", r.Result, r.FailedStep, r.Error, tc.want)
			}
			if !tc.sigterm && took > 5*time.Second+10*time.Second {
				t.Errorf("the receipt of a write stage with a 5 s timeout came %v after the stage started, want within about 8 s", took.Round(100*time.Millisecond))
			}
			t.Logf("receipt %v after the write stage started: %s", took.Round(100*time.Millisecond), rs[0].Error)
		})
	}
}

package station

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
)

// fakeHostConfig is a profile for the fake host's stick: a small vfat
// filesystem, verified.
func fakeHostConfig(t *testing.T) *pipeline.Config {
	t.Helper()
	content := t.TempDir()
	if err := os.WriteFile(filepath.Join(content, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
source "c" { paths = [%q] }
profile "p" {
  match { vendor_id = "0781" }
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
`, content)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("fake.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	return cfg
}

type logBuf struct{ syncWriter }

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.w)
}

func newLog() (*logBuf, hclog.Logger) {
	b := &logBuf{syncWriter{w: new(strings.Builder)}}
	return b, hclog.New(&hclog.LoggerOptions{Output: b, Level: hclog.Debug})
}

// fakeRun is a station running on a fake host.
type fakeRun struct {
	st       *Station
	board    *status.Board
	logs     *logBuf
	receipts string
	stop     context.CancelFunc // cancels intake
	done     chan Summary       // Run's result
}

// run starts a station on h with the fake host's profile, a log, a new
// receipts file, events ev (may be nil) and the given rescan interval;
// its jobs run under jobs.
func (h *fakeHost) run(t *testing.T, ev Uevents, rescan time.Duration, jobs context.Context) *fakeRun {
	t.Helper()
	return h.runConfig(t, fakeHostConfig(t), ev, rescan, jobs)
}

// runConfig is run with the profiles of cfg.
func (h *fakeHost) runConfig(t *testing.T, cfg *pipeline.Config, ev Uevents, rescan time.Duration, jobs context.Context) *fakeRun {
	t.Helper()
	r := &fakeRun{receipts: filepath.Join(t.TempDir(), "r.jsonl"), done: make(chan Summary, 1)}
	var log hclog.Logger
	r.logs, log = newLog()
	opts := h.options()
	opts.Config, opts.Uevents, opts.Log, opts.Board = cfg, ev, log, status.NewBoard()
	opts.Receipts, opts.RescanInterval = r.receipts, rescan
	r.st, r.board = New(opts), opts.Board
	intake, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() { r.done <- r.st.Run(intake, jobs) }()
	waitRunning(t, r.st)
	return r
}

// TestUeventStreamEndKeepsTakingSticks: when the kernel's event stream
// ends, the station says so with the reason, and sticks are still found by
// the sysfs rescan — the log must not claim the station stopped taking them.
func TestUeventStreamEndKeepsTakingSticks(t *testing.T) {
	h := newFakeHost(t)
	ev := &fakeUevents{ch: make(chan uevent.Event), err: errors.New("recvmsg: boom")}
	close(ev.ch)
	r := h.run(t, ev, 20*time.Millisecond, context.Background())
	waitFor(t, r.logs, "uevent stream ended")
	h.plug(t)
	waitFor(t, r.logs, "done: written and verified")
	r.stop()
	if sum := <-r.done; sum.Done != 1 {
		t.Errorf("Run() = %s, want 1 done", sum)
	}
	out := r.logs.String()
	if !strings.Contains(out, "still found by the sysfs rescan") || !strings.Contains(out, "recvmsg: boom") {
		t.Errorf("log does not say the stream ended, why, and that the rescan goes on:\n%s", out)
	}
	if i, j := strings.Index(out, "no longer taking sticks"), strings.Index(out, "done: written"); i >= 0 && i < j {
		t.Errorf("log says the station stopped taking sticks before it took one:\n%s", out)
	}
}

// TestReloadStartsJobsUnderRunsContexts: a reload considers new sticks
// with the jobs context Run was given, so a shutdown abort reaches them,
// and takes no stick at all once intake has stopped.
func TestReloadStartsJobsUnderRunsContexts(t *testing.T) {
	t.Run("aborted jobs context", func(t *testing.T) {
		h := newFakeHost(t)
		jobs, abort := context.WithCancel(context.Background())
		abort() // the grace period is over
		r := h.run(t, nil, time.Hour, jobs)
		h.plug(t)
		r.st.Reload(r.st.Config())
		r.stop()
		sum := <-r.done
		rs := readReceiptsFile(t, r.receipts)
		if len(rs) != 1 || rs[0].Result != receipts.ResultFailed || !strings.Contains(rs[0].Error, "shutting down") {
			t.Errorf("receipts = %+v (summary %s), want one job aborted because the station is shutting down", rs, sum)
		}
	})
	t.Run("intake stopped", func(t *testing.T) {
		h := newFakeHost(t)
		r := h.run(t, nil, time.Hour, context.Background())
		r.stop()
		<-r.done
		h.plug(t)
		r.st.Reload(r.st.Config())
		time.Sleep(100 * time.Millisecond) // a job, if one wrongly started, writes its receipt by then
		if rs := readReceiptsFile(t, r.receipts); len(rs) != 0 {
			t.Errorf("a stick plugged after the station stopped taking sticks got a job: %v\n%s", rs, r.logs)
		}
	})
}

// TestDroppedUeventsAreLogged: datagrams the listener refused (not from
// the kernel) are reported in the log as they happen.
func TestDroppedUeventsAreLogged(t *testing.T) {
	h := newFakeHost(t)
	ev := &fakeUevents{ch: make(chan uevent.Event)}
	ev.dropped.Store(5)
	r := h.run(t, ev, 10*time.Millisecond, context.Background())
	waitFor(t, r.logs, "dropped uevent datagrams that did not come from the kernel: new=5 total=5")
	r.stop()
	<-r.done
}

func waitFor(t *testing.T, logs *logBuf, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", s, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRunning waits until Run has recorded its contexts.
func waitRunning(t *testing.T, st *Station) {
	t.Helper()
	for i := 0; ; i++ {
		st.mu.Lock()
		ok := st.baseline != nil
		st.mu.Unlock()
		if ok {
			return
		}
		if i > 3000 {
			t.Fatal("station never started")
		}
		time.Sleep(time.Millisecond)
	}
}

func readReceiptsFile(t *testing.T, path string) []receipts.Receipt {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, _, err := receipts.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

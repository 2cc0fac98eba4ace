package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/station"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

// overrideStation is a station file that sets everything run's flags
// override, to values no flag in these tests gives.
const overrideStation = `station {
  receipts    = "/file/receipts.jsonl"
  concurrency = 2
  allow_buses = ["usb"]
  grace       = "1m"
  listen      = "127.0.0.1:7001"
  token       = "file-token"
}

profile %q {
  step "wipe" {}
}
`

// stationFile writes overrideStation with profile name to dir.
func stationFile(t *testing.T, dir, profile string) string {
	t.Helper()
	return writeFile(t, dir, "station.hcl", fmt.Sprintf(overrideStation, profile))
}

// overrideFields are the station block's values run's flags override.
type overrideFields struct {
	Receipts    string
	Concurrency int
	AllowBuses  []string
	Grace       time.Duration
	Listen      string
	Token       string
}

func fieldsOf(st *pipeline.StationBlock) overrideFields {
	return overrideFields{st.Receipts, st.Concurrency, st.AllowBuses, st.Grace, st.Listen, st.Token}
}

// allFlags sets every override flag of run.
func allFlags() *runFlags {
	f := &runFlags{receipts: "/flag/receipts.jsonl", allowBus: "loop,mmc", grace: 5 * time.Second,
		listen: "127.0.0.1:7002", token: "flag-token"}
	f.legacy.concurrent = 3
	return f
}

var flagFields = overrideFields{"/flag/receipts.jsonl", 3, []string{"loop", "mmc"}, 5 * time.Second, "127.0.0.1:7002", "flag-token"}
var fileFields = overrideFields{"/file/receipts.jsonl", 2, []string{"usb"}, time.Minute, "127.0.0.1:7001", "file-token"}

// TestRunOverride: each of run's flags, when given, replaces its station
// block attribute (-n 3 the concurrency, --allow-bus loop,mmc the buses);
// a flag not given leaves the file's value.
func TestRunOverride(t *testing.T) {
	f := stationFile(t, t.TempDir(), "p")
	for _, tc := range []struct {
		name  string
		flags *runFlags
		want  overrideFields
	}{
		{"no flags", &runFlags{}, fileFields},
		{"every flag", allFlags(), flagFields},
	} {
		cfg, err := tc.flags.loadConfig(io.Discard, []string{f})
		if err != nil {
			t.Fatalf("%s: loadConfig(%s) = %v", tc.name, f, err)
		}
		if diff := cmp.Diff(tc.want, fieldsOf(cfg.Station)); diff != "" {
			t.Errorf("%s: station block after the overrides (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestReloadKeepsOverrides: after a reload (SIGHUP, or a station file
// changed on disk) the station's config holds the reloaded profiles and
// still the command line's receipts, concurrency, buses, grace, address and
// token, not the file's.
func TestReloadKeepsOverrides(t *testing.T) {
	dir := t.TempDir()
	f := stationFile(t, dir, "old")
	flags := allFlags()
	cfg, err := flags.loadConfig(io.Discard, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	st := station.New(station.Options{Config: cfg, Log: hclog.NewNullLogger()})
	stationFile(t, dir, "new")
	var stderr bytes.Buffer
	flags.reload([]string{f}, st, hclog.NewNullLogger(), &stderr)
	got := st.Config()
	if len(got.Profiles) != 1 || got.Profiles[0].Name != "new" {
		t.Fatalf("profiles after the reload = %v, want new; stderr:\n%s", profileNames(got), stderr.String())
	}
	if diff := cmp.Diff(flagFields, fieldsOf(got.Station)); diff != "" {
		t.Errorf("station block after a reload (-want +got):\n%s", diff)
	}
}

// TestStationLog: run logs to stderr; with station.log_file to the file
// too; with the live table to the file only (station.log_file, else
// flashpipe.log beside the receipts), saying so on stderr.
func TestStationLog(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "set.log")
	beside := filepath.Join(dir, "flashpipe.log")
	for _, tc := range []struct {
		name       string
		logFile    string
		table      bool
		wantStderr string // a line stderr holds
		wantFile   string // the file that gets the log line, or ""
	}{
		{"plain", "", false, "station test line", ""},
		{"plain with log_file", logFile, false, "station test line", logFile},
		{"table", "", true, "flashpipe: logging to " + beside + "\n", beside},
		{"table with log_file", logFile, true, "flashpipe: logging to " + logFile + "\n", logFile},
	} {
		os.Remove(logFile)
		os.Remove(beside)
		st := &pipeline.StationBlock{Receipts: filepath.Join(dir, "receipts.jsonl"), LogFile: tc.logFile}
		var stderr bytes.Buffer
		log, closeLog, err := stationLog(st, tc.table, "info", "text", &stderr)
		if err != nil {
			t.Fatalf("%s: stationLog = %v", tc.name, err)
		}
		log.Info("station test line")
		closeLog()
		if !strings.Contains(stderr.String(), tc.wantStderr) {
			t.Errorf("%s: stderr = %q, want it to hold %q", tc.name, stderr.String(), tc.wantStderr)
		}
		if tc.table && strings.Contains(stderr.String(), "station test line") {
			t.Errorf("%s: stderr = %q, want no log lines under the live table", tc.name, stderr.String())
		}
		for _, p := range []string{logFile, beside} {
			b, _ := os.ReadFile(p)
			if got, want := strings.Contains(string(b), "station test line"), p == tc.wantFile; got != want {
				t.Errorf("%s: %s holds the log line = %v, want %v", tc.name, p, got, want)
			}
		}
	}
	st := &pipeline.StationBlock{LogFile: filepath.Join(dir, "missing", "x.log")}
	if _, _, err := stationLog(st, false, "info", "text", io.Discard); err == nil || !strings.HasPrefix(err.Error(), "log file: ") {
		t.Errorf("stationLog(log_file in a missing folder) = %v, want a log file error", err)
	}
}

// TestSupervisorLoop: SIGHUP reloads; the first SIGTERM stops, the end of
// run's context is the second stop; the loop ends with the jobs.
func TestSupervisorLoop(t *testing.T) {
	reloads := make(chan struct{}, 1)
	stops := make(chan int, 1)
	s := &supervisor{reload: func() { reloads <- struct{}{} }, log: hclog.NewNullLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs, done, ended := make(chan os.Signal), make(chan struct{}), make(chan struct{})
	go func() {
		s.loop(ctx, sigs, done, func(n int) { stops <- n })
		close(ended)
	}()
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	stop := func(want int) {
		t.Helper()
		select {
		case n := <-stops:
			if n != want {
				t.Errorf("stop(%d), want stop(%d)", n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no stop(%d)", want)
		}
	}
	sigs <- syscall.SIGHUP
	wait("reload after SIGHUP", reloads)
	sigs <- syscall.SIGTERM
	stop(1)
	cancel()
	stop(2)
	sigs <- syscall.SIGINT // after the abort, while the last jobs end: still answered
	stop(3)
	close(done)
	wait("end of the loop after the jobs ended", ended)
}

// TestEverySignalLogged: every signal the station gets is in its log,
// also those after the grace period, which say what the station waits for.
func TestEverySignalLogged(t *testing.T) {
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs})
	s := &supervisor{reload: func() {}, log: log}
	sigs, done, ended := make(chan os.Signal), make(chan struct{}), make(chan struct{})
	intake, stopIntake := context.WithCancel(context.Background())
	jobs, abort := context.WithCancel(context.Background())
	defer stopIntake()
	go func() {
		s.loop(context.Background(), sigs, done, func(n int) { shutdown(n, time.Hour, log, stopIntake, abort) })
		close(ended)
	}()
	for _, sig := range []os.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGTERM, syscall.SIGINT} {
		sigs <- sig
	}
	close(done)
	<-ended
	out := logs.String()
	for _, want := range []string{"signal received: reloading: signal=hangup", "signal received: signal=terminated stop=1",
		"signal received: signal=terminated stop=2", "second signal: aborting running jobs now",
		"signal received: signal=interrupt stop=3", "already aborting"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if intake.Err() == nil || jobs.Err() == nil {
		t.Errorf("after two stop signals: intake %v, jobs %v; want both cancelled", intake.Err(), jobs.Err())
	}
}

// TestFileWatch: a station file's change (size or mtime) is noticed once;
// the implicit profile has no files to watch.
func TestFileWatch(t *testing.T) {
	f := writeFile(t, t.TempDir(), "station.hcl", "profile \"a\" {}\n")
	w := newFileWatch([]string{f})
	if w.changed() {
		t.Errorf("changed() before any change = true, want false")
	}
	writeFile(t, filepath.Dir(f), "station.hcl", "profile \"ab\" {}\n")
	if !w.changed() {
		t.Errorf("changed() after a write = false, want true")
	}
	if w.changed() {
		t.Errorf("changed() again without a change = true, want false")
	}
	if w := newFileWatch([]string{implicitFile}); w != nil {
		t.Errorf("newFileWatch(%q) = %v, want nil", implicitFile, w)
	}
}

// TestRunRefusesUnwritableReceipts: run does not start a station whose
// receipts cannot be written, and says why and what to do.
func TestRunRefusesUnwritableReceipts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "content/a.txt", "a\n")
	missing := filepath.Join(dir, "missing", "receipts.jsonl")
	code, errs := runBounded(t, "run", "--no-table", "--receipts", missing, "-c", filepath.Join(dir, "content"))
	if code == 0 || !strings.Contains(errs, "cannot record jobs") || !strings.Contains(errs, missing) ||
		!strings.Contains(errs, "--receipts") || strings.Contains(errs, "station running") {
		t.Errorf("run --receipts %s = %d, stderr:\n%s\nwant it refused before it starts, naming the file and --receipts", missing, code, errs)
	}
}

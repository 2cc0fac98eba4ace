package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
)

// runFlags are run's flags: what to load, and the station's own.
type runFlags struct {
	lo     loadOptions
	legacy legacyFlags // -n is legacy.concurrent

	includePresent bool
	allowBus       string
	receipts       string
	grace          time.Duration
	listen         string
	token          string
	logLevel       string
	logFormat      string
	noTable        bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [FILE|DIR... | -c PATH [-c PATH] [-x EXT] [--label L] [-n N]]",
		Short: "Run the station: write every stick inserted from now on",
		Long: `run is the station. It listens to kernel uevents (no udevd needed), takes each
whole disk inserted after it started, checks it with the safety guard, routes it
to the first matching profile by priority, and runs up to N jobs at once. Sticks
present at start are left alone unless --include-present.

It does not start while another station runs on this machine, or when its
receipts file cannot be written. At start it writes a receipt with result
"interrupted" for each job the last station was running when it was killed or
lost power (from the journal beside the receipts file). While a receipt cannot
be written, finished sticks wait for it and no new stick is taken.

SIGINT/SIGTERM: stop taking sticks, let running jobs finish within the grace
period, then abort the rest; a second signal aborts at once. Every signal is
logged. A job whose stick stopped answering is given up a few seconds after
it is aborted (or its step times out), with its receipt, so the station
stops within the grace period and a few seconds. SIGHUP, or a change to a
station file on disk, reloads the profiles for new jobs; a broken reload
keeps the old profiles.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStation(cmd.Context(), &f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.lo.register(cmd)
	f.legacy.register(cmd, false)
	f.legacy.registerImage(cmd)
	f.legacy.registerConcurrent(cmd, "sticks written at once (overrides station.concurrency)")
	fl := cmd.Flags()
	fl.BoolVar(&f.includePresent, "include-present", false, "also take sticks present when the station starts")
	fl.StringVar(&f.allowBus, "allow-bus", "", "buses to write to, e.g. usb,mmc,loop (overrides station.allow_buses)")
	fl.StringVar(&f.receipts, "receipts", "", "receipts file (overrides station.receipts)")
	fl.StringVar(&f.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.DurationVar(&f.grace, "grace", 0, "on SIGTERM, how long running jobs may finish (overrides station.grace)")
	fl.StringVar(&f.listen, "listen", "", "serve the dashboard, API and metrics on this address (overrides station.listen)")
	fl.StringVar(&f.token, "token", "", "bearer token for the dashboard (required off loopback)")
	fl.BoolVar(&f.noTable, "no-table", false, "plain log lines even on a terminal")
	return cmd
}

// override writes the command line's settings over the station block's:
// the one place they are merged, for the config run starts with and for
// every config a reload loads. Everything that reads the station block
// (the station, the log, the views, the grace period) then reads one
// value.
func (f *runFlags) override(st *pipeline.StationBlock) {
	if f.receipts != "" {
		st.Receipts = f.receipts
	}
	if f.legacy.concurrent > 0 {
		st.Concurrency = f.legacy.concurrent
	}
	if f.allowBus != "" {
		st.AllowBuses = strings.Split(f.allowBus, ",")
	}
	if f.grace > 0 {
		st.Grace = f.grace
	}
	if f.listen != "" {
		st.Listen = f.listen
	}
	if f.token != "" {
		st.Token = f.token
	}
}

// loadConfig loads the station files (or the implicit profile) with the
// command line's overrides.
func (f *runFlags) loadConfig(stderr io.Writer, args []string) (*pipeline.Config, error) {
	_, cfg, err := loadChecked(stderr, &f.lo, &f.legacy, args, true)
	if err != nil {
		return nil, err
	}
	f.override(cfg.Station)
	return cfg, nil
}

// runStation is run: it starts the station, its log and its views, and
// serves sticks until it is stopped.
func runStation(ctx context.Context, f *runFlags, args []string, stdout, stderr io.Writer) error {
	cfg, err := f.loadConfig(stderr, args)
	if err != nil {
		return err
	}
	unlock, err := lockStation(stationLockPath(), cfg.Station.Receipts)
	if err != nil {
		return err
	}
	defer unlock()
	table := isTerminal(stdout) && !f.noTable
	log, closeLog, err := stationLog(cfg.Station, table, f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	board := status.NewBoard()
	st, listener, err := newStation(cfg, f.includePresent, log, board)
	if err != nil {
		return err
	}
	defer listener.Close()
	views, stopViews := context.WithCancel(context.Background())
	defer stopViews()
	if err := startViews(views, stdout, table, board, cfg.Station, st.Config, stationCounts{listener.Dropped, listener.Overflows, st.GuardRefusals, st.PoolRows}, log); err != nil {
		return err
	}
	sv := &supervisor{st: st, grace: cfg.Station.Grace, watch: newFileWatch(cfg.Files), log: log,
		reload: func() { f.reload(args, st, log, stderr) }}
	sum := sv.run(ctx, cfg)
	stopViews()
	fmt.Fprintf(stdout, "flashpipe: stopped: %s\n", sum)
	return nil
}

// stationLog opens run's log. With the live table on the terminal, log
// lines would tear it: they go to the log file only (station.log_file, or
// flashpipe.log beside the receipts). Without a terminal they go to
// stderr, and to station.log_file too when it is set. The caller calls
// the function returned when it is done logging.
func stationLog(st *pipeline.StationBlock, table bool, level, format string, stderr io.Writer) (hclog.Logger, func(), error) {
	path := st.LogFile
	if path == "" && table {
		path = filepath.Join(filepath.Dir(st.Receipts), "flashpipe.log")
	}
	if path == "" {
		return newLogger(stderr, level, format), func() {}, nil
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	out := io.MultiWriter(stderr, file)
	if table {
		out = file
		fmt.Fprintf(stderr, "flashpipe: logging to %s\n", path)
	}
	return newLogger(out, level, format), func() { file.Close() }, nil
}

// newStation checks that cfg can run as a station — it has profiles, and
// its receipts can be written (station.Open) — and returns the station
// over the kernel's uevents; the caller closes the listener.
func newStation(cfg *pipeline.Config, includePresent bool, log hclog.Logger, board *status.Board) (*station.Station, *uevent.Listener, error) {
	if len(cfg.Profiles) == 0 {
		return nil, nil, fmt.Errorf("the station files hold no profile: every stick would be left untouched")
	}
	if os.Geteuid() != 0 {
		log.Warn("not running as root: sticks cannot be opened for writing; run with sudo")
	}
	listener, err := uevent.Listen()
	if err != nil {
		return nil, nil, fmt.Errorf("listen for kernel uevents: %w", err)
	}
	sysfs, procfs := matchers.OSRoots()
	st := station.New(station.Options{
		Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, DevDir: "/dev",
		Uevents: listener, IncludePresent: includePresent, Log: log, Board: board,
	})
	// Before anything is shown or served: a station that cannot record
	// its jobs does not start.
	if err := st.Open(); err != nil {
		listener.Close()
		return nil, nil, err
	}
	return st, listener, nil
}

// reload loads the station files again, with the command line's
// overrides, and swaps the station's profiles; a broken file keeps the
// old ones.
func (f *runFlags) reload(args []string, st *station.Station, log hclog.Logger, stderr io.Writer) {
	if f.legacy.active() {
		log.Info("reload ignored: the implicit profile from -c has no files")
		return
	}
	l, cfg, diags, err := f.lo.load(args)
	if err != nil {
		log.Error("reload failed; keeping the old profiles", "error", err)
		return
	}
	if diags.HasErrors() {
		printDiags(stderr, l, diags)
		log.Error("reload failed; keeping the old profiles", "errors", len(diags.Errs()))
		return
	}
	f.override(cfg.Station)
	st.Reload(cfg)
}

// supervisor runs a station and reacts to the outside: SIGINT, SIGTERM
// or the end of run's context stop it (a second time: abort it), SIGHUP
// or a changed station file reloads it.
type supervisor struct {
	st     *station.Station
	grace  time.Duration // how long running jobs may finish after a stop
	watch  *fileWatch    // nil: no files to watch
	reload func()
	log    hclog.Logger
}

// run runs the station until it has stopped and returns what it did.
func (s *supervisor) run(ctx context.Context, cfg *pipeline.Config) station.Summary {
	intake, stopIntake := context.WithCancel(context.Background())
	jobs, abort := context.WithCancel(context.Background())
	defer stopIntake()
	defer abort()
	// Signals are caught before the log says the station runs: a SIGHUP
	// sent on that line must reload, not kill, the station.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	stop := func(n int) { shutdown(n, s.grace, s.log, stopIntake, abort) }
	// The loop runs until Run has returned, so that no signal goes
	// unanswered while the last jobs end.
	ran := make(chan struct{})
	looped := make(chan struct{})
	go func() { s.loop(ctx, sigs, ran, stop); close(looped) }()
	s.log.Info("station running", "name", cfg.Station.Name, "profiles", len(cfg.Profiles), "concurrency", cfg.Station.Concurrency, "receipts", cfg.Station.Receipts)
	sum := s.st.Run(intake, jobs)
	abort()
	close(ran)
	<-looped
	return sum
}

// loop handles signals and file changes until done: stop(n) on the n-th
// stop (a stop signal, or the end of ctx), reload on SIGHUP or when a
// station file changed on disk.
func (s *supervisor) loop(ctx context.Context, sigs <-chan os.Signal, done <-chan struct{}, stop func(n int)) {
	stops := 0
	var tick <-chan time.Time
	if s.watch != nil {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			ctx = context.Background()
			stops++
			stop(stops)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				s.log.Info("signal received: reloading", "signal", sig.String())
				s.reload()
				continue
			}
			stops++
			s.log.Info("signal received", "signal", sig.String(), "stop", stops)
			stop(stops)
		case <-tick:
			if s.watch.changed() {
				s.log.Info("a station file changed on disk")
				s.reload()
			}
		case <-done:
			return
		}
	}
}

// shutdown reacts to the n-th stop signal.
func shutdown(n int, grace time.Duration, log hclog.Logger, stopIntake, abort context.CancelFunc) {
	if n > 2 {
		log.Warn("already aborting: the station stops once every job has written its receipt; a stage stuck in the kernel is given up within seconds")
		return
	}
	if n > 1 {
		log.Warn("second signal: aborting running jobs now")
		abort()
		return
	}
	log.Info("stopping: no new sticks; running jobs may finish", "grace", grace)
	stopIntake()
	time.AfterFunc(grace, func() {
		log.Warn("grace period over: aborting running jobs")
		abort()
	})
}

// fileWatch notices changes to the station files by size and mtime.
type fileWatch struct {
	files []string
	stamp map[string]string
}

func newFileWatch(files []string) *fileWatch {
	if len(files) == 0 || files[0] == implicitFile {
		return nil
	}
	w := &fileWatch{files: files}
	w.stamp = w.read()
	return w
}

func (w *fileWatch) read() map[string]string {
	m := map[string]string{}
	for _, f := range w.files {
		if st, err := os.Stat(f); err == nil {
			m[f] = fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
		}
	}
	return m
}

func (w *fileWatch) changed() bool {
	now := w.read()
	changed := fmt.Sprint(now) != fmt.Sprint(w.stamp)
	w.stamp = now
	return changed
}

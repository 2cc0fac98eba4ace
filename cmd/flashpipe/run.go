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

// stationFlags are run's own flags.
type stationFlags struct {
	includePresent bool
	allowBus       string
	receipts       string
	logLevel       string
	logFormat      string
	grace          time.Duration
	listen         string
	token          string
	noTable        bool
}

func newRunCmd() *cobra.Command {
	var lo loadOptions
	var legacy legacyFlags
	var sf stationFlags
	cmd := &cobra.Command{
		Use:   "run [FILE|DIR... | -c PATH [-c PATH] [-x EXT] [--label L] [-n N]]",
		Short: "Run the station: write every stick inserted from now on",
		Long: `run is the station. It listens to kernel uevents (no udevd needed), takes each
whole disk inserted after it started, checks it with the safety guard, routes it
to the first matching profile by priority, and runs up to N jobs at once. Sticks
present at start are left alone unless --include-present.

SIGINT/SIGTERM: stop taking sticks, let running jobs finish within the grace
period, then abort the rest; a second signal aborts at once. SIGHUP, or a change
to a station file on disk, reloads the profiles for new jobs; a broken reload
keeps the old profiles.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStation(cmd, &lo, &legacy, &sf, args)
		},
	}
	lo.register(cmd)
	legacy.register(cmd, false)
	fl := cmd.Flags()
	legacy.registerConcurrent(cmd, "sticks written at once (overrides station.concurrency)")
	fl.BoolVar(&sf.includePresent, "include-present", false, "also take sticks present when the station starts")
	fl.StringVar(&sf.allowBus, "allow-bus", "", "buses to write to, e.g. usb,mmc,loop (overrides station.allow_buses)")
	fl.StringVar(&sf.receipts, "receipts", "", "receipts file (overrides station.receipts)")
	fl.StringVar(&sf.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fl.StringVar(&sf.logFormat, "log-format", "text", "text or json")
	fl.DurationVar(&sf.grace, "grace", 0, "on SIGTERM, how long running jobs may finish (overrides station.grace)")
	fl.StringVar(&sf.listen, "listen", "", "serve the dashboard, API and metrics on this address (overrides station.listen)")
	fl.StringVar(&sf.token, "token", "", "bearer token for the dashboard (required off loopback)")
	fl.BoolVar(&sf.noTable, "no-table", false, "plain log lines even on a terminal")
	return cmd
}

func runStation(cmd *cobra.Command, lo *loadOptions, legacy *legacyFlags, sf *stationFlags, args []string) error {
	stderr := cmd.ErrOrStderr()
	l, cfg, err := loadChecked(cmd.ErrOrStderr(), lo, legacy, args, true)
	if err != nil {
		return err
	}
	if sf.receipts != "" {
		cfg.Station.Receipts = sf.receipts
	}
	// With the live table on the terminal, log lines would tear it: they
	// go to the log file only (station.log_file, or flashpipe.log beside
	// the receipts). Without a terminal they go to stderr too.
	table := isTerminal(cmd.OutOrStdout()) && !sf.noTable
	logPath := cfg.Station.LogFile
	if logPath == "" && table {
		logPath = filepath.Join(filepath.Dir(cfg.Station.Receipts), "flashpipe.log")
	}
	var logOut io.Writer = stderr
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("log file: %w", err)
		}
		defer f.Close()
		logOut = f
		if !table {
			logOut = io.MultiWriter(stderr, f)
		} else {
			fmt.Fprintf(stderr, "flashpipe: logging to %s\n", logPath)
		}
	}
	log := newLogger(logOut, sf.logLevel, sf.logFormat)
	if len(cfg.Profiles) == 0 {
		return fmt.Errorf("the station files hold no profile: every stick would be left untouched")
	}
	if os.Geteuid() != 0 {
		log.Warn("not running as root: sticks cannot be opened for writing; run with sudo")
	}
	var buses []string
	if sf.allowBus != "" {
		buses = strings.Split(sf.allowBus, ",")
	}
	listener, err := uevent.Listen()
	if err != nil {
		return fmt.Errorf("listen for kernel uevents: %w", err)
	}
	defer listener.Close()

	board := status.NewBoard()
	sysfs, procfs := matchers.OSRoots()
	st := station.New(station.Options{
		Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, DevDir: "/dev",
		Uevents: listener, IncludePresent: sf.includePresent, AllowBuses: buses,
		Concurrency: legacy.concurrent, Receipts: sf.receipts, Log: log, Board: board,
	})

	intake, stopIntake := context.WithCancel(context.Background())
	jobs, abort := context.WithCancel(context.Background())
	defer stopIntake()
	defer abort()

	views, stopViews := context.WithCancel(context.Background())
	defer stopViews()
	if err := startViews(views, cmd, board, cfg, st.Config, listener.Dropped, sf, log); err != nil {
		return err
	}

	grace := cfg.Station.Grace
	if sf.grace > 0 {
		grace = sf.grace
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		ctx := cmd.Context()
		stops := 0
		var reload <-chan time.Time
		watch := newFileWatch(cfg.Files)
		if watch != nil {
			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
			reload = t.C
		}
		for {
			select {
			case <-ctx.Done():
				ctx = context.Background()
				stops++
				shutdown(stops, grace, log, stopIntake, abort)
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					reloadConfig(lo, l, args, st, log, stderr, legacy.active())
					continue
				}
				stops++
				shutdown(stops, grace, log, stopIntake, abort)
			case <-reload:
				if watch.changed() {
					log.Info("a station file changed on disk")
					reloadConfig(lo, l, args, st, log, stderr, legacy.active())
				}
			case <-jobs.Done():
				return
			}
		}
	}()
	conc := cfg.Station.Concurrency
	if legacy.concurrent > 0 {
		conc = legacy.concurrent
	}
	log.Info("station running", "name", cfg.Station.Name, "profiles", len(cfg.Profiles), "concurrency", conc, "receipts", cfg.Station.Receipts)
	sum := st.Run(intake, jobs)
	abort()
	stopViews()
	fmt.Fprintf(cmd.OutOrStdout(), "flashpipe: stopped: %s\n", sum)
	return nil
}

// shutdown reacts to the n-th stop signal.
func shutdown(n int, grace time.Duration, log hclog.Logger, stopIntake, abort context.CancelFunc) {
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

// reloadConfig validates the station files again and swaps the profiles;
// a broken file keeps the old ones.
func reloadConfig(lo *loadOptions, old *pipeline.Loader, args []string, st *station.Station, log hclog.Logger, stderr io.Writer, legacy bool) {
	if legacy {
		log.Info("reload ignored: the implicit profile from -c has no files")
		return
	}
	l, cfg, diags, err := lo.load(args)
	if err != nil {
		log.Error("reload failed; keeping the old profiles", "error", err)
		return
	}
	if diags.HasErrors() {
		printDiags(stderr, l, diags)
		log.Error("reload failed; keeping the old profiles", "errors", len(diags.Errs()))
		return
	}
	st.Reload(cfg)
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

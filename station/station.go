// Package station is the daemon: it watches kernel uevents for block
// devices, identifies each new stick from sysfs, lets the safety guard and
// the profiles decide whether and how it is written, and runs one job per
// stick, up to the station's concurrency, each independent of the others.
package station

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/pool"
	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
)

// Options configure a Station. Roots are injected so tests can run a
// station over fixtures; cmd/flashpipe passes the real ones.
type Options struct {
	Config *pipeline.Config

	Sysfs     fs.FS  // the sysfs root ("/sys")
	SysfsRoot string // the same root as a path, for eject
	Procfs    fs.FS  // "/proc", for mountinfo and swaps
	DevDir    string // "/dev"

	// Uevents is the kernel's event stream (a *uevent.Listener); nil runs
	// on the periodic sysfs rescan alone.
	Uevents Uevents

	IncludePresent bool   // also take sticks present at start
	Concurrency    int    // overrides station.concurrency when > 0
	Receipts       string // overrides station.receipts when set
	// GuardOverride skips the guard's pre-write check (flash
	// --i-know-what-i-am-doing); the identity re-check still runs.
	GuardOverride bool

	// RescanInterval is how often the station reconciles with sysfs even
	// without a gap in the uevent stream (default 5 s): a uevent can
	// arrive before the kernel has set the disk's size, and a later one
	// may never come.
	RescanInterval time.Duration

	Log   hclog.Logger
	Board *status.Board // nil: no live view
}

// Uevents is a source of kernel uevents: uevent.Listener.
type Uevents interface {
	// Events delivers uevents; it is closed when the source stops.
	Events() <-chan uevent.Event
	// Err says why Events closed, or nil.
	Err() error
	// Dropped counts datagrams refused as not from the kernel.
	Dropped() uint64
}

// Station runs jobs for sticks. Create it with New and start it with Run.
type Station struct {
	opts  Options
	log   hclog.Logger
	cfg   atomic.Pointer[pipeline.Config]
	slots chan struct{}

	// intake and jobs are Run's contexts: no stick is taken once intake
	// is done, and every job runs under jobs, also those a reload starts.
	intakeCtx, jobsCtx context.Context
	dropped            uint64 // Uevents.Dropped() last logged

	mu       sync.Mutex
	baseline *matchers.Baseline
	jobs     map[string]*stick // by kernel name, while a job holds the device
	seen     map[string]uint64 // name → diskseq already decided (ignored or done)
	lastRow  map[string]int    // name → board row of its last job, kept until the stick is pulled
	// held names a disk whose job ejected it. Eject's START STOP UNIT makes
	// the kernel report a media change (a new diskseq) before the stick
	// leaves the bus; that must not start a second job on the same stick.
	// A held disk is let go when it is removed or reports no medium.
	held   map[string]bool
	seq    int // job.seq of the last job
	rows   int // board row ids, for jobs and ignored sticks alike
	wg     sync.WaitGroup
	counts Summary

	refusals refusalCounts // the guard's refusals by kind (a lock of its own)

	// The receipts (receipts.go): the journal of running jobs (nil until
	// Open, and for Flash), the jobs the last station left unfinished, why
	// the last receipt could not be written (nil when it could: then
	// sticks are taken), and the disks not taken meanwhile (logged once
	// per insertion).
	opened      bool
	journal     *receipts.Journal
	interrupted []receipts.Unfinished
	receiptErr  error
	waiting     map[string]uint64
	pools       map[string]*pool.Pool // open and locked by Open
}

// Summary counts what a station did. Done counts sticks written and
// verified; Unverified those written without a verify step; Interrupted
// the jobs the last station left unfinished, found at start.
type Summary struct {
	Done, Unverified, Failed, Removed, Interrupted, Ignored, Refused int
}

func (s Summary) String() string {
	return fmt.Sprintf("%d done, %d unverified, %d failed, %d removed, %d interrupted, %d ignored, %d refused",
		s.Done, s.Unverified, s.Failed, s.Removed, s.Interrupted, s.Ignored, s.Refused)
}

// add counts one job that ended with result r.
func (s *Summary) add(r receipts.Result) {
	switch r {
	case receipts.ResultDone:
		s.Done++
	case receipts.ResultUnverified:
		s.Unverified++
	case receipts.ResultRemoved:
		s.Removed++
	case receipts.ResultInterrupted:
		s.Interrupted++
	default:
		s.Failed++
	}
}

// refusalCounts counts the safety guard's refusals by kind.
type refusalCounts struct {
	mu sync.Mutex
	n  map[matchers.RefusalKind]uint64
}

// count counts err if it is a *matchers.Refusal, and returns it.
func (c *refusalCounts) count(err error) error {
	var r *matchers.Refusal
	if errors.As(err, &r) {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[matchers.RefusalKind]uint64{}
		}
		c.n[r.Kind]++
		c.mu.Unlock()
	}
	return err
}

// GuardRefusals returns how often the safety guard refused a disk since
// the station was created, by kind: when a new disk was considered, and
// when the check right before a job's first write refused it (the job
// then fails). Kinds never seen are missing.
func (s *Station) GuardRefusals() map[matchers.RefusalKind]uint64 {
	s.refusals.mu.Lock()
	defer s.refusals.mu.Unlock()
	return maps.Clone(s.refusals.n)
}

// New returns a station. It takes no action until Run.
func New(opts Options) *Station {
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	if opts.DevDir == "" {
		opts.DevDir = "/dev"
	}
	s := &Station{opts: opts, log: opts.Log, jobs: map[string]*stick{}, seen: map[string]uint64{}, lastRow: map[string]int{}, held: map[string]bool{},
		waiting: map[string]uint64{}}
	s.cfg.Store(opts.Config)
	n := opts.Concurrency
	if n <= 0 {
		n = opts.Config.Station.Concurrency
	}
	s.slots = make(chan struct{}, max(n, 1))
	return s
}

// Config returns the profiles new jobs use.
func (s *Station) Config() *pipeline.Config { return s.cfg.Load() }

// Reload swaps the profiles for new jobs; running jobs keep theirs. While
// the station runs, sticks that waited for a profile are considered again.
func (s *Station) Reload(cfg *pipeline.Config) {
	s.mu.Lock()
	if s.opened {
		if err := s.openPools(cfg); err != nil {
			s.log.Error("a pool of the reloaded files cannot be opened; its profiles take no sticks", "error", err)
		}
	}
	s.mu.Unlock()
	s.cfg.Store(cfg)
	s.log.Info("profiles reloaded", "files", cfg.Files, "profiles", len(cfg.Profiles))
	s.mu.Lock()
	running := s.jobsCtx != nil
	s.mu.Unlock()
	if running {
		s.rescan()
	}
}

func (s *Station) guard() matchers.Guard {
	return matchers.Guard{AllowedBuses: s.Config().Station.AllowBuses}
}

func (s *Station) receiptsPath() string {
	if s.opts.Receipts != "" {
		return s.opts.Receipts
	}
	return s.Config().Station.Receipts
}

// Run records the devices present now (left alone unless
// IncludePresent), then takes sticks until intake is cancelled. It then
// waits for running jobs until jobs is cancelled too, and returns what the
// station did. Cancel intake first and jobs after a grace period for a
// clean shutdown; cancel both at once to abort.
//
// Run calls Open first if the caller did not; when Open fails it logs why
// and returns at once: a station that cannot record its jobs takes no
// stick. It closes the journal when it returns.
func (s *Station) Run(intake, jobs context.Context) Summary {
	if err := s.Open(); err != nil {
		s.log.Error("the station cannot start", "error", err)
		return Summary{}
	}
	defer s.closeJournal()
	defer s.closePools()
	present, _ := s.scanAll()
	s.showInterrupted(present)
	s.mu.Lock()
	s.intakeCtx, s.jobsCtx = intake, jobs
	if s.opts.IncludePresent {
		s.baseline = matchers.NewBaseline(nil)
	} else {
		s.baseline = matchers.NewBaseline(present)
		for _, d := range present {
			s.seen[d.Name] = d.DiskSeq
		}
	}
	s.mu.Unlock()
	if s.opts.IncludePresent {
		for _, d := range present {
			s.consider(d.Name, "present at start")
		}
	} else {
		var names []string
		for _, d := range present {
			names = append(names, d.Name)
		}
		s.log.Info("station started; devices present now are left alone", "present", names)
	}
	interval := s.opts.RescanInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var events <-chan uevent.Event
	if s.opts.Uevents != nil {
		events = s.opts.Uevents.Events()
	}
	for {
		select {
		case <-tick.C:
			s.logDropped()
			s.rescan()
		case <-intake.Done():
			s.log.Info("no longer taking sticks; waiting for running jobs")
			s.wg.Wait()
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.counts
		case ev, ok := <-events:
			if !ok {
				s.log.Error("the kernel uevent stream ended; new sticks are still found by the sysfs rescan", "every", interval, "error", s.opts.Uevents.Err())
				events = nil
				continue
			}
			s.handle(ev)
		}
	}
}

// logDropped logs datagrams the uevent listener refused since last time:
// something other than the kernel sent to the uevent socket.
func (s *Station) logDropped() {
	if s.opts.Uevents == nil {
		return
	}
	if n := s.opts.Uevents.Dropped(); n > s.dropped {
		s.log.Warn("dropped uevent datagrams that did not come from the kernel", "new", n-s.dropped, "total", n)
		s.dropped = n
	}
}

// handle acts on one uevent.
func (s *Station) handle(ev uevent.Event) {
	if ev.Action == uevent.ActionResync {
		s.log.Warn("uevents may have been lost; rescanning sysfs")
		s.rescan()
		return
	}
	if ev.Subsystem != "block" || ev.DevType != "disk" {
		return
	}
	name := ev.DevName
	if name == "" {
		name = path.Base(ev.DevPath)
	}
	switch ev.Action {
	case "add":
		s.consider(name, "add")
	case "change":
		// Media inserted in a card reader, or a loop device attached.
		if ev.Env["DISK_MEDIA_CHANGE"] == "1" || isLoop(name) {
			s.consider(name, "change")
		}
	case "remove":
		s.removeHint(name)
	}
}

// removeHintDelays are when the station looks again at a disk that a
// remove event named while sysfs still showed it: the kernel sends the
// event before it takes the disk out of sysfs, and a remove event can be
// sent for a disk that stays (echo remove > /sys/block/X/uevent).
var removeHintDelays = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}

// removeHint acts on a remove event as a hint, as consider does on an
// add: the disk counts as removed only once sysfs confirms it (gone). If
// sysfs still shows the same disk after the last delay, the event is
// logged and ignored: its job goes on and its finished row stays. The
// rescan removes what vanished without an event.
func (s *Station) removeHint(name string) {
	if s.gone(name) {
		s.removed(name)
		return
	}
	go func() {
		for _, d := range removeHintDelays {
			time.Sleep(d)
			if s.gone(name) {
				s.removed(name)
				s.consider(name, "after remove") // a new stick may have its name already
				return
			}
		}
		s.log.Named(printable.String(name)).Warn("ignored a remove event: the disk is still there, unchanged (same diskseq, serial and size)")
	}()
}

// gone reports whether the disk name has left since the station decided
// about it: sysfs no longer shows it, it has no medium, or it is another
// disk now (diskseq, serial or size differ from its job's, or its diskseq
// from the one the station decided about).
func (s *Station) gone(name string) bool {
	d, err := matchers.ReadFrom(s.opts.Sysfs, s.opts.Procfs, name)
	if err != nil || d.Size == 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jobs[name]; j != nil {
		return j.dev.DiskSeq != d.DiskSeq || j.dev.Serial != d.Serial || j.dev.Size != d.Size
	}
	seq, ok := s.seen[name]
	return !ok || seq != d.DiskSeq
}

func isLoop(name string) bool { return len(name) > 4 && name[:4] == "loop" }

// scanAll reads every whole disk in sysfs. listed holds the name of every
// disk sysfs lists, also those that could not be read; it is nil when
// sysfs could not be listed at all.
func (s *Station) scanAll() (devs []*matchers.Device, listed map[string]bool) {
	names, err := matchers.List(s.opts.Sysfs)
	if err != nil {
		s.log.Error("cannot list block devices", "error", err)
		return nil, nil
	}
	listed = map[string]bool{}
	for _, n := range names {
		listed[n] = true
		d, err := matchers.ReadFrom(s.opts.Sysfs, s.opts.Procfs, n)
		if err != nil {
			continue
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	return devs, listed
}

// rescan reconciles with sysfs: new disks are considered, vanished ones
// — with a job, or with a row on the board — are treated as removed.
func (s *Station) rescan() {
	devs, listed := s.scanAll()
	now := map[string]bool{}
	for _, d := range devs {
		now[d.Name] = true
		s.consider(d.Name, "rescan")
	}
	s.mu.Lock()
	var gone []string
	for name := range s.jobs {
		if !now[name] {
			gone = append(gone, name)
		}
	}
	for name := range s.lastRow {
		// Only a disk sysfs no longer lists at all: one that could not be
		// read this time (mid-eject) keeps its row and its hold.
		if _, job := s.jobs[name]; !job && listed != nil && !listed[name] {
			gone = append(gone, name)
		}
	}
	s.mu.Unlock()
	for _, name := range gone {
		s.removed(name)
	}
}

// verdict is what the station decided about one disk.
type verdict int

const (
	skip    verdict = iota + 1 // nothing to do: busy, held, empty, or already decided
	present                    // present at start: left alone
	refused                    // the safety guard refused it
	ignored                    // no profile matches
	waiting                    // not taken while receipts cannot be written
	take                       // start a job
)

// decision is a verdict with what acting on it needs.
type decision struct {
	verdict verdict
	row     int               // board row (refused on an allowed bus, ignored, take); 0 for none
	err     error             // why the guard refused
	why     string            // why no profile matched
	job     *stick            // the job to start
	profile *pipeline.Profile // the profile it runs
	drop    int               // a board row that no longer describes the disk; 0 for none
}

// consider decides about one disk — leave it alone, or start a job — and
// acts on the decision.
func (s *Station) consider(name, why string) {
	d, err := matchers.ReadFrom(s.opts.Sysfs, s.opts.Procfs, name)
	if err != nil {
		s.log.Debug("cannot read device", "device", name, "error", err)
		return
	}
	log := s.log.Named(printable.String(name))
	s.mu.Lock()
	dec := s.decide(d, log)
	s.mu.Unlock()
	if dec.drop != 0 && s.opts.Board != nil {
		s.opts.Board.Remove(dec.drop)
	}
	switch dec.verdict {
	case present:
		log.Info("left alone: present when the station started", "diskseq", d.DiskSeq)
	case waiting:
		log.Warn("not taken for now: receipts cannot be written; it is taken once they can", "error", dec.err)
	case refused:
		log.Warn("refused by the safety guard", "reason", dec.err.Error(), "bus", d.Bus)
		if dec.row != 0 {
			reason := dec.err.Error()
			var r *matchers.Refusal
			if errors.As(dec.err, &r) {
				reason = r.Reason
			}
			s.board(boardRow(dec.row, d, "", status.StateRefused, "safety guard: "+reason))
		}
	case ignored:
		log.Info("left untouched: no profile matches", "vendor_id", matchers.FormatUSBID(d.VendorID), "product_id", matchers.FormatUSBID(d.ProductID),
			"serial", d.Serial, "port", d.Port, "size", d.Size, "why", dec.why)
		s.board(boardRow(dec.row, d, "", status.StateIgnored, "no profile matches: "+dec.why))
	case take:
		log.Info("stick detected", "via", why, "profile", dec.profile.Name, "vendor_id", matchers.FormatUSBID(d.VendorID), "product_id", matchers.FormatUSBID(d.ProductID),
			"serial", d.Serial, "port", d.Port, "size", d.Size, "diskseq", d.DiskSeq, "job", dec.job.seq)
		go s.runJob(dec.job)
	}
}

// decide makes the decision about d. It runs with s.mu held and records
// the decision (seen, rows, counts, the new job) before returning.
func (s *Station) decide(d *matchers.Device, log hclog.Logger) decision {
	name := d.Name
	if s.intakeCtx == nil || s.intakeCtx.Err() != nil {
		return decision{verdict: skip} // not running, or no longer taking sticks
	}
	if s.held[name] {
		if d.Size == 0 {
			delete(s.held, name) // the medium is gone: the next one is new
			delete(s.seen, name)
		}
		return decision{verdict: skip}
	}
	if _, busy := s.jobs[name]; busy {
		return decision{verdict: skip}
	}
	if d.Size == 0 {
		// An empty card reader slot or a detached loop device: the medium
		// is gone, as a pulled stick is, and so is its row.
		delete(s.seen, name)
		return decision{verdict: skip, drop: s.dropRow(name)}
	}
	if seq, ok := s.seen[name]; ok && seq == d.DiskSeq {
		return decision{verdict: skip} // already decided about this insertion
	}
	// A new medium under a name that still has a row (a loop device
	// attached again, a card swapped faster than sysfs showed it empty):
	// the row described the one before, and goes.
	drop := s.dropRow(name)
	if s.baseline.Present(d) {
		s.seen[name] = d.DiskSeq
		return decision{verdict: present, drop: drop}
	}
	if s.receiptErr != nil {
		// Not decided: the rescan considers it again once receipts can
		// be written.
		if seq, logged := s.waiting[name]; logged && seq == d.DiskSeq {
			return decision{verdict: skip, drop: drop}
		}
		s.waiting[name] = d.DiskSeq
		return decision{verdict: waiting, err: s.receiptErr, drop: drop}
	}
	delete(s.waiting, name)
	s.seen[name] = d.DiskSeq
	g := s.guard()
	if err := g.Check(d); err != nil {
		s.counts.Refused++
		s.refusals.count(err)
		// A disk on an allowed bus is a stick the operator just plugged
		// in: show why it is not written. Others (the machine's own
		// disks) stay in the log only.
		dec := decision{verdict: refused, err: err, drop: drop}
		if g.AllowsBus(d.Bus) {
			dec.row = s.newRow(name)
		}
		return dec
	}
	cfg := s.Config()
	p, whyNot := route(cfg, d)
	if p == nil {
		s.counts.Ignored++
		return decision{verdict: ignored, row: s.newRow(name), why: whyNot, drop: drop}
	}
	if dry, st := s.dryPool(p); dry != "" {
		s.counts.Ignored++
		return decision{verdict: ignored, row: s.newRow(name), drop: drop, why: fmt.Sprintf(
			"profile %q takes rows from pool %q, which has none left (%d of %d rows free); its sticks wait until rows are added or returned", p.Name, dry, st.Free, st.Rows)}
	}
	s.seq++
	j := s.newJob(s.jobsCtx, cfg, p, d, s.seq, s.newRow(name), log)
	s.jobs[name] = j
	s.wg.Add(1)
	return decision{verdict: take, job: j, profile: p, drop: drop}
}

// dropRow forgets the disk's last board row and returns it (0 for none).
// s.mu is held.
func (s *Station) dropRow(name string) int {
	row := s.lastRow[name]
	delete(s.lastRow, name)
	return row
}

// newRow returns a new board row for the disk name. s.mu is held.
func (s *Station) newRow(name string) int {
	s.rows++
	s.lastRow[name] = s.rows
	return s.rows
}

// boardRow is the board's row for a disk that never became a job.
func boardRow(id int, d *matchers.Device, profile string, state status.State, msg string) status.Row {
	name := d.Name
	if d.Bus == matchers.BusFile {
		name = filepath.Base(d.Name) // the board shows an image file by its file name; receipts keep the path
	}
	return status.Row{ID: id, Device: name, Port: d.Port, Serial: d.Serial, VendorID: matchers.FormatUSBID(d.VendorID), ProductID: matchers.FormatUSBID(d.ProductID),
		Profile: profile, Size: d.Size, State: state, Error: msg, Updated: time.Now()}
}

// route returns the first profile, in priority order, that matches d, or
// nil with the reason each profile gave.
func route(cfg *pipeline.Config, d *matchers.Device) (*pipeline.Profile, string) {
	var whys []string
	for _, p := range cfg.Profiles {
		ok, why := p.Match.Match(d)
		if ok {
			return p, ""
		}
		whys = append(whys, fmt.Sprintf("%s: %s", p.Name, why))
	}
	if len(whys) == 0 {
		return nil, "no profiles loaded"
	}
	return nil, fmt.Sprint(whys)
}

// removed handles a remove event: the device's job, if any, fails as
// removed.
func (s *Station) removed(name string) {
	s.mu.Lock()
	j := s.jobs[name]
	delete(s.seen, name)
	row, hasRow := s.lastRow[name]
	delete(s.lastRow, name)
	delete(s.held, name)
	s.mu.Unlock()
	if j == nil {
		s.log.Named(name).Debug("device removed")
		if hasRow && s.opts.Board != nil {
			s.opts.Board.Remove(row) // the finished row goes when the stick is pulled
		}
		return
	}
	j.markRemoved()
}

func (s *Station) board(j status.Row) {
	if s.opts.Board != nil {
		s.opts.Board.Update(j)
	}
}

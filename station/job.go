package station

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/hashicorp/go-hclog"
)

// PlanStep is the step the board shows while a job plans its write, before
// its first stage: the content is read and hashed (files hashed before are
// taken from the cache) and the stick's partition table and filesystem are
// laid out for its size. Nothing is written during it.
const PlanStep = "plan"

// stick is one stick's run through its profile.
type stick struct {
	s       *Station
	seq     int
	pj      *pipeline.Job
	dev     *matchers.Device
	log     hclog.Logger
	parent  context.Context // the station's jobs context: when it ends, the station stops
	ctx     context.Context // parent, also cancelled when the stick is pulled
	cancel  context.CancelFunc
	started time.Time

	journaled bool // its start is in the journal: its end goes there too

	rc         *receipts.Receipt // what the job did, written when it ends
	verifiedBy string            // the stage whose verification rc.Verify is

	mu       sync.Mutex
	hung     bool // a stage did not return after its context ended: the station gave up on it
	removed  bool
	ejecting bool // a Detaches stage runs (eject): the stick leaving the bus is expected
	ejected  bool // that stage succeeded
	left     bool // the stick left the bus while ejecting
	view     status.Row
}

func (s *Station) newJob(parent context.Context, cfg *pipeline.Config, p *pipeline.Profile, d *matchers.Device, seq, row int, log hclog.Logger) *stick {
	ctx, cancel := context.WithCancel(parent)
	j := &stick{s: s, seq: seq, dev: d, log: log, parent: parent, ctx: ctx, cancel: cancel, started: time.Now()}
	j.pj = &pipeline.Job{
		Seq: seq, Config: cfg, Profile: p, Device: d,
		Target:           filepath.Join(s.opts.DevDir, d.Name),
		SysfsRoot:        s.opts.SysfsRoot,
		DevDir:           s.opts.DevDir,
		Now:              j.started,
		BeforeFirstWrite: func() error { return s.refusals.count(s.beforeFirstWrite(d)) },
	}
	j.pj.Progress = j.progress
	j.view = boardRow(row, d, p.Name, status.StateQueued, "")
	j.view.StepCount, j.view.Started, j.view.Updated = len(p.Stages), j.started, j.started
	s.board(j.view)
	return j
}

// beforeFirstWrite checks, right after d is opened for its first write,
// that it is the disk the job was started for and that the guard still
// lets it be written.
func (s *Station) beforeFirstWrite(d *matchers.Device) error {
	if err := matchers.Recheck(s.opts.Sysfs, d); err != nil {
		return err
	}
	if s.opts.GuardOverride {
		return nil
	}
	// The guard again on a fresh reading: something may have been
	// mounted or stacked on the stick since it was matched.
	now, err := matchers.ReadFrom(s.opts.Sysfs, s.opts.Procfs, d.Name)
	if err != nil {
		return err
	}
	return s.guard().Check(now)
}

func (j *stick) update(f func(v *status.Row)) {
	j.mu.Lock()
	f(&j.view)
	j.view.Updated = time.Now()
	v := j.view
	j.mu.Unlock()
	j.s.board(v)
}

func (j *stick) progress(p pipeline.StageProgress) {
	if j.isHung() {
		return // a stage the station gave up on: its row says how the job ended
	}
	j.update(func(v *status.Row) {
		v.Done, v.Total, v.Rate, v.ETA = p.Done, p.Total, p.Rate, p.ETA
		switch p.Counts {
		case pipeline.CountsWritten:
			v.BytesWritten = p.Done
		case pipeline.CountsVerified:
			v.BytesVerified = p.Done
		}
	})
	if p.Note != "" {
		j.log.Warn(printable.String(p.Note), "stage", p.Stage)
	}
}

func (j *stick) markRemoved() {
	j.mu.Lock()
	if j.ejecting {
		j.left = true
		j.mu.Unlock()
		j.log.Debug("stick left the bus: ejected")
		return
	}
	j.removed = true
	j.mu.Unlock()
	j.log.Warn("stick removed")
	j.cancel()
}

func (j *stick) wasRemoved() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.removed
}

func (j *stick) isHung() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.hung
}

// stageGrace is how long the station waits for a stage to return once its
// context has ended — its timeout passed, its stick was pulled, the
// station is stopping — before it gives up on it. Stages return at their
// next I/O call (the executor sizes calls to the stick's speed, see
// executor.PaceTarget), but a call to a stick that stopped answering is
// held by the kernel, where no cancellation reaches it.
var stageGrace = 3 * time.Second

// errHung is the failure of a stage the station gave up on.
type errHung struct {
	stage  string
	waited time.Duration
}

func (e errHung) Error() string {
	return fmt.Sprintf("the stick stopped answering: %s did not return within %s of being stopped (its last I/O is still in the kernel); "+
		"the station gave up on it, and the device stays open until the kernel gives it back", e.stage, e.waited)
}

// attempt runs fn, one stage or its preparation, under ctx in a goroutine
// of its own and returns what fn returns. When ctx ends and fn does not
// return within stageGrace, attempt gives up on it: the job is marked
// hung (no further stage runs, its progress no longer reaches the board)
// and attempt returns errHung, so the job ends and its receipt is written
// on time. The goroutine stays, held by the kernel; when fn returns at
// last it closes the job's device, which stays open until then.
func (j *stick) attempt(ctx context.Context, stage string, fn func(context.Context) (pipeline.Outcome, error)) (pipeline.Outcome, error) {
	type result struct {
		out pipeline.Outcome
		err error
	}
	ch := make(chan result, 1)
	go func() {
		out, err := fn(ctx)
		ch <- result{out, err}
	}()
	select {
	case r := <-ch:
		return r.out, r.err
	case <-ctx.Done():
	}
	wait := time.NewTimer(stageGrace)
	defer wait.Stop()
	select {
	case r := <-ch:
		return r.out, r.err
	case <-wait.C:
	}
	j.mu.Lock()
	j.hung = true
	j.mu.Unlock()
	j.log.Error("giving up on the stage: it does not return (the stick stopped answering); the device stays open until the kernel gives it back",
		"stage", stage, "waited", stageGrace)
	go func() {
		r := <-ch
		err := j.pj.Close()
		j.log.Warn("the stage the station gave up on returned; device closed", "stage", stage, "error", r.err, "close_error", err)
	}()
	return pipeline.Outcome{}, errHung{stage, stageGrace}
}

// runJob waits for a slot, runs every stage, writes the receipt and frees
// the device.
func (s *Station) runJob(j *stick) {
	defer s.wg.Done()
	defer j.cancel()
	rc := &receipts.Receipt{
		Started: j.started, Station: j.pj.Config.Station.Name, Profile: j.pj.Profile.Name,
		ConfigDigest: j.pj.Config.Digest, Job: j.seq,
		Device: receipts.Device{Name: j.dev.Name, VendorID: matchers.FormatUSBID(j.dev.VendorID), ProductID: matchers.FormatUSBID(j.dev.ProductID),
			Serial: j.dev.Serial, Port: j.dev.Port, Size: j.dev.Size, DiskSeq: j.dev.DiskSeq},
	}
	j.rc = rc
	select {
	case s.slots <- struct{}{}:
	case <-j.ctx.Done():
		s.finish(j, rc, "", j.cause(""))
		return
	}
	defer func() { <-s.slots }()
	// The rows first, each on disk in its pool's journal; then the job's
	// start, with its rows, in the station's journal; then the stick.
	if err := s.takeRows(j); err != nil {
		s.finish(j, rc, PlanStep, err)
		return
	}
	if err := s.journalStart(j); err != nil {
		s.finish(j, rc, "", err)
		return
	}
	failedStage, err := s.runStages(j, rc)
	s.finish(j, rc, failedStage, err)
}

// runStages runs the profile's stages in order and returns the first
// failing stage and its error. After a failure only stages that ask to
// (eject { even_if_failed = true }) still run.
func (s *Station) runStages(j *stick, rc *receipts.Receipt) (string, error) {
	defer func() {
		if j.isHung() {
			return // the stage the station gave up on closes the device when it returns
		}
		if err := j.pj.Close(); err != nil {
			j.log.Warn("closing the device", "error", err)
		}
	}()
	var failedStage string
	var failure error
	// Stages that prepare (the write stage compiles the stick's plan) do so
	// before any stage writes: content that does not fit fails the job
	// before the wipe. The board calls this step "plan".
	for i, st := range j.pj.Profile.Stages {
		if p, ok := st.Runner.(pipeline.Preparer); ok {
			s.journalStage(j, PlanStep)
			j.update(func(v *status.Row) { v.State, v.Step = status.StateRunning, PlanStep })
			j.log.Info("planning what to write to this stick (content read and hashed, filesystem laid out, or image opened); nothing is written yet", "stage", st.Name)
			_, err := j.attempt(j.ctx, PlanStep, func(ctx context.Context) (pipeline.Outcome, error) {
				return pipeline.Outcome{}, p.Prepare(ctx, j.pj)
			})
			if err != nil {
				err = j.cause(st.Name, err)
				rc.Steps = append(rc.Steps, receipts.Step{Kind: st.Name, Error: err.Error()})
				j.update(func(v *status.Row) { v.StepIndex = i + 1 }) // the stage whose plan failed
				return st.Name, err
			}
		}
	}
	for i, st := range j.pj.Profile.Stages {
		if failure != nil {
			if af, ok := st.Runner.(pipeline.AfterFailure); !ok || !af.RunsAfterFailure() {
				continue
			}
		}
		err := s.runRecorded(j, rc, i, st)
		if err != nil && failure == nil {
			failedStage, failure = st.Name, err
		}
		if j.wasRemoved() || j.isHung() {
			break
		}
	}
	return failedStage, failure
}

// runRecorded runs stage i and records its outcome — in the receipt's step
// entry and totals, and on the board — without knowing its kind. It
// returns the stage's error as the operator should read it.
func (s *Station) runRecorded(j *stick, rc *receipts.Receipt, i int, st *pipeline.Stage) error {
	j.update(func(v *status.Row) {
		v.State, v.Step, v.StepIndex, v.Done, v.Total, v.Rate, v.ETA = status.StateRunning, st.Name, i+1, 0, 0, 0, 0
	})
	if st.Detaches {
		j.mu.Lock()
		j.ejecting = true
		j.mu.Unlock()
	}
	j.log.Info("step", "n", fmt.Sprintf("%d/%d", i+1, len(j.pj.Profile.Stages)), "stage", st.Name)
	s.journalStage(j, st.Name)
	start := time.Now()
	out, err := s.runStage(j, st)
	step := receipts.Step{Kind: st.Name, DurationMS: time.Since(start).Milliseconds(),
		BytesWritten: out.BytesWritten, BytesVerified: out.BytesVerified, Details: out.Details, Note: out.Note}
	if st.Fused() {
		for _, sb := range st.Steps {
			step.Fused = append(step.Fused, sb.Kind)
		}
	}
	rc.BytesWritten += out.BytesWritten
	rc.BytesVerified += out.BytesVerified
	if out.Verify != nil {
		rc.Verify, j.verifiedBy = out.Verify, st.Name
	}
	if out.Label != "" || out.ManifestDigest != "" {
		rc.Label, rc.ManifestDigest = out.Label, out.ManifestDigest
	}
	if out.DiskIDs != nil {
		rc.DiskIDs = out.DiskIDs
	}
	if out.Files != nil {
		rc.Files = out.Files
	}
	if err != nil {
		err = j.cause(st.Name, err)
		step.Error = err.Error()
	}
	rc.Steps = append(rc.Steps, step)
	j.update(func(v *status.Row) {
		v.BytesWritten, v.BytesVerified = rc.BytesWritten, rc.BytesVerified
		v.VerifyFailed = v.VerifyFailed || (out.Verify != nil && !out.Verify.OK)
		v.Findings = append(v.Findings, out.Findings...)
		if out.Note != "" {
			v.Note = out.Note
		}
	})
	if out.Note != "" {
		j.log.Info(printable.String(out.Note), "stage", st.Name)
	}
	if st.Detaches && err == nil {
		j.mu.Lock()
		j.ejected = true
		j.mu.Unlock()
	}
	return err
}

// runStage runs one stage with its timeout and retries, and returns the
// last attempt's outcome.
func (s *Station) runStage(j *stick, st *pipeline.Stage) (pipeline.Outcome, error) {
	if st.Runner == nil {
		return pipeline.Outcome{}, fmt.Errorf("stage %s has no runner (program bug)", st.Name)
	}
	var out pipeline.Outcome
	var err error
	for attempt := 0; attempt <= st.Retries; attempt++ {
		if attempt > 0 {
			j.log.Warn("retrying", "stage", st.Name, "attempt", attempt+1, "error", err)
		}
		ctx, cancel := j.ctx, context.CancelFunc(func() {})
		if st.Timeout > 0 {
			ctx, cancel = context.WithTimeout(j.ctx, st.Timeout)
		}
		out, err = j.attempt(ctx, st.Name, func(ctx context.Context) (pipeline.Outcome, error) { return st.Runner.Run(ctx, j.pj) })
		if err != nil && ctx.Err() == context.DeadlineExceeded && j.ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s: %w", st.Timeout, err)
		}
		cancel()
		if err == nil || j.wasRemoved() || j.isHung() || j.ctx.Err() != nil || executor.IsDeviceGone(err) {
			return out, err
		}
	}
	return out, err
}

// cause turns an error into what the operator should read: a stick that
// went away is "removed during <stage>".
func (j *stick) cause(stage string, errs ...error) error {
	var err error
	if len(errs) > 0 {
		err = errs[0]
	}
	j.mu.Lock()
	ejecting := j.ejecting
	j.mu.Unlock()
	if ejecting && err != nil {
		return err // the stick leaving the bus is what eject does; its errors are eject's
	}
	if j.wasRemoved() || (err != nil && executor.IsDeviceGone(err)) {
		j.mu.Lock()
		j.removed = true
		j.mu.Unlock()
		if stage == "" {
			return errRemoved{"while queued", err}
		}
		return errRemoved{"during " + stage, err}
	}
	if err == nil && j.ctx.Err() != nil {
		return fmt.Errorf("aborted: the station is shutting down")
	}
	if err != nil && j.ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("aborted during %s (station shutting down): %w", stage, err)
	}
	return err
}

// errRemoved is the failure of a job whose stick was pulled.
type errRemoved struct {
	when string
	err  error
}

func (e errRemoved) Error() string {
	if e.err != nil {
		return fmt.Sprintf("removed %s (%v)", e.when, e.err)
	}
	return "removed " + e.when
}

func (e errRemoved) Unwrap() error { return e.err }

// finish records the job's result: receipt, board, counters.
func (s *Station) finish(j *stick, rc *receipts.Receipt, failedStage string, err error) {
	rc.Time = time.Now()
	var rm errRemoved
	switch {
	case errors.As(err, &rm):
		rc.Result = receipts.ResultRemoved
	case err != nil:
		rc.Result = receipts.ResultFailed
	case rc.Verify != nil && !rc.Verify.OK:
		// Never report a failed verification as success, whatever path led here.
		rc.Result, failedStage, err = receipts.ResultFailed, j.verifiedBy, errors.New("verification did not pass")
	case rc.Verify == nil:
		rc.Result = receipts.ResultUnverified
	default:
		rc.Result = receipts.ResultDone
	}
	if err != nil {
		rc.FailedStep, rc.Error = failedStage, err.Error()
	}
	s.finishRows(j, rc)
	// The receipt first: the board, the counters and the log say how the
	// job ended only once its receipt is on disk. The device stays the
	// job's meanwhile, so no second job starts on the stick.
	j.mu.Lock()
	step := j.view.Step
	j.mu.Unlock()
	if err != nil {
		step = failedStage
	}
	written := s.record(j, rc)
	state, msg := status.StateOf(rc.Result), rc.Error
	if !written {
		state, step, msg = status.StateFailed, "receipt", "its receipt could not be written (the station stopped): the receipt is in the log"
	}
	j.update(func(v *status.Row) { v.State, v.Step, v.Error = state, step, msg })
	s.mu.Lock()
	if written {
		s.counts.add(rc.Result)
	} else {
		s.counts.Failed++
	}
	if s.jobs[j.dev.Name] == j {
		delete(s.jobs, j.dev.Name)
		j.mu.Lock()
		if j.ejected && !j.removed && !j.left {
			s.held[j.dev.Name] = true
		}
		j.mu.Unlock()
	}
	s.mu.Unlock()
	if !written {
		return // record logged the receipt; the next station finds the job in the journal
	}
	s.journalEnd(j)
	logEnd(j, rc, failedStage, err)
}

// logEnd logs how the job ended, as its receipt says.
func logEnd(j *stick, rc *receipts.Receipt, failedStage string, err error) {
	took := rc.Time.Sub(rc.Started).Round(time.Millisecond)
	switch rc.Result {
	case receipts.ResultDone:
		j.log.Info("done: written and verified", "label", rc.Label, "bytes_written", rc.BytesWritten, "bytes_verified", rc.BytesVerified, "duration", took)
	case receipts.ResultUnverified:
		j.log.Warn("written, not verified: the profile has no verify step, so nothing was read back", "label", rc.Label, "bytes_written", rc.BytesWritten, "duration", took)
	default:
		j.log.Error("job "+string(rc.Result), "step", failedStage, "error", err)
	}
}

package pipeline

import (
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/hashicorp/hcl/v2"
)

// Stage is one unit of execution: a single step, or several fused ones.
type Stage struct {
	Name    string       // the kind's name, or "write" for the fused steps
	Steps   []*StepBlock // the step blocks this stage runs
	Runner  Runner
	Timeout time.Duration // 0 = none
	Retries int
	// Detaches: the stick leaves the bus while this stage runs (Kind.Detaches).
	Detaches bool
	// Edits are the steps after it that edit what it writes (Kind.Edit),
	// in order: its runner does their work, for plan to show.
	Edits []*StepBlock
}

// WriteStage is the name of the stage the fused steps form.
const WriteStage = "write"

// Fused reports whether the stage runs more than one step block.
func (s *Stage) Fused() bool { return len(s.Steps) > 1 }

// Job is one run of a profile on one target: what its stages need, and
// what they hand on to each other.
type Job struct {
	Seq     int
	Config  *Config
	Profile *Profile
	// Device is what the job writes, as per-device expressions see it: a
	// stick or block device read from sysfs, or matchers.ImageFile for an
	// image file. Never nil.
	Device *matchers.Device
	Target string // path of the block device or image file
	// SysfsRoot is where sysfs is mounted ("/sys"), for eject.
	SysfsRoot string
	// DevDir is where device nodes live ("/dev"), for loop devices.
	DevDir string
	// BeforeFirstWrite, when set, runs once right after the target is
	// opened and before anything is written: the station re-checks the
	// stick's identity (diskseq, serial) there.
	BeforeFirstWrite func() error
	Now              time.Time

	// Rows are the pool rows the job took before it started, by pool
	// name: each column's value. pool.NAME.row.COLUMN reads them.
	Rows map[string]map[string]string

	// Progress, when set, receives the running stage's progress.
	Progress func(StageProgress)

	// Handed on between the stages of the job.
	Dev      *blockdev.Device // the target, opened by the first stage that needs it; closed by Close
	Closers  []func() error
	Plan     *fsimage.Plan    // what the write stage writes (and verify reads back)
	Entries  []*fsimage.Entry // the content, as scanned and hashed
	Verified *receipts.Verify // the last verification's result

	// Usable, when not 0, is how many bytes from the start of the target
	// keep what is written to them, as a probe step found on a fake stick
	// with on_fake = "shrink": what writes plan for, instead of its size.
	Usable int64
}

// EvalContext returns the context the job's per-device expressions are
// evaluated in: its device (with the usable size a probe step found),
// number and start time.
func (j *Job) EvalContext() *hcl.EvalContext {
	if j.Device == nil {
		panic("pipeline: a job without a device (program bug: use matchers.ImageFile for image files)")
	}
	ctx := j.Config.JobContext(j.Device, j.Target, j.Seq, j.Now, j.Rows)
	if j.Usable > 0 {
		ctx.Variables["device"] = withUsable(ctx.Variables["device"], min(j.Usable, j.Device.Size))
	}
	return ctx
}

// ImageFile reports whether the job writes an image file rather than a
// block device.
func (j *Job) ImageFile() bool { return j.Device.Bus == matchers.BusFile }

// Close releases whatever stages of the job opened, last opened first.
func (j *Job) Close() error {
	var first error
	for i := len(j.Closers) - 1; i >= 0; i-- {
		if err := j.Closers[i](); err != nil && first == nil {
			first = err
		}
	}
	j.Closers = nil
	return first
}

// Outcome is what one stage did, as its Runner reports it. The station
// records it in the receipt and on the board without knowing the kind.
type Outcome struct {
	BytesWritten  int64 // written to the target by this stage
	BytesVerified int64 // read back from the target and compared
	// Verify is a verification's result: every file and extent checked,
	// and those that differed. Its OK decides between done and failed.
	Verify *receipts.Verify
	// Label and ManifestDigest describe what a write stage put on the
	// stick: the volume label and the digest of the content's manifest.
	Label, ManifestDigest string
	// DiskIDs are the identifiers the write gave the stick.
	DiskIDs *receipts.DiskIDs
	// Files are the files the write generated for this stick (step
	// "file"): path and SHA1 of each.
	Files []receipts.GeneratedFile
	// Details is anything else the kind wants in the receipt's entry for
	// this stage.
	Details map[string]any
	// Findings name what the stage found wrong with the stick, whether it
	// failed the stick or went on (the probe's "fake"): the station keeps
	// them on the board's row, and /metrics counts them. A kind declares
	// the findings it may report in Kind.Findings.
	Findings []string
	// Note is one line for the operator: on the board and in the log.
	Note string
}

// Counts says which of a job's byte counters a stage's progress advances.
type Counts int

// What progress counts.
const (
	CountsNothing  Counts = iota // hashing, wiping, ejecting
	CountsWritten                // bytes written to the target
	CountsVerified               // bytes read back and compared
)

// StageProgress is one progress report of a running stage.
type StageProgress struct {
	Stage  string // what is being done now: "hash", "wipe", "write", "verify"
	Counts Counts // which of the job's byte counters Done is
	Done   int64  // bytes done
	Total  int64  // bytes the stage will do; 0 if unknown
	Rate   float64
	ETA    time.Duration
	Note   string // a message for the operator, e.g. a fallback taken
}

package pipeline

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
)

// Role orders step kinds in a profile and decides which are fused. The zero
// value is invalid.
type Role int

// Roles, in the order their steps must appear.
const (
	roleInvalid Role = iota
	RoleWipe
	RolePartition
	RoleFilesystem
	RoleCopy
	RoleLabel
	RoleVerify
	RoleEject
)

func (r Role) String() string {
	switch r {
	case RoleWipe:
		return "wipe"
	case RolePartition:
		return "partition"
	case RoleFilesystem:
		return "mkfs"
	case RoleCopy:
		return "copy"
	case RoleLabel:
		return "label"
	case RoleVerify:
		return "verify"
	case RoleEject:
		return "eject"
	}
	return "invalid"
}

// Fused reports whether steps of this role are compiled into the single
// sequential write stage.
func (r Role) Fused() bool {
	return r == RolePartition || r == RoleFilesystem || r == RoleCopy || r == RoleLabel
}

// Kind describes one step kind. New returns a pointer to a zero struct with
// hcl tags, into which the step's body (less its meta-arguments) is decoded.
type Kind struct {
	Role     Role
	New      func() Step
	Summary  string // one line for docs and help
	Multiple bool   // whether a profile may hold more than one step of this kind
}

// Registry is the set of step kinds a loader knows. It is built by the
// caller (steps.Builtin()); there is no global registry.
type Registry struct {
	Kinds map[string]Kind
	// Fuse returns the runner of the write stage for a profile's layout.
	Fuse func(l *WriteSpec) Runner
	// LabelRules returns why label cannot be the volume label of a
	// filesystem of type fs, or nil. The loader checks each layout's
	// label with it (see Config.probeLabel); nil checks nothing.
	LabelRules func(fs, label string) error
}

// Names returns the kind names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.Kinds))
	for n := range r.Kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Step is a decoded step of some kind. Check validates it once the whole
// config is known (sources, variables) and returns diagnostics with ranges.
type Step interface {
	Check(c *CheckContext) hcl.Diagnostics
}

// Contributor is a step that is fused into the write stage: it describes
// its part of the stick's layout.
type Contributor interface {
	Step
	Contribute(l *WriteSpec, c *CheckContext) hcl.Diagnostics
}

// Runner executes a stage on one job.
type Runner interface {
	Run(ctx context.Context, j *Job) error
}

// Preparer is a Runner with work to do before any stage of the job runs:
// the write stage compiles the stick's plan there, so content that does not
// fit fails before the wipe has written a byte.
type Preparer interface {
	Prepare(ctx context.Context, j *Job) error
}

// AfterFailure is a Runner that still runs when an earlier stage of the job
// failed (eject { even_if_failed = true }).
type AfterFailure interface {
	RunsAfterFailure() bool
}

// CheckContext is what a step sees when it is checked.
type CheckContext struct {
	Config  *Config
	Profile *Profile
	Block   *StepBlock

	skipContent bool // Loader.SkipContent
}

// DeviceExpr type-checks a per-device expression: it may refer to device,
// job, station, now, var and local. It is evaluated with unknown device
// values so that typos are caught before any stick arrives.
func (c *CheckContext) DeviceExpr(expr hcl.Expression) hcl.Diagnostics {
	return c.Config.checkDeviceExpr(expr)
}

// WriteSpec describes what the fused write stage puts on a stick: the
// partition table, the filesystem, its content and its label.
type WriteSpec struct {
	Table       string // "mbr" | "gpt" | "none"
	PartName    string
	FS          string // "vfat" | "exfat" | "ext4" | ""
	ClusterSize int    // bytes; 0 = the filesystem's default
	Label       hcl.Expression
	Copies      []*CopySpec
	Steps       []*StepBlock // the steps fused into this layout
}

// CopySpec is one copy step's content: sources by reference and inline paths.
type CopySpec struct {
	Sources     []*SourceBlock
	Paths       []string // absolute
	Include     []string
	Exclude     []string
	Destination string // folder inside the filesystem, "" for the root
}

// Stage is one unit of execution: a single step, or several fused ones.
type Stage struct {
	Name    string       // "wipe", "write", "verify", "eject"
	Steps   []*StepBlock // the step blocks this stage runs
	Runner  Runner
	Timeout time.Duration // 0 = none
	Retries int
}

// Fused reports whether the stage runs more than one step block.
func (s *Stage) Fused() bool { return len(s.Steps) > 1 }

// Job is one run of a profile on one target.
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
	Log              hclog.Logger

	// Progress, when set, receives the running stage's progress.
	Progress func(StageProgress)

	// Target handle and plan, shared between stages of the job.
	Handle  any // opened by the first stage that needs it; closed by Close
	Closers []func() error
	Plan    *fsimage.Plan
	Entries []*fsimage.Entry
	Label   string

	Receipt *receipts.Receipt

	// Verified is set by the verify stage to the result it read back.
	Verified *receipts.Verify
	// AllowFailedEject lets eject run even though verification failed.
	AllowFailedEject bool
}

// EvalContext returns the context the job's per-device expressions are
// evaluated in: its device, number and start time.
func (j *Job) EvalContext() *hcl.EvalContext {
	if j.Device == nil {
		panic("pipeline: a job without a device (program bug: use matchers.ImageFile for image files)")
	}
	return j.Config.DeviceContext(j.Device, j.Target, j.Seq, j.Now)
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

// AttrRange returns the range of the step's attribute name's value, or the
// step block's header when the attribute was not written.
func (c *CheckContext) AttrRange(name string) hcl.Range {
	if c.Block == nil {
		return hcl.Range{}
	}
	if e := c.attrExpr(name); e != nil {
		return e.Range()
	}
	return c.Block.DeclRange
}

// attrExpr returns the expression of the step's attribute name, or nil.
func (c *CheckContext) attrExpr(name string) hcl.Expression {
	if c.Block == nil || c.Block.Meta.Rest == nil {
		return nil
	}
	attrs, _ := c.Block.Meta.Rest.JustAttributes()
	if a, ok := attrs[name]; ok {
		return a.Expr
	}
	return nil
}

// ContentPaths reports each of paths, the step's attribute attr resolved,
// that does not exist; nothing when the loader skips content checks.
func (c *CheckContext) ContentPaths(attr string, paths []string) hcl.Diagnostics {
	if c.skipContent {
		return nil
	}
	return missingPaths(paths, c.attrExpr(attr))
}

// Errorf returns an error diagnostic on the step's attribute name.
func (c *CheckContext) Errorf(attr, summary, format string, args ...any) *hcl.Diagnostic {
	return errAt(c.AttrRange(attr), summary, fmt.Sprintf(format, args...))
}

// StageProgress is one progress report of a running stage.
type StageProgress struct {
	Stage string // "hash", "wipe", "write", "verify"
	Done  int64  // bytes done
	Total int64  // bytes the stage will do; 0 if unknown
	Rate  float64
	ETA   time.Duration
	Note  string // a message for the operator, e.g. a fallback taken
}

package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// Kind declares a step kind: everything the compiler and the station need
// to know about it. Each kind declares itself in its own file in package
// steps; the compiler derives order and fusion from these declarations,
// and nothing outside package steps names a kind.
type Kind struct {
	Name    string      // as written in step "<name>" {}
	New     func() Step // a pointer to the kind's struct, defaults set, to decode the body into
	Summary string      // one line for docs and help

	// Repeat lets a profile hold more than one step of this kind.
	Repeat bool
	// Fused kinds contribute to the one sequential write stage (their
	// steps implement Contributor); the others run as a stage of their
	// own, named after the kind (their steps implement Runner).
	Fused bool
	// Provides names the roles a step of this kind plays for the steps
	// after it, such as "table" or "filesystem". RoleWritten and
	// RoleVerified are the roles the engine itself acts on.
	Provides []string
	// Requires lists roles that an earlier step of the profile must
	// provide.
	Requires []Order
	// Precedes lists roles whose steps may not come before a step of this
	// kind.
	Precedes []Order
	// Excludes lists roles whose steps may not be in the same profile as a
	// step of this kind, before or after it (an image replaces the
	// partition, mkfs and copy steps).
	Excludes []Order
	// Last kinds end a profile: no step may follow them.
	Last bool
	// Detaches kinds make the stick leave the bus while their stage runs
	// (eject): the station expects the disk to go away then, and does not
	// take it again until it is pulled.
	Detaches bool
	// Edits, when set, is asked of each decoded step of this kind: for a
	// step it returns a kind for, the step edits what an earlier stage
	// writes instead of joining the write stage (a file step with
	// partition = N puts its file into a partition of the image an image
	// step writes). That kind's roles and rules apply to the step in
	// place of these; its Edit is true.
	Edits func(Step) *Kind
	// Edit marks a kind Edits returns: its steps are neither fused nor a
	// stage of their own; their Check hands them to the step they edit,
	// which does their work in its stage. A Contributor still contributes,
	// to a WriteSpec of its own, for the pools its expressions use.
	Edit bool
	// Findings are the findings its outcomes may report (Outcome.Findings),
	// so that their counters exist before the first one.
	Findings []string
}

// Order is one ordering rule of a kind: a step that plays one of Roles,
// and the sentences a diagnostic gives when the rule is broken.
type Order struct {
	Roles []string
	// What names the steps that play those roles, for the summary of a
	// diagnostic: `Step "copy" needs <What> before it`.
	What string
	// Why says why the order matters and how to fix the profile.
	Why string
}

// Roles the engine itself acts on. Kinds name any other roles they need.
const (
	// RoleWritten is played by steps that write what a verify step can
	// read back. A profile with such a step and none playing RoleVerified
	// gets a warning: its sticks end unverified.
	RoleWritten = "written"
	// RoleVerified is played by steps that read back and compare what
	// the profile wrote.
	RoleVerified = "verified"
)

// plays reports whether a step of kind k plays role.
func (k *Kind) plays(role string) bool {
	if role == k.Name {
		return true
	}
	for _, r := range k.Provides {
		if r == role {
			return true
		}
	}
	return false
}

// playsAny reports whether a step of kind k plays one of roles.
func (k *Kind) playsAny(roles []string) bool {
	for _, r := range roles {
		if k.plays(r) {
			return true
		}
	}
	return false
}

// Registry is the set of step kinds a loader knows. It is built by the
// caller (steps.Builtin(), plus any kinds a test adds); there is no global
// registry.
type Registry struct {
	Kinds map[string]*Kind
	// Fuse returns the runner of the write stage for a profile's write.
	Fuse func(w *WriteSpec) Runner
	// LabelRules returns why label cannot be the volume label of a
	// filesystem of type fs, or nil. The loader checks each write's label
	// with it (see Config.checkLabel); nil checks nothing.
	LabelRules func(fs, label string) error
}

// Findings returns the findings the kinds declare, sorted, each once.
func (r *Registry) Findings() []string {
	var out []string
	for _, k := range r.Kinds {
		out = append(out, k.Findings...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Add declares kinds. A kind without a name or New, or a name declared
// twice, is a program bug and panics.
func (r *Registry) Add(kinds ...Kind) {
	if r.Kinds == nil {
		r.Kinds = map[string]*Kind{}
	}
	for _, k := range kinds {
		if k.Name == "" || k.New == nil {
			panic(fmt.Sprintf("pipeline: step kind %q declared without a name or New", k.Name))
		}
		if _, dup := r.Kinds[k.Name]; dup {
			panic(fmt.Sprintf("pipeline: step kind %q declared twice", k.Name))
		}
		step := k.New()
		if _, ok := step.(Contributor); k.Fused && !ok {
			panic(fmt.Sprintf("pipeline: step kind %q is fused but its step is not a Contributor", k.Name))
		}
		if _, ok := step.(Runner); !k.Fused && !ok {
			panic(fmt.Sprintf("pipeline: step kind %q runs as a stage but its step is not a Runner", k.Name))
		}
		r.Kinds[k.Name] = &k
	}
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
// its part of what the stage writes.
type Contributor interface {
	Step
	Contribute(w *WriteSpec, c *CheckContext) hcl.Diagnostics
}

// Runner executes a stage on one job and reports what it did. The Outcome
// is recorded whether or not the run failed, so a stage that fails part
// way reports what it did up to then.
type Runner interface {
	Run(ctx context.Context, j *Job) (Outcome, error)
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

// SizeNeeder is a step that needs sticks of a known minimum size (an image
// step: the image's size). validate refuses a profile whose match admits
// smaller sticks; plan says whether they fit. MinStickSize returns -1 when
// the size is not known before the station runs.
type SizeNeeder interface {
	MinStickSize() int64
}

// Describer is a step that says what it will do, for `flashpipe plan`.
type Describer interface {
	Describe(w *WriteSpec, src func(hcl.Expression) string) string
}

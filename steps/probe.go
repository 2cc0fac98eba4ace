package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/probe"
	"github.com/flashpipe/flashpipe/units"
	"github.com/hashicorp/hcl/v2"
)

// probeKind declares the probe step: a stage of its own, before the wipe
// and every step that writes, since it overwrites blocks all over the stick.
var probeKind = pipeline.Kind{
	Name:     "probe",
	New:      func() pipeline.Step { return &Probe{OnFake: "fail", MaxTime: "2m"} },
	Findings: []string{FindingFake},
	Summary:  "screen the stick: its real capacity (fake sticks that wrap or drop writes), its write cache, its sustained write and read speed",
	Provides: []string{"probe"},
	Precedes: []pipeline.Order{{Roles: []string{"erase", pipeline.RoleWritten},
		Why: "the probe overwrites blocks all over the stick, so it comes before wipe and every step that writes."}},
}

// Probe decodes a probe step (see package probe for the method).
//
//	step "probe" {
//	  on_fake        = "fail"  # "fail" (default): the stick fails, its first MiB as it was;
//	                           # "shrink": the write stage uses only the real capacity
//	  min_write_mbps = 4       # fail sticks that write slower, past their cache (MB/s; 0: any)
//	  min_read_mbps  = 10      # fail sticks that read slower (MB/s; 0: any)
//	  max_time       = "2m"    # fail the stick when the probe takes longer
//	}
type Probe struct {
	OnFake       string  `hcl:"on_fake,optional"`
	MinWriteMBps float64 `hcl:"min_write_mbps,optional"`
	MinReadMBps  float64 `hcl:"min_read_mbps,optional"`
	MaxTime      string  `hcl:"max_time,optional"`

	maxTime time.Duration
	opts    probe.Options // the zero value; export_test.go shortens the probe for tests
}

var _ pipeline.Runner = (*Probe)(nil)

// maxMBps bounds the rates a profile may ask for: faster than any USB
// stick, so a larger value is a typo (bytes per second, or a missing dot).
const maxMBps = 10_000

// Check validates the policy, the rates and the time limit.
func (p *Probe) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	diags := checkEnum(c, "on_fake", p.OnFake, "fail", "shrink")
	for _, r := range []struct {
		attr string
		v    float64
	}{{"min_write_mbps", p.MinWriteMBps}, {"min_read_mbps", p.MinReadMBps}} {
		if r.v < 0 || r.v > maxMBps {
			diags = append(diags, c.Errorf(r.attr, "Invalid rate",
				"%s = %g is out of range: a rate in MB/s (10^6 bytes per second) from 0 (no minimum) to %d.", r.attr, r.v, maxMBps))
		}
	}
	d, err := time.ParseDuration(p.MaxTime)
	if err != nil || d < time.Second || d > time.Hour {
		diags = append(diags, c.Errorf("max_time", "Invalid duration",
			"max_time = %q: use a duration from \"1s\" to \"1h\", such as \"30s\" or \"2m\".", p.MaxTime))
	}
	p.maxTime = d
	return diags
}

// Describe says what the probe checks, for plan.
func (p *Probe) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	d := "real capacity and speed, within " + p.MaxTime + "; a fake stick "
	if p.OnFake == "shrink" {
		d += "is written only as far as it stores"
	} else {
		d += "fails"
	}
	if p.MinWriteMBps > 0 {
		d += fmt.Sprintf("; fails below %g MB/s write", p.MinWriteMBps)
	}
	if p.MinReadMBps > 0 {
		d += fmt.Sprintf("; fails below %g MB/s read", p.MinReadMBps)
	}
	return d
}

// FindingFake is the finding (pipeline.Outcome.Findings) of a probe that
// found a fake stick, whether it failed the stick or shrank it.
const FindingFake = "fake"

// ErrFake is wrapped by the error of a probe that found a fake stick
// with on_fake = "fail".
var ErrFake = errors.New("fake")

// Run probes the stick. The outcome's details keep what the probe found
// for the receipt whether the stick passes or not; its note is the line
// the board shows; a fake is its finding FindingFake, whether it fails the
// stick or is shrunk. An image file is not probed.
func (p *Probe) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	if j.ImageFile() {
		return pipeline.Outcome{Note: "not probed: the target is an image file"}, nil
	}
	dev, err := openTarget(j)
	if err != nil {
		return pipeline.Outcome{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, max(p.maxTime, time.Second))
	defer cancel()
	opts := p.opts
	opts.Progress = func(_ string, written int64) { // the phase is no warning, which a Note would be
		if j.Progress != nil {
			j.Progress(pipeline.StageProgress{Stage: "probe", Done: written})
		}
	}
	res, err := probe.Run(ctx, dev, opts)
	out := pipeline.Outcome{BytesWritten: res.Written, Details: p.details(res)}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("probe did not finish within max_time %s (a stick this slow is failing): %w", p.MaxTime, err)
		}
		return out, err
	}
	out.Note = summary(res)
	if res.Fake {
		out.Findings = []string{FindingFake}
		if p.OnFake != "shrink" {
			return out, fmt.Errorf("%w: %s usable of %s claimed (%s at %s)", ErrFake,
				units.Bytes(res.Usable), units.Bytes(res.Claimed), res.Fault, units.Exact(res.FirstBad))
		}
		j.Usable = res.Usable
		j.Plan = nil // planned for the whole stick: the write stage plans again for what it stores
		out.Note += "; only the usable part is written (on_fake = \"shrink\")"
	}
	return out, p.checkSpeed(res)
}

// capacity returns how much of a device of size bytes the job's writes
// may use: all of it, unless a probe found less usable.
func capacity(j *pipeline.Job, size int64) int64 {
	if j.Usable > 0 {
		return min(size, j.Usable)
	}
	return size
}

// checkSpeed fails a stick slower than the step's minimum rates.
func (p *Probe) checkSpeed(res *probe.Result) error {
	if w := res.WriteBps / 1e6; p.MinWriteMBps > 0 && w < p.MinWriteMBps {
		return fmt.Errorf("too slow: writes %.1f MB/s past its cache, the minimum is %g MB/s", w, p.MinWriteMBps)
	}
	if r := res.ReadBps / 1e6; p.MinReadMBps > 0 && r < p.MinReadMBps {
		return fmt.Errorf("too slow: reads %.1f MB/s, the minimum is %g MB/s", r, p.MinReadMBps)
	}
	return nil
}

// summary is the board's line for a probe that finished.
func summary(res *probe.Result) string {
	speed := fmt.Sprintf("writes %.1f MB/s, reads %.1f MB/s", res.WriteBps/1e6, res.ReadBps/1e6)
	if res.Fake {
		return fmt.Sprintf("fake: %s usable of %s claimed (%s); %s", units.Bytes(res.Usable), units.Bytes(res.Claimed), res.Fault, speed)
	}
	return fmt.Sprintf("genuine: %s stored as claimed; %s", units.Bytes(res.Claimed), speed)
}

// details are what a receipt keeps of a probe.
func (p *Probe) details(res *probe.Result) map[string]any {
	d := map[string]any{
		"claimed_bytes":   res.Claimed,
		"usable_bytes":    res.Usable,
		"precision_bytes": res.Precision,
		"fake":            res.Fake,
		"on_fake":         p.OnFake,
		"cache_bytes":     res.Cache,
		"flush_bytes":     res.Flush,
		"write_mbps":      round1(res.WriteBps / 1e6),
		"read_mbps":       round1(res.ReadBps / 1e6),
		"probe_written":   res.Written,
		"probe_read":      res.Read,
		"rounds":          res.Rounds,
		"direct":          res.Direct,
	}
	if res.FirstBad >= 0 {
		d["fault"], d["first_bad_offset"] = res.Fault.String(), res.FirstBad
		if res.Fault == probe.Aliased {
			d["alias_of_offset"] = res.AliasOf
		}
		if res.Scattered {
			d["scattered"] = true
		}
	}
	if res.CacheCapped {
		d["cache_capped"] = true
	}
	return d
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

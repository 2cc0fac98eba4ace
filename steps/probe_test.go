package steps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/blockdev/fakedev"
	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/probe"
	"github.com/flashpipe/flashpipe/steps"
)

const gb = 1_000_000_000

// probeJob loads a profile that probes, writes a FAT32 filesystem with
// content, labelled with the usable size in MB, and verifies it, and
// returns a job of it on dev, with the probe shortened to a 16 MiB flush.
func probeJob(t *testing.T, probeBody string, dev *blockdev.Device) *pipeline.Job {
	t.Helper()
	cfg := load(t, fmt.Sprintf(`
profile "p" {
  step "probe" { %s }
  step "wipe" {}
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "U${floor(device.usable_size / 1000000)}"
  }
  step "copy" { paths = [%q] }
  step "verify" {}
}`, probeBody, contentDir(t)))
	p := cfg.Profiles[0]
	steps.SetProbeOptions(p.Stages[0].Runner.(*steps.Probe), probe.Options{MinFlush: 16 << 20})
	j := &pipeline.Job{Seq: 1, Config: cfg, Profile: p, Device: &matchers.Device{Name: "sdx", Bus: "usb", Size: dev.Size, WholeDisk: true},
		Target: dev.Path, Dev: dev, Now: time.Now()}
	t.Cleanup(func() { j.Close() })
	return j
}

// runAll prepares and runs every stage of the job as the station does, and
// returns each stage's outcome up to the first failure.
func runAll(t *testing.T, j *pipeline.Job) ([]pipeline.Outcome, error) {
	t.Helper()
	ctx := context.Background()
	for _, st := range j.Profile.Stages {
		if p, ok := st.Runner.(pipeline.Preparer); ok {
			if err := p.Prepare(ctx, j); err != nil {
				return nil, err
			}
		}
	}
	var outs []pipeline.Outcome
	for _, st := range j.Profile.Stages {
		out, err := st.Runner.Run(ctx, j)
		outs = append(outs, out)
		if err != nil {
			return outs, fmt.Errorf("%s: %w", st.Name, err)
		}
	}
	return outs, nil
}

func TestProbeStepGenuine(t *testing.T) {
	f := fakedev.New(fakedev.Config{Claimed: 2 << 30})
	outs, err := runAll(t, probeJob(t, "", f.Device("/dev/genuine")))
	if err != nil {
		t.Fatal(err)
	}
	d := outs[0].Details
	if d["fake"] != false || d["usable_bytes"] != int64(2<<30) || !strings.HasPrefix(outs[0].Note, "genuine: 2.1 GB stored as claimed") || outs[0].Findings != nil {
		t.Errorf("probe outcome = %q, %v, findings %q; want a genuine 2.1 GB stick, no finding", outs[0].Note, d, outs[0].Findings)
	}
	if v := outs[len(outs)-1].Verify; v == nil || !v.OK || outs[2].Label != "U2147" {
		t.Errorf("verify after the probe = %+v, label %q; want OK, U2147", v, outs[2].Label)
	}
}

// TestProbeStepFailsFake: a "64 GB" stick that wraps at 7.93 GB fails with
// both sizes on the board and in the receipt, nothing else runs, and its
// first MiB is as it was.
func TestProbeStepFailsFake(t *testing.T) {
	f := fakedev.New(fakedev.Config{Claimed: 64 * gb &^ 4095, Real: int64(7.93*gb) &^ 4095, Past: fakedev.Wrap, Cache: 4 << 20})
	first := bytes.Repeat([]byte("old table "), 1<<20/10)
	f.WriteAt(first, 0)
	outs, err := runAll(t, probeJob(t, "", f.Device("/dev/fake")))
	if !errors.Is(err, steps.ErrFake) || !strings.Contains(err.Error(), "fake: 7.9 GB usable of 64.0 GB claimed") || len(outs) != 1 {
		t.Fatalf("running a wrapping fake = %d stages, %v; want the probe to fail it with 7.9 GB usable of 64.0 GB", len(outs), err)
	}
	d := outs[0].Details
	usable, _ := d["usable_bytes"].(int64)
	if d["fake"] != true || d["claimed_bytes"] != int64(64*gb&^4095) || usable > 7.93*gb || usable < 7.93*gb-64*gb/1000 ||
		d["fault"] != probe.Aliased.String() || d["on_fake"] != "fail" || !strings.HasPrefix(outs[0].Note, "fake: 7.9 GB usable of 64.0 GB claimed") {
		t.Errorf("probe outcome = %q, %v", outs[0].Note, d)
	}
	// The failing probe's outcome still says what it found, for the board and /metrics.
	if f := outs[0].Findings; len(f) != 1 || f[0] != steps.FindingFake {
		t.Errorf("findings of the failed fake = %q, want [%q]", f, steps.FindingFake)
	}
	got := make([]byte, len(first))
	f.ReadAt(got, 0)
	if !bytes.Equal(got, first[:len(got)]) {
		t.Error("the fake's first MiB was not written back")
	}
}

// TestProbeStepShrinks: with on_fake = "shrink" a fake whose writes past
// 1 GB vanish is laid out in its first GB, written and verified.
func TestProbeStepShrinks(t *testing.T) {
	f := fakedev.New(fakedev.Config{Claimed: 16 * gb &^ 4095, Real: 1 * gb &^ 4095, Past: fakedev.Zeros, Cache: 2 << 20})
	j := probeJob(t, `on_fake = "shrink"`, f.Device("/dev/fake"))
	outs, err := runAll(t, j)
	if err != nil {
		t.Fatalf("running a fake with on_fake = shrink = %v", err)
	}
	if j.Usable <= 0 || j.Usable > 1*gb || !strings.Contains(outs[0].Note, "only the usable part is written") || outs[0].Details["on_fake"] != "shrink" {
		t.Errorf("probe: Usable = %d, note %q; want the usable part below 1 GB, and the note saying so", j.Usable, outs[0].Note)
	}
	if f := outs[0].Findings; len(f) != 1 || f[0] != steps.FindingFake {
		t.Errorf("findings of the shrunk fake = %q, want [%q]", f, steps.FindingFake)
	}
	last := j.Plan.Extents[len(j.Plan.Extents)-1]
	if last.End() > j.Usable {
		t.Errorf("the plan ends at %d, past the usable %d", last.End(), j.Usable)
	}
	if v := outs[len(outs)-1].Verify; v == nil || !v.OK {
		t.Errorf("verify of the shrunk stick = %+v, want OK", v)
	}
	if want := fmt.Sprintf("U%d", j.Usable/1000000); outs[2].Label != want {
		t.Errorf("label of the shrunk stick = %q, want %q (device.usable_size)", outs[2].Label, want)
	}
}

// TestProbeFindingsDeclared: the registry declares the probe's finding, so
// /metrics has its series before the first fake.
func TestProbeFindingsDeclared(t *testing.T) {
	if got := steps.Builtin().Findings(); fmt.Sprint(got) != fmt.Sprint([]string{steps.FindingFake}) {
		t.Errorf("Builtin().Findings() = %q, want [%q]", got, steps.FindingFake)
	}
}

func TestProbeStepSlow(t *testing.T) {
	f := fakedev.New(fakedev.Config{Claimed: 1 << 30, Slow: []fakedev.Slow{{Region: fakedev.Region{End: 1 << 30}, WriteBps: 30e6, ReadBps: 300e6}}})
	outs, err := runAll(t, probeJob(t, "min_write_mbps = 40", f.Device("/dev/slow")))
	if err == nil || !strings.Contains(err.Error(), "too slow: writes") || len(outs) != 1 || outs[0].Details["write_mbps"].(float64) > 32 {
		t.Errorf("probe of a 30 MB/s stick with min_write_mbps = 40 = %v, %+v; want too slow", err, outs)
	}
	g := fakedev.New(fakedev.Config{Claimed: 1 << 30, Slow: []fakedev.Slow{{Region: fakedev.Region{End: 1 << 30}, WriteBps: 10e6}}})
	if _, err := runAll(t, probeJob(t, `max_time = "1s"`, g.Device("/dev/slow"))); err == nil || !strings.Contains(err.Error(), "did not finish within max_time 1s") {
		t.Errorf("probe taking longer than max_time = %v, want it to fail saying so", err)
	}
}

// TestProbeStepLoop probes a real block device: a 1 GiB loop device
// passes as genuine, and its first MiB is as it was.
func TestProbeStepLoop(t *testing.T) {
	looptest.Require(t)
	backing := looptest.Sparse(t, t.TempDir(), 1<<30)
	first := bytes.Repeat([]byte("old table "), 1<<20/10)
	if err := os.WriteFile(backing, first, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, 1<<30); err != nil {
		t.Fatal(err)
	}
	path := looptest.Attach(t, backing, 0)
	dev, err := blockdev.Open(path, blockdev.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j := probeJob(t, "", dev)
	out, err := j.Profile.Stages[0].Runner.Run(context.Background(), j)
	t.Logf("%s: %v", out.Note, out.Details)
	if err != nil || out.Details["fake"] != false || out.Details["direct"] != true {
		t.Fatalf("probe of a loop device = %v, %v; want genuine, with O_DIRECT", out.Details, err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(first))
	fd, err := os.Open(backing)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	fd.ReadAt(got, 0)
	if !bytes.Equal(got, first[:len(got)]) {
		t.Error("the loop device's first MiB was not written back")
	}
}

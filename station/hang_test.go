package station

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
)

// hangProfile is a profile for the fake host's stick whose one stage is
// stuck until the gate called name opens; timeout is its meta-argument
// ("" for none).
func hangProfile(name, timeout string) string {
	meta := ""
	if timeout != "" {
		meta = `timeout = "` + timeout + `"`
	}
	return `profile "p" {
  match { vendor_id = "0781" }
  step "hang" {
    gate = "` + name + `"
    ` + meta + `
  }
}
`
}

// TestHungStageTimesOutOnTime: a stage stuck where its timeout cannot
// reach it (a write held in the kernel) fails the job on time — its
// timeout plus stageGrace — with a receipt that says so; the station does
// not close the device under the stuck stage, which closes it when it
// returns at last.
func TestHungStageTimesOutOnTime(t *testing.T) {
	defer func(d time.Duration) { stageGrace = d }(stageGrace)
	stageGrace = 300 * time.Millisecond
	h := newFakeHost(t)
	r := h.runConfig(t, loadTestKinds(t, hangProfile("hung-timeout", "500ms")), nil, 10*time.Millisecond, context.Background())
	h.plug(t)
	waitRow(t, r.board, func(j status.Row) bool { return j.Step == "hang" })
	start := time.Now()
	row := waitRowReturn(t, r.board, func(j status.Row) bool { return j.State.Terminal() })
	took := time.Since(start)
	rs := readReceiptsFile(t, r.receipts)
	if len(rs) != 1 || rs[0].Result != receipts.ResultFailed || rs[0].FailedStep != "hang" ||
		!strings.Contains(rs[0].Error, "timed out after 500ms") || !strings.Contains(rs[0].Error, "stopped answering") {
		t.Errorf("receipts = %+v, want one: failed in hang, timed out, the stick stopped answering", rs)
	}
	if took > 3*time.Second || row.State != status.StateFailed {
		t.Errorf("the hung job ended %v after it started, %s; want failed within its timeout and stageGrace", took.Round(time.Millisecond), row.State)
	}
	select {
	case <-gate("hung-timeout/closed"):
		t.Error("the station closed the device while the stuck stage still used it")
	default:
	}
	close(gate("hung-timeout")) // the kernel gives the I/O back
	select {
	case <-gate("hung-timeout/closed"):
	case <-time.After(5 * time.Second):
		t.Error("the device was not closed once the stuck stage returned")
	}
	r.stop()
	<-r.done
}

// TestHungStageDoesNotHoldShutdown: a station whose jobs are aborted
// (the grace period is over) returns within stageGrace even when a stage
// is stuck, with the job's receipt written.
func TestHungStageDoesNotHoldShutdown(t *testing.T) {
	defer func(d time.Duration) { stageGrace = d }(stageGrace)
	stageGrace = 300 * time.Millisecond
	h := newFakeHost(t)
	jobs, abort := context.WithCancel(context.Background())
	r := h.runConfig(t, loadTestKinds(t, hangProfile("hung-shutdown", "")), nil, 10*time.Millisecond, jobs)
	defer close(gate("hung-shutdown"))
	h.plug(t)
	waitRow(t, r.board, func(j status.Row) bool { return j.Step == "hang" })
	r.stop()
	abort()
	select {
	case sum := <-r.done:
		if sum.Failed != 1 {
			t.Errorf("Run() = %s, want 1 failed", sum)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5 s after its jobs were aborted, with a stage stuck")
	}
	if rs := readReceiptsFile(t, r.receipts); len(rs) != 1 || !strings.Contains(rs[0].Error, "aborted during hang (station shutting down)") || !strings.Contains(rs[0].Error, "stopped answering") {
		t.Errorf("receipts = %+v, want the stuck job aborted, saying the stick stopped answering", rs)
	}
}

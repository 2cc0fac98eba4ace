package station

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/uevent"
)

// addEvent is the kernel's add uevent for the fake host's stick.
var addEvent = uevent.Event{Action: "add", Subsystem: "block", DevType: "disk", DevName: "sdb", DevPath: removeEvent.DevPath}

// gateProfile is a profile for the fake host's stick whose one stage waits
// for the gate called name.
func gateProfile(t *testing.T, name string) string {
	t.Helper()
	return `profile "p" {
  match { vendor_id = "0781" }
  step "gate" { gate = "` + name + `" }
}
`
}

// TestInterruptedJobFoundAtStart: a station stops (here: its journal is
// taken over, as a kill -9 leaves it) while a job runs. The next station
// writes that job's receipt with result interrupted and the stage it had
// reached, shows the stick — still plugged in — as interrupted until it is
// pulled, and writes it like any new stick once it is inserted again.
func TestInterruptedJobFoundAtStart(t *testing.T) {
	for _, sameBoot := range []bool{true, false} {
		name := map[bool]string{true: "same boot: by diskseq", false: "after a reboot: by serial and port"}[sameBoot]
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t)
			if sameBoot {
				h.proc.(fstest.MapFS)["sys/kernel/random/boot_id"] = &fstest.MapFile{Data: []byte("b00t\n")}
			}
			gateName := "interrupted-" + name
			a := h.runConfig(t, loadTestKinds(t, gateProfile(t, gateName)), nil, 10*time.Millisecond, context.Background())
			h.plug(t)
			waitRow(t, a.board, func(j status.Row) bool { return j.Step == "gate" })
			journal, err := os.ReadFile(receipts.JournalPath(a.receipts))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { close(gate(gateName)); a.stop(); <-a.done }()

			// The next station, over the journal the first one left.
			rpath := filepath.Join(t.TempDir(), "r.jsonl")
			if err := os.WriteFile(receipts.JournalPath(rpath), journal, 0o644); err != nil {
				t.Fatal(err)
			}
			ev := &fakeUevents{ch: make(chan uevent.Event)}
			logs, log := newLog()
			opts := h.options()
			opts.Config, opts.Uevents, opts.Log, opts.Board, opts.Receipts, opts.RescanInterval = fakeHostConfig(t), ev, log, status.NewBoard(), rpath, time.Hour
			st := New(opts)
			intake, stop := context.WithCancel(context.Background())
			done := make(chan Summary, 1)
			go func() { done <- st.Run(intake, context.Background()) }()
			waitRunning(t, st)

			rs := readReceiptsFile(t, rpath)
			if len(rs) != 1 || rs[0].Result != receipts.ResultInterrupted || rs[0].FailedStep != "gate" || rs[0].Device.Serial != "4C530001230815117432" ||
				rs[0].Device.DiskSeq != 14 || !strings.Contains(rs[0].Error, "interrupted during gate") {
				t.Fatalf("receipts of the next station = %+v, want one: interrupted during gate, with the stick's serial and diskseq", rs)
			}
			rows := opts.Board.Snapshot()
			if len(rows) != 1 || rows[0].State != status.StateInterrupted || rows[0].Port != "1-1.4" || !strings.Contains(rows[0].Error, "insert it again") {
				t.Fatalf("board of the next station = %+v, want the stick on port 1-1.4 interrupted, saying to insert it again", rows)
			}
			h.sys.set(h.bare) // pulled
			ev.ch <- removeEvent
			waitRow(t, opts.Board, nil)
			h.reinsert(t)
			ev.ch <- addEvent
			waitFor(t, logs, "done: written and verified")
			stop()
			if sum := <-done; sum.Interrupted != 1 || sum.Done != 1 {
				t.Errorf("Run() = %s, want 1 interrupted (found at start) and 1 done", sum)
			}
		})
	}
}

// TestInterruptedStickGone: of a job whose stick is not plugged in when the
// next station starts, the receipt is written and the board says so once,
// then drops the row; a receipt already written (the station stopped
// between the receipt and the journal) is not written twice.
func TestInterruptedStickGone(t *testing.T) {
	rpath := filepath.Join(t.TempDir(), "r.jsonl")
	j, _, err := receipts.OpenJournal(rpath, "")
	if err != nil {
		t.Fatal(err)
	}
	j.Reset()
	at := time.Now().Add(-time.Hour).Round(0)
	gone := receipts.Receipt{Started: at, Job: 1, Profile: "p", Device: receipts.Device{Name: "sdz", Serial: "GONE", Port: "2-1"}}
	ended := receipts.Receipt{Started: at, Job: 2, Profile: "p", Device: receipts.Device{Name: "sdy"}}
	j.Start(gone)
	j.Stage(1, "write")
	j.Start(ended)
	j.Close()
	done := ended
	done.Result, done.Time = receipts.ResultDone, at.Add(time.Minute)
	if err := receipts.Append(rpath, done); err != nil {
		t.Fatal(err)
	}
	h := newFakeHost(t)
	board := status.NewBoard()
	var seen []status.Row
	board.Observe(func(r status.Row) { seen = append(seen, r) })
	logs, log := newLog()
	opts := h.options()
	opts.Config, opts.Board, opts.Receipts, opts.Log = fakeHostConfig(t), board, rpath, log
	st := New(opts)
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	intake, stop := context.WithCancel(context.Background())
	stop()
	st.Run(intake, context.Background())
	rs := readReceiptsFile(t, rpath)
	if len(rs) != 2 || rs[1].Job != 1 || rs[1].Result != receipts.ResultInterrupted || rs[1].FailedStep != "write" || !rs[1].Time.After(at) {
		t.Errorf("receipts = %+v, want the done one and job 1 interrupted in write", rs)
	}
	if len(seen) != 2 || seen[0].State != status.StateInterrupted || seen[0].Serial != "GONE" || !strings.Contains(seen[0].Error, "not plugged in") || seen[1].State != status.StateIdle {
		t.Errorf("board updates = %+v, want job 1 interrupted (not plugged in), then idle", seen)
	}
	if !strings.Contains(logs.String(), "job interrupted: the station stopped while it ran") {
		t.Errorf("log does not name the interrupted job:\n%s", logs.String())
	}
}

// TestReceiptsUnwritableMidRun: when a receipt cannot be written (here the
// receipts file became a directory), the job's stick is not shown done —
// its row waits, saying why — the board carries the alert, and the
// station resumes by itself once a retry succeeds.
func TestReceiptsUnwritableMidRun(t *testing.T) {
	defer func(d time.Duration) { ReceiptRetry = d }(ReceiptRetry)
	ReceiptRetry = 20 * time.Millisecond
	h := newFakeHost(t)
	r := h.runConfig(t, loadTestKinds(t, gateProfile(t, "unwritable")), nil, 10*time.Millisecond, context.Background())
	h.plug(t)
	waitRow(t, r.board, func(j status.Row) bool { return j.Step == "gate" })
	if err := os.Remove(r.receipts); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.receipts, 0o755); err != nil {
		t.Fatal(err)
	}
	close(gate("unwritable"))
	row := waitRowReturn(t, r.board, func(j status.Row) bool { return strings.Contains(j.Error, "receipt cannot be written") })
	if row.State != status.StateRunning || row.Step != "receipt" {
		t.Errorf("row while its receipt cannot be written = %s in %s, want running in receipt (never shown finished)", row.State, row.Step)
	}
	if alerts, _ := r.board.Alerts(); len(alerts) != 1 || alerts[0].Key != status.AlertReceipts || !strings.Contains(alerts[0].Message, "No new sticks are taken") {
		t.Errorf("alerts = %+v, want the receipts alert", alerts)
	}
	time.Sleep(100 * time.Millisecond) // several retries
	if row := r.board.Snapshot()[0]; row.State.Terminal() {
		t.Errorf("row after retries that failed = %+v, want it not finished", row)
	}
	if err := os.Remove(r.receipts); err != nil {
		t.Fatal(err)
	}
	row = waitRowReturn(t, r.board, func(j status.Row) bool { return j.State.Terminal() })
	if row.State != status.StateUnverified || row.Error != "" || row.Step != "gate" {
		t.Errorf("row after the receipt was written = %+v, want unverified in gate, no error", row)
	}
	if alerts, _ := r.board.Alerts(); len(alerts) != 0 {
		t.Errorf("alerts after a receipt was written = %+v, want none", alerts)
	}
	r.stop()
	<-r.done
	if rs := readReceiptsFile(t, r.receipts); len(rs) != 1 || rs[0].Result != receipts.ResultUnverified {
		t.Errorf("receipts = %+v, want the job's, unverified", rs)
	}
	waitFor(t, r.logs, "receipts can be written again; taking sticks")
}

// TestOpenRefusesUnwritableReceipts: a station whose receipts file cannot
// be created does not start.
func TestOpenRefusesUnwritableReceipts(t *testing.T) {
	h := newFakeHost(t)
	opts := h.options()
	logs, log := newLog()
	opts.Config, opts.Receipts, opts.Log = fakeHostConfig(t), filepath.Join(t.TempDir(), "missing", "r.jsonl"), log
	st := New(opts)
	if err := st.Open(); err == nil || !strings.Contains(err.Error(), "cannot record jobs") || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("Open() with a missing directory = %v, want cannot record jobs: no such file or directory", err)
	}
	intake, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan Summary, 1)
	go func() { done <- st.Run(intake, context.Background()) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return for a station that cannot record jobs")
	}
	if !strings.Contains(logs.String(), "the station cannot start") {
		t.Errorf("Run's log does not say why it did not start:\n%s", logs.String())
	}
}

// waitRowReturn is waitRow that returns the row.
func waitRowReturn(t *testing.T, b *status.Board, ok func(status.Row) bool) status.Row {
	t.Helper()
	var found status.Row
	waitRow(t, b, func(j status.Row) bool {
		if ok(j) {
			found = j
			return true
		}
		return false
	})
	return found
}

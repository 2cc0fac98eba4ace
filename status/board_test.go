package status

import (
	"fmt"
	"slices"
	"testing"

	"github.com/flashpipe/flashpipe/receipts"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if helperMode() {
		runTTYHelper()
		return
	}
	goleak.VerifyTestMain(m)
}

func ids(js []Row) []string {
	var out []string
	for _, j := range js {
		out = append(out, fmt.Sprintf("%s#%d", j.Port, j.ID))
	}
	return out
}

func TestSnapshotSortedByPortThenID(t *testing.T) {
	b := NewBoard()
	b.Update(Row{ID: 3, Port: "1-1.2", State: StateRunning})
	b.Update(Row{ID: 1, Port: "1-1.3", State: StateVerified})
	b.Update(Row{ID: 2, Port: "1-1.2", State: StateFailed})
	b.Update(Row{ID: 4, Port: "", Device: "/tmp/x.img", State: StateRunning})
	got := ids(b.Snapshot())
	want := []string{"#4", "1-1.2#2", "1-1.2#3", "1-1.3#1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot() order (-want +got):\n%s", diff)
	}
}

func TestUpdateReplacesAndRemoveDeletes(t *testing.T) {
	b := NewBoard()
	b.Update(Row{ID: 1, Port: "1-1", State: StateRunning, Done: 10})
	b.Update(Row{ID: 1, Port: "1-1", State: StateVerified, Done: 20})
	s := b.Snapshot()
	if len(s) != 1 || s[0].State != StateVerified || s[0].Done != 20 {
		t.Fatalf("Snapshot() after two updates of job 1 = %+v, want one verified row with Done 20", s)
	}
	if s[0].Updated.IsZero() {
		t.Errorf("Snapshot()[0].Updated = zero, want Update to stamp it")
	}
	b.Remove(1)
	b.Remove(99) // unknown: no-op
	if s := b.Snapshot(); len(s) != 0 {
		t.Errorf("Snapshot() after Remove(1) = %+v, want empty", s)
	}
}

func TestObserveSeesEveryUpdateAndIdleOnRemove(t *testing.T) {
	b := NewBoard()
	var got []State
	b.Observe(func(j Row) { got = append(got, j.State) })
	for i := 0; i < 100; i++ {
		b.Update(Row{ID: 1, State: StateRunning, Done: int64(i)})
	}
	b.Update(Row{ID: 1, State: StateVerified})
	b.Remove(1)
	if len(got) != 102 || got[100] != StateVerified || got[101] != StateIdle {
		t.Errorf("observer saw %d updates ending %v, want 102 ending [verified idle]", len(got), got[len(got)-2:])
	}
}

// A subscriber that does not read must not block Update; once it reads it
// sees every state change in order and the latest progress of each.
func TestSubscribeSlowReaderCoalescesButKeepsStateChanges(t *testing.T) {
	b := NewBoard()
	ch, cancel := b.Subscribe()
	defer cancel()
	b.Update(Row{ID: 1, State: StateDetected})
	b.Update(Row{ID: 1, State: StateMatched})
	for i := 1; i <= 10000; i++ { // would deadlock if Update waited for the reader
		b.Update(Row{ID: 1, State: StateRunning, Step: "write", Done: int64(i)})
	}
	b.Update(Row{ID: 1, State: StateRunning, Step: "verify", Done: 5})
	b.Update(Row{ID: 1, State: StateVerified})
	b.Remove(1)

	var got []string
	for len(got) < 6 {
		j := <-ch
		got = append(got, fmt.Sprintf("%s/%s/%d", j.State, j.Step, j.Done))
	}
	want := []string{"detected//0", "matched//0", "running/write/10000", "running/verify/5", "verified//0", "idle//0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("updates seen by a slow subscriber (-want +got):\n%s", diff)
	}
}

func TestSubscribeDropsOldestBeyondMaxPending(t *testing.T) {
	b := NewBoard()
	ch, cancel := b.Subscribe()
	defer cancel()
	n := MaxPending + 10
	for i := 0; i < n; i++ {
		b.Update(Row{ID: i, State: StateDetected}) // distinct jobs: nothing coalesces
	}
	got := 0
	for j := range ch {
		got++
		if j.ID == n-1 {
			break
		}
	}
	// One update may already be in flight when the queue overflows.
	if got > MaxPending+1 {
		t.Errorf("subscriber received %d of %d updates, want at most %d (oldest dropped)", got, n, MaxPending+1)
	}
}

func TestSubscribeCancelClosesChannel(t *testing.T) {
	b := NewBoard()
	ch, cancel := b.Subscribe()
	b.Update(Row{ID: 1, State: StateRunning})
	cancel()
	cancel() // twice is fine
	for range ch {
	}
	b.Update(Row{ID: 2, State: StateRunning}) // no subscriber left; must not panic
}

func TestStatePredicates(t *testing.T) {
	for _, tc := range []struct {
		s                State
		terminal, active bool
	}{
		{StateDetected, false, false}, {StateMatched, false, true}, {StateQueued, false, true},
		{StateRunning, false, true}, {StateVerified, true, false}, {StateFailed, true, false},
		{StateRemoved, true, false}, {StateInterrupted, true, false}, {StateIgnored, false, false}, {StateRefused, false, false}, {StateIdle, false, false},
	} {
		if got := tc.s.Terminal(); got != tc.terminal {
			t.Errorf("State(%q).Terminal() = %v, want %v", tc.s, got, tc.terminal)
		}
		if got := tc.s.Active(); got != tc.active {
			t.Errorf("State(%q).Active() = %v, want %v", tc.s, got, tc.active)
		}
	}
}

// A new stick on a port (or under a kernel name) means the finished stick
// that was there has been pulled: its row goes, as if by Remove.
func TestUpdatePrunesFinishedRowsOfTheSamePortOrDevice(t *testing.T) {
	b := NewBoard()
	var seen []string
	b.Observe(func(j Row) { seen = append(seen, fmt.Sprintf("%d:%s", j.ID, j.State)) })
	b.Update(Row{ID: 1, Port: "1-1.1", Device: "sdb", State: StateVerified})
	b.Update(Row{ID: 2, Port: "1-1.2", Device: "sdc", State: StateRunning})
	b.Update(Row{ID: 3, Port: "1-1.3", Device: "sdd", State: StateIgnored})
	b.Update(Row{ID: 4, Port: "1-1.1", Device: "sde", State: StateDetected}) // replaces 1 (same port)
	b.Update(Row{ID: 5, Port: "1-1.2", Device: "sdf", State: StateDetected}) // 2 still running: kept
	b.Update(Row{ID: 6, Port: "2-1", Device: "sdd", State: StateDetected})   // replaces 3 (same name)
	b.Update(Row{ID: 4, Port: "1-1.1", Device: "sde", State: StateRunning})  // known ID: no pruning
	b.Update(Row{ID: 7, Port: "3-1", Device: "sdg", State: StateRefused})
	b.Update(Row{ID: 8, Port: "3-1", Device: "sdh", State: StateDetected}) // replaces 7 (same port)
	if diff := cmp.Diff([]string{"1-1.1#4", "1-1.2#2", "1-1.2#5", "2-1#6", "3-1#8"}, ids(b.Snapshot())); diff != "" {
		t.Errorf("Snapshot() after new sticks (-want +got):\n%s", diff)
	}
	want := []string{"1:verified", "2:running", "3:ignored", "1:idle", "4:detected", "5:detected", "3:idle", "6:detected", "4:running",
		"7:refused", "7:idle", "8:detected"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("updates observed (-want +got):\n%s", diff)
	}
}

// TestStateOfEveryResult: every result a receipt can hold has a final
// state whose Result is that result again.
func TestStateOfEveryResult(t *testing.T) {
	for _, r := range receipts.Results() {
		if s := StateOf(r); !s.Terminal() || s.Result() != r {
			t.Errorf("StateOf(%q) = %q (Terminal %v, Result %q), want a terminal state whose Result is %q", r, s, s.Terminal(), s.Result(), r)
		}
	}
	// And every terminal state's result is in the list.
	for _, s := range []State{StateVerified, StateUnverified, StateFailed, StateRemoved, StateInterrupted} {
		if !s.Terminal() || !slices.Contains(receipts.Results(), s.Result()) {
			t.Errorf("terminal state %q has result %q, which receipts.Results() does not list", s, s.Result())
		}
	}
}

// TestAlerts: an alert is shown until cleared, keeps its Since while it
// stays, and every change closes the channel Alerts returned.
func TestAlerts(t *testing.T) {
	b := NewBoard()
	none, changed := b.Alerts()
	if len(none) != 0 {
		t.Fatalf("Alerts() of a new board = %v, want none", none)
	}
	b.SetAlert(Alert{Key: AlertReceipts, Message: "disk full"})
	select {
	case <-changed:
	default:
		t.Fatal("SetAlert did not close the channel of the alerts before it")
	}
	as, changed := b.Alerts()
	since := as[0].Since
	b.SetAlert(Alert{Key: AlertReceipts, Message: "disk full"}) // the same: no change
	select {
	case <-changed:
		t.Error("SetAlert of the same alert closed the channel")
	default:
	}
	b.SetAlert(Alert{Key: AlertReceipts, Message: "read-only"})
	as, _ = b.Alerts()
	if len(as) != 1 || as[0].Message != "read-only" || !as[0].Since.Equal(since) {
		t.Errorf("Alerts() after a new message = %+v, want the new message since %v", as, since)
	}
	b.ClearAlert(AlertReceipts)
	if as, _ = b.Alerts(); len(as) != 0 {
		t.Errorf("Alerts() after ClearAlert = %+v, want none", as)
	}
}

package station

import (
	"context"
	"maps"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/uevent"
)

// removeEvent is the kernel's remove uevent for the fake host's stick.
var removeEvent = uevent.Event{Action: "remove", Subsystem: "block", DevType: "disk", DevName: "sdb",
	DevPath: "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.4/1-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb"}

// TestRemoveEventIsAHint: a remove event for a stick that sysfs still
// shows, unchanged (echo remove > /sys/block/sdb/uevent), neither aborts
// its job nor clears its finished row; the stick really pulled does.
func TestRemoveEventIsAHint(t *testing.T) {
	h := newFakeHost(t)
	ev := &fakeUevents{ch: make(chan uevent.Event)}
	cfg := loadTestKinds(t, `profile "p" {
  match { vendor_id = "0781" }
  step "gate" { gate = "remove-hint" }
}
`)
	r := h.runConfig(t, cfg, ev, time.Hour, context.Background())
	h.plug(t)
	ev.ch <- uevent.Event{Action: "add", Subsystem: "block", DevType: "disk", DevName: "sdb", DevPath: removeEvent.DevPath}
	waitRow(t, r.board, func(j status.Row) bool { return j.Step == "gate" && j.State == status.StateRunning })

	ev.ch <- removeEvent // the stick is still in sysfs
	waitFor(t, r.logs, "ignored a remove event: the disk is still there")
	close(gate("remove-hint"))
	waitRow(t, r.board, func(j status.Row) bool { return j.State == status.StateUnverified })
	ev.ch <- removeEvent
	time.Sleep(3 * time.Second) // past every re-check of the hint
	if rows := r.board.Snapshot(); len(rows) != 1 || rows[0].State != status.StateUnverified {
		t.Errorf("board after a remove event for the finished stick still in sysfs = %+v, want its finished row", rows)
	}

	h.sys.set(h.bare) // pulled for real
	ev.ch <- removeEvent
	waitRow(t, r.board, nil)
	r.stop()
	<-r.done
	rs := readReceiptsFile(t, r.receipts)
	if len(rs) != 1 || rs[0].Result != receipts.ResultUnverified || rs[0].Error != "" {
		t.Errorf("receipts = %+v, want one job that ran to its end (unverified: the profile reads nothing back)\n%s", rs, r.logs)
	}
}

// waitRow waits until the board has a row for which ok is true, or, with
// ok nil, until it has no row at all.
func waitRow(t *testing.T, b *status.Board, ok func(status.Row) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		rows := b.Snapshot()
		if ok == nil && len(rows) == 0 {
			return
		}
		for _, j := range rows {
			if ok != nil && ok(j) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the board never showed the row the test waits for: %+v", b.Snapshot())
}

// TestNewMediumDropsOldRow: a name the kernel gives to another medium (a
// loop device detached and attached again, a card swapped in a reader)
// keeps no row of the medium before: the row of a stick that matched no
// profile goes when the slot shows empty, and when a new medium appears
// under the name before sysfs showed it empty.
func TestNewMediumDropsOldRow(t *testing.T) {
	h := newFakeHost(t)
	ev := &fakeUevents{ch: make(chan uevent.Event)}
	cfg := loadTestKinds(t, `profile "p" {
  match { vendor_id = "ffff" }
  step "gate" { gate = "never" }
}
`)
	r := h.runConfig(t, cfg, ev, time.Hour, context.Background())
	// A card reader's media change event; the first insertion is an add.
	change := uevent.Event{Action: "change", Subsystem: "block", DevType: "disk", DevName: "sdb", DevPath: removeEvent.DevPath,
		Env: map[string]string{"DISK_MEDIA_CHANGE": "1"}}
	h.plug(t)
	ev.ch <- uevent.Event{Action: "add", Subsystem: "block", DevType: "disk", DevName: "sdb", DevPath: removeEvent.DevPath}
	waitRow(t, r.board, func(j status.Row) bool { return j.State == status.StateIgnored })
	first := r.board.Snapshot()[0].ID

	h.reinsert(t) // a new diskseq, never seen empty
	ev.ch <- change
	waitRow(t, r.board, func(j status.Row) bool { return j.ID != first })
	if rows := r.board.Snapshot(); len(rows) != 1 || rows[0].ID == first || rows[0].State != status.StateIgnored {
		t.Errorf("board after a new medium under the same name = %+v, want only the new medium's row", rows)
	}

	h.sys.set(withFile(h.with, "/block/sdb/size", "0\n")) // the slot empty
	ev.ch <- change
	waitRow(t, r.board, nil)
	r.stop()
	<-r.done
}

// withFile returns a copy of m in which the file whose name ends in
// suffix holds data.
func withFile(m fstest.MapFS, suffix, data string) fstest.MapFS {
	c := maps.Clone(m)
	for name := range c {
		if strings.HasSuffix(name, suffix) {
			c[name] = &fstest.MapFile{Data: []byte(data)}
		}
	}
	return c
}

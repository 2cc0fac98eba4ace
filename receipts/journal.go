package receipts

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// The journal is the station's record of the jobs it is running, next to
// the receipts file (JournalPath): a line when a job starts, before
// anything is written to its stick, and one for each stage it reaches.
// Each line is one write(2), fsynced. When a job ends, after its receipt
// is on disk, it leaves the journal: the journal is rewritten with the
// jobs still running (into a new file renamed over it) whenever none is
// left or it grew past compactAt, and an end line is appended otherwise.
// A station that is killed or loses power leaves jobs that started and
// did not end; the next station that opens the journal finds them
// (Unfinished) and writes their receipts with result interrupted.
//
// While a station runs it holds a lock file beside the receipts file
// (LockPath, flock, holding its pid): a second station with the same
// receipts file cannot open the journal, and Locked names the first.

// JournalPath returns the journal of the receipts file at receipts.
func JournalPath(receipts string) string { return receipts + ".journal" }

// LockPath returns the lock file of the receipts file at receipts.
func LockPath(receipts string) string { return receipts + ".lock" }

// compactAt is the size past which the journal is rewritten with only the
// jobs that still run.
const compactAt = 64 << 10

// journalLine is one line of the journal.
type journalLine struct {
	Event string    `json:"event"` // "open", "start", "stage" or "end"
	Time  time.Time `json:"time"`
	// open
	PID    int    `json:"pid,omitempty"`
	BootID string `json:"boot_id,omitempty"` // the kernel's boot id: diskseq is unique within one boot
	// start, stage and end
	Job   int      `json:"job,omitempty"`
	Start *Receipt `json:"start,omitempty"` // start: what the receipt will say of the job and its stick
	Stage string   `json:"stage,omitempty"` // stage: the stage the job starts now
}

// Unfinished is a job the journal shows started and not ended: the station
// that ran it stopped first.
type Unfinished struct {
	Receipt  Receipt   // what was known when it started: times, profile, job, device
	Stage    string    // the last stage it reached ("" before the first)
	LastSeen time.Time // its last line in the journal
	BootID   string    // the boot the station ran in ("" when unknown)
}

// Locked is OpenJournal's error when another process holds the lock of
// the receipts file.
type Locked struct {
	Receipts string // the receipts file
	PID      int    // the holder's pid, 0 when unknown
}

func (e *Locked) Error() string {
	who := "another station"
	if e.PID != 0 {
		who = fmt.Sprintf("another station (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is using the receipts file %s (it holds %s); stop it first", who, e.Receipts, LockPath(e.Receipts))
}

// unfinished reads the journal and returns its jobs that started and did
// not end, in the order they started. Lines that do not parse (torn by a
// power cut) are skipped.
func unfinished(r io.ReaderAt) ([]Unfinished, error) {
	jobs := map[int]*Unfinished{}
	var bootID string
	sc := bufio.NewScanner(io.NewSectionReader(r, 0, 1<<62))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch u := jobs[l.Job]; {
		case l.Event == "open":
			bootID = l.BootID
		case l.Event == "start" && l.Start != nil:
			jobs[l.Job] = &Unfinished{Receipt: *l.Start, LastSeen: l.Time, BootID: bootID}
		case l.Event == "stage" && u != nil:
			u.Stage, u.LastSeen = l.Stage, l.Time
		case l.Event == "end":
			delete(jobs, l.Job)
		}
	}
	out := make([]Unfinished, 0, len(jobs))
	for _, u := range jobs {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Receipt.Job < out[k].Receipt.Job })
	return out, sc.Err()
}

// Written reports whether rs holds the receipt of u: a crash between a
// receipt and its end line in the journal leaves a job unfinished that
// has its receipt already.
func (u Unfinished) Written(rs []Receipt) bool {
	for _, r := range rs {
		if r.Job == u.Receipt.Job && r.Started.Equal(u.Receipt.Started) && r.Device.Name == u.Receipt.Device.Name {
			return true
		}
	}
	return false
}

// Interrupted returns the receipt of u: result interrupted, failed in the
// stage it had reached, at the time of its last line in the journal.
func (u Unfinished) Interrupted() Receipt {
	r := u.Receipt
	r.Time, r.Result = u.LastSeen, ResultInterrupted
	r.FailedStep = u.Stage
	stage := "before its first stage"
	if u.Stage != "" {
		stage = "during " + u.Stage
	}
	r.Error = fmt.Sprintf("interrupted %s: the station stopped (killed, crashed or lost power) while this job ran; "+
		"what is on the stick is unknown: write it again", stage)
	return r
}

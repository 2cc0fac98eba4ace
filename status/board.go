// Package status holds the live state of every job on a station — the
// Board — and draws it for the operator on a terminal. The web dashboard
// (package web) reads the same Board.
//
// The station engine is the only writer: it calls Update whenever a job moves
// and Remove when a finished stick is pulled. Readers take a Snapshot or
// Subscribe to a stream of updates; a slow reader never slows the engine.
package status

import (
	"sort"
	"sync"
	"time"

	"github.com/flashpipe/flashpipe/receipts"
)

// State is where a job is in its life. The zero value is invalid.
type State string

// The states a job moves through. A normal job goes detected → matched →
// queued → running → verified; it can end failed or removed instead, or
// unverified when its profile wrote it without reading it back. A stick
// that matches no profile is ignored; one on an allowed bus that the safety
// guard refuses (mounted, read-only, held by LVM…) is refused. Idle is what a
// port shows once its stick has been pulled (Board.Remove).
const (
	StateDetected State = "detected"
	StateMatched  State = "matched"
	StateQueued   State = "queued"
	StateRunning  State = "running"
	StateVerified State = "verified" // done: written and read back equal
	// StateUnverified: every step succeeded but nothing read the written
	// data back (the profile has no verify step). Never shown as done.
	StateUnverified State = "unverified"
	StateFailed     State = "failed"
	StateRemoved    State = "removed" // the stick was pulled while the job ran
	// StateInterrupted: the station stopped (killed, crashed, power lost)
	// while the job ran; a station that starts again shows the stick so,
	// if it is still plugged in. What is on it is unknown.
	StateInterrupted State = "interrupted"
	StateIgnored     State = "ignored" // no profile matched; nothing was written
	StateRefused     State = "refused" // the safety guard refused it; nothing was written
	StateIdle        State = "idle"
)

// Terminal reports whether s is a final state of a job: verified,
// unverified, failed, removed or interrupted. An ignored or refused stick
// never became a job and is not terminal.
func (s State) Terminal() bool {
	return s == StateVerified || s == StateUnverified || s == StateFailed || s == StateRemoved || s == StateInterrupted
}

// StateOf is the final state of a job that ended with result r; a result
// this program does not know shows as failed.
func StateOf(r receipts.Result) State {
	switch r {
	case receipts.ResultDone:
		return StateVerified
	case receipts.ResultUnverified:
		return StateUnverified
	case receipts.ResultRemoved:
		return StateRemoved
	case receipts.ResultInterrupted:
		return StateInterrupted
	}
	return StateFailed
}

// Result is the receipt result of a job that ended in state s, or "" when
// s is not Terminal.
func (s State) Result() receipts.Result {
	switch s {
	case StateVerified:
		return receipts.ResultDone
	case StateUnverified:
		return receipts.ResultUnverified
	case StateFailed:
		return receipts.ResultFailed
	case StateRemoved:
		return receipts.ResultRemoved
	case StateInterrupted:
		return receipts.ResultInterrupted
	}
	return ""
}

// Active reports whether a job in state s holds or waits for a write slot.
func (s State) Active() bool {
	return s == StateMatched || s == StateQueued || s == StateRunning
}

// Row is one stick's job as the operator sees it. The JSON form is what the
// web API and the dashboard use.
type Row struct {
	ID        int    `json:"id"`
	Device    string `json:"device"`     // kernel name ("sdb") or image path
	Port      string `json:"port"`       // USB port path, e.g. "1-1.4"; "" for images
	Serial    string `json:"serial"`     // USB serial number
	VendorID  string `json:"vendor_id"`  // USB idVendor, 4 hex digits
	ProductID string `json:"product_id"` // USB idProduct, 4 hex digits
	Profile   string `json:"profile"`    // matched profile, "" when none
	Size      int64  `json:"size"`       // device size in bytes

	State     State  `json:"state"`
	Step      string `json:"step"`       // current (or failing) step name
	StepIndex int    `json:"step_index"` // 1-based; 0 before the first step
	StepCount int    `json:"step_count"`

	Done  int64         `json:"done"`   // bytes done in the current step
	Total int64         `json:"total"`  // bytes the current step will do; 0 if unknown
	Rate  float64       `json:"rate"`   // bytes/s in the current step
	ETA   time.Duration `json:"eta_ns"` // time left in the current step; 0 if unknown

	Error string `json:"error,omitempty"`
	Note  string `json:"note,omitempty"` // the last stage's line for the operator, e.g. "ejected: safe to pull"
	// VerifyFailed: the job read the stick back and it differed.
	VerifyFailed bool `json:"verify_failed,omitempty"`
	// Findings are what the job's stages found wrong with the stick
	// (pipeline.Outcome.Findings), such as "fake", in the order found.
	Findings []string  `json:"findings,omitempty"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`

	BytesWritten  int64 `json:"bytes_written"`  // bytes written to the stick so far
	BytesVerified int64 `json:"bytes_verified"` // bytes read back and compared so far
}

// Alert is a problem of the whole station that the operator must act on,
// shown above the jobs until it is cleared.
type Alert struct {
	Key     string    `json:"key"`     // what it is about: AlertReceipts
	Message string    `json:"message"` // what is wrong, what the station does about it, what to do
	Since   time.Time `json:"since"`
}

// AlertReceipts is the alert of a station whose receipts cannot be
// written: it takes no new sticks until they can.
const AlertReceipts = "receipts"

// Board is the set of current jobs, and the station's alerts. It is safe
// for concurrent use.
type Board struct {
	mu        sync.Mutex
	jobs      map[int]Row
	subs      map[*subscriber]struct{}
	observers []func(Row)
	alerts    map[string]Alert
	alerted   chan struct{} // closed when the alerts change
}

// NewBoard returns an empty board.
func NewBoard() *Board {
	return &Board{jobs: map[int]Row{}, subs: map[*subscriber]struct{}{}, alerts: map[string]Alert{}, alerted: make(chan struct{})}
}

// SetAlert shows a, replacing the alert with the same key; a zero Since
// is set to the current time, and kept while the key stays alerted.
func (b *Board) SetAlert(a Alert) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.alerts[a.Key]; ok {
		if old.Message == a.Message {
			return
		}
		a.Since = old.Since
	}
	if a.Since.IsZero() {
		a.Since = time.Now()
	}
	b.alerts[a.Key] = a
	b.alertedLocked()
}

// ClearAlert removes the alert with the given key, if any.
func (b *Board) ClearAlert(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.alerts[key]; ok {
		delete(b.alerts, key)
		b.alertedLocked()
	}
}

func (b *Board) alertedLocked() {
	close(b.alerted)
	b.alerted = make(chan struct{})
}

// Alerts returns the alerts shown now, by key, and a channel that is
// closed when they change.
func (b *Board) Alerts() ([]Alert, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Alert, 0, len(b.alerts))
	for _, a := range b.alerts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Key < out[k].Key })
	return out, b.alerted
}

// Observe registers fn to be called synchronously, in order, with every update
// (and with the idle row Remove publishes). fn runs while the board is locked:
// it must be quick and must not call back into the board. Metrics use this
// because, unlike Subscribe, it never drops an update.
func (b *Board) Observe(fn func(Row)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observers = append(b.observers, fn)
}

// Update inserts j, or replaces the job with the same ID. Finished jobs stay
// on the board until Remove, or until a new job arrives on the same port or
// the same kernel device name: that can only happen once the finished stick
// has been pulled, so its row is removed then as if by Remove. A zero
// j.Updated is set to the current time.
func (b *Board) Update(j Row) {
	if j.Updated.IsZero() {
		j.Updated = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, known := b.jobs[j.ID]; !known {
		b.pruneLocked(j)
	}
	b.jobs[j.ID] = j
	b.publishLocked(j)
}

// pruneLocked removes the finished rows that the new job j supersedes.
func (b *Board) pruneLocked(j Row) {
	var old []int
	for id, o := range b.jobs {
		finished := o.State.Terminal() || o.State == StateIgnored || o.State == StateRefused
		samePlace := (j.Port != "" && o.Port == j.Port) || (j.Device != "" && o.Device == j.Device)
		if finished && samePlace {
			old = append(old, id)
		}
	}
	sort.Ints(old)
	for _, id := range old {
		b.removeLocked(id)
	}
}

// Remove deletes the job with the given ID — the stick was pulled after it
// finished. Subscribers and observers receive the job's last row with State
// set to StateIdle so that a dashboard can show its port as free. Removing an
// unknown ID does nothing.
func (b *Board) Remove(id int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(id)
}

func (b *Board) removeLocked(id int) {
	j, ok := b.jobs[id]
	if !ok {
		return
	}
	delete(b.jobs, id)
	j.State = StateIdle
	j.Updated = time.Now()
	b.publishLocked(j)
}

func (b *Board) publishLocked(j Row) {
	for _, fn := range b.observers {
		fn(j)
	}
	for s := range b.subs {
		s.push(j)
	}
}

// Snapshot returns a copy of every job on the board, sorted by Port and then
// by ID.
func (b *Board) Snapshot() []Row {
	b.mu.Lock()
	out := make([]Row, 0, len(b.jobs))
	for _, j := range b.jobs {
		out = append(out, j)
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, k int) bool {
		if out[i].Port != out[k].Port {
			return out[i].Port < out[k].Port
		}
		return out[i].ID < out[k].ID
	})
	return out
}

// Subscribe returns a channel of job updates and a function that ends the
// subscription and closes the channel. Update never waits for a subscriber:
// while one is behind, a newer update of a job replaces a pending one of the
// same job in the same state, so a slow reader skips progress ticks but still
// sees every state change, in order. A reader more than MaxPending state
// changes behind loses the oldest ones. The cancel function may be called
// more than once.
func (b *Board) Subscribe() (<-chan Row, func()) {
	s := newSubscriber()
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run()
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
			close(s.quit)
			<-s.exited
		})
	}
	return s.out, cancel
}

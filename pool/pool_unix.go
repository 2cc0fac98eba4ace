//go:build unix

package pool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Spec says which pool to open and where its journal is.
type Spec struct {
	Name    string
	File    string // the pool file
	Format  Format
	Journal string // the journal file (JournalPath)
	// Burn spends a row whose job failed (on_failure = "burn"); otherwise
	// it goes back into the pool.
	Burn bool
}

// JournalPath is the journal of pool name for the receipts file at
// receipts: beside it, "<receipts>.pool-<name>.journal".
func JournalPath(receipts, name string) string { return receipts + ".pool-" + name + ".journal" }

// Locked is Open's error when another process holds the pool file or its
// journal.
type Locked struct{ Name, Path string }

func (e *Locked) Error() string {
	return fmt.Sprintf("pool %q: another station holds %s; one station at a time hands out a pool's rows, so stop the other station first", e.Name, e.Path)
}

// ErrDry is Take's error when no free row is left.
var ErrDry = errors.New("no free rows left")

// Pool is an open pool, locked for this process. Its methods are safe for
// concurrent use.
type Pool struct {
	spec  Spec
	locks []*os.File

	mu      sync.Mutex
	rows    []Row
	last    map[int]Line
	journal *os.File
	next    int // rows before index next are not free
}

// Open reads the pool file, locks it and the journal, and replays the
// journal. Rows the journal shows taken and never released belonged to
// jobs of a station that stopped while they ran: what reached their
// sticks is unknown, so Open burns them, with a journal line that says
// so. A pool file whose rows no longer hash as the journal recorded them
// (edited, reordered) is refused.
func Open(s Spec) (*Pool, error) {
	_, rows, err := Read(s.File, s.Format)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %s: %w", s.Name, s.File, err)
	}
	p := &Pool{spec: s, rows: rows}
	src, err := lockFile(s.Name, s.File, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	p.locks = append(p.locks, src)
	j, err := lockFile(s.Name, s.Journal, os.O_RDWR|os.O_CREATE|os.O_APPEND)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.locks = append(p.locks, j)
	p.journal = j
	if err := p.load(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func lockFile(name, path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &Locked{Name: name, Path: path}
		}
		return nil, fmt.Errorf("pool %q: lock %s: %w", name, path, err)
	}
	return f, nil
}

// load replays the journal, cuts a torn last line and burns the rows of
// jobs that never ended.
func (p *Pool) load() error {
	last, end, err := replay(p.journal)
	if err != nil {
		return fmt.Errorf("pool %q: %s: %w", p.spec.Name, p.spec.Journal, err)
	}
	if fi, err := p.journal.Stat(); err == nil && fi.Size() > end {
		if err := p.journal.Truncate(end); err != nil {
			return fmt.Errorf("pool %q: cut the torn last line of %s: %w", p.spec.Name, p.spec.Journal, err)
		}
	}
	p.last = last
	for n, l := range last {
		if n > len(p.rows) {
			return fmt.Errorf("pool %q: the journal %s names row %d, but %s has %d rows: is it the pool file the journal was written for?", p.spec.Name, p.spec.Journal, n, p.spec.File, len(p.rows))
		}
		if l.Hash != "" && l.Hash != RowHash(p.rows[n-1]) {
			return fmt.Errorf("pool %q: row %d of %s is not the row the journal %s handed out (its values changed): rows may be appended to a pool file, never edited, removed or reordered", p.spec.Name, n, p.spec.File, p.spec.Journal)
		}
	}
	for n := 1; n <= len(p.rows); n++ {
		if l, ok := last[n]; ok && l.Op == OpTake {
			if err := p.write(Line{Op: OpBurn, Row: n, Job: l.Job, Why: "the station stopped while its job ran; what reached the stick is unknown"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// write appends one line to the journal, fsynced, and records it.
func (p *Pool) write(l Line) error {
	if l.Time.IsZero() {
		l.Time = time.Now().UTC()
	}
	if prev, ok := p.last[l.Row]; ok && l.Hash == "" {
		l.Hash = prev.Hash
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	if _, err := p.journal.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("pool %q: journal %s: %w", p.spec.Name, p.spec.Journal, err)
	}
	if err := p.journal.Sync(); err != nil {
		return fmt.Errorf("pool %q: journal %s: %w", p.spec.Name, p.spec.Journal, err)
	}
	p.last[l.Row] = l
	return nil
}

// Take hands the next free row to job. Its take line is on disk (fsynced)
// when Take returns: only then may the row's bytes go to a stick. A dry
// pool returns ErrDry.
func (p *Pool) Take(job string) (Row, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < len(p.rows); i++ {
		r := p.rows[i]
		l, ok := p.last[r.N]
		if StateOf(l, ok) != Free {
			continue
		}
		if err := p.write(Line{Op: OpTake, Row: r.N, Job: job, Hash: RowHash(r)}); err != nil {
			return Row{}, err
		}
		return r, nil
	}
	return Row{}, fmt.Errorf("pool %q: %w (%d rows, all spent, burnt or in use)", p.spec.Name, ErrDry, len(p.rows))
}

// Finish records how the job that took row n ended: used says its stick
// keeps the row (spent); otherwise the row goes back into the pool, or is
// burnt when the pool burns failed rows. why says how the job ended.
func (p *Pool) Finish(n int, job string, used bool, why string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := OpSpent
	if !used {
		op = OpReturn
		if p.spec.Burn {
			op = OpBurn
		}
	}
	return p.write(Line{Op: op, Row: n, Job: job, Why: why})
}

// Release puts row n, taken by job, back into the pool whatever the
// pool's on_failure: its job ended before any of the row's bytes were
// written.
func (p *Pool) Release(n int, job, why string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.write(Line{Op: OpReturn, Row: n, Job: job, Why: why})
}

// Return puts row n back into the pool, for the operator: a spent or
// burnt row whose stick is known to be gone. A taken row cannot be
// returned while its job runs.
func (p *Pool) Return(n int, why string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 1 || n > len(p.rows) {
		return fmt.Errorf("pool %q has rows 1 to %d, not %d", p.spec.Name, len(p.rows), n)
	}
	l, ok := p.last[n]
	switch StateOf(l, ok) {
	case Free:
		return fmt.Errorf("pool %q: row %d is free already", p.spec.Name, n)
	case Taken:
		return fmt.Errorf("pool %q: row %d is in use by job %s", p.spec.Name, n, l.Job)
	}
	return p.write(Line{Op: OpReturn, Row: n, Why: why})
}

// Refresh reads the pool file again, for rows appended since Open. A file
// whose rows handed out so far no longer hash as the journal recorded
// them is refused, and the pool keeps the rows it had.
func (p *Pool) Refresh() error {
	_, rows, err := Read(p.spec.File, p.spec.Format)
	if err != nil {
		return fmt.Errorf("pool %q: %s: %w", p.spec.Name, p.spec.File, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for n, l := range p.last {
		if n > len(rows) || (l.Hash != "" && l.Hash != RowHash(rows[n-1])) {
			return fmt.Errorf("pool %q: row %d of %s is not the row the journal %s handed out: rows may be appended to a pool file, never edited, removed or reordered", p.spec.Name, n, p.spec.File, p.spec.Journal)
		}
	}
	p.rows = rows
	return nil
}

// Status counts the pool's rows by state.
func (p *Pool) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return count(p.spec.Name, p.rows, p.last)
}

// Name is the pool's name.
func (p *Pool) Name() string { return p.spec.Name }

// Close releases the locks; the journal stays as it is.
func (p *Pool) Close() error {
	var first error
	for _, f := range p.locks {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.locks = nil
	return first
}

// ReadStatus reads a pool's status without locking it (a station may be
// running it) and each row's last journal line.
func ReadStatus(s Spec) (Status, map[int]Line, error) {
	_, rows, err := Read(s.File, s.Format)
	if err != nil {
		return Status{}, nil, err
	}
	last := map[int]Line{}
	if f, err := os.Open(s.Journal); err == nil {
		defer f.Close()
		if last, _, err = replay(f); err != nil {
			return Status{}, nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return Status{}, nil, err
	}
	return count(s.Name, rows, last), last, nil
}

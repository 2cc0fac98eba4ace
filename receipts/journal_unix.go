//go:build unix

package receipts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Journal is an open journal, its receipts file locked for this process.
// Its methods are safe for concurrent use.
type Journal struct {
	path   string
	lock   *os.File // LockPath, flocked
	bootID string

	mu   sync.Mutex
	f    *os.File         // the journal, O_APPEND
	size int64            // bytes in f
	open map[int][][]byte // jobs started and not ended: their start line and last stage line
}

// OpenJournal locks the receipts file at receipts for this process and
// opens its journal, returning the jobs the last process left unfinished.
// The caller writes their receipts, then calls Reset. bootID is the
// kernel's boot id, recorded for the next process. When another process
// holds the lock, the error is a *Locked.
func OpenJournal(receipts, bootID string) (*Journal, []Unfinished, error) {
	lock, err := os.OpenFile(LockPath(receipts), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("lock file: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(lock, 32))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, nil, &Locked{Receipts: receipts, PID: pid}
		}
		return nil, nil, fmt.Errorf("lock %s: %w", LockPath(receipts), err)
	}
	if err := lock.Truncate(0); err == nil {
		_, err = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("lock file: %w", err)
	}
	j := &Journal{path: JournalPath(receipts), lock: lock, bootID: bootID, open: map[int][][]byte{}}
	var left []Unfinished
	if f, err := os.Open(j.path); err == nil {
		left, err = unfinished(f)
		f.Close()
		if err != nil {
			lock.Close()
			return nil, nil, fmt.Errorf("journal: read %s: %w", j.path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	return j, left, nil
}

// Reset starts the journal afresh with this process's line (its pid and
// boot id) and no job. Call it once the unfinished jobs OpenJournal
// returned have their receipts.
func (j *Journal) Reset() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.open)
	return j.compactLocked()
}

// compactLocked writes the journal anew, with this process's line and the
// lines of the jobs that still run, into a new file, fsyncs it and renames
// it over the journal: a crash leaves the old journal or the new one.
func (j *Journal) compactLocked() error {
	head, err := json.Marshal(journalLine{Event: "open", Time: time.Now(), PID: os.Getpid(), BootID: j.bootID})
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	content := append(head, '\n')
	for _, lines := range j.open {
		for _, l := range lines {
			content = append(content, l...)
		}
	}
	tmp := j.path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(j.path))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("journal %s: rewrite: %w", j.path, err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.size = f, int64(len(content))
	// Room for the lines to come, so that a filesystem filling up
	// meanwhile does not stop the next jobs from starting.
	_ = reserve(int(f.Fd()), j.size, compactAt)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Start records that job starts, with what its receipt will say of it:
// times, station, profile, job number, device. Call it before anything is
// written to the stick; while it fails, write nothing.
func (j *Journal) Start(job Receipt) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	line, err := j.writeLocked(journalLine{Event: "start", Time: time.Now(), Job: job.Job, Start: &job})
	if err == nil {
		j.open[job.Job] = [][]byte{line}
	}
	return err
}

// Stage records that job starts stage.
func (j *Journal) Stage(job int, stage string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	line, err := j.writeLocked(journalLine{Event: "stage", Time: time.Now(), Job: job, Stage: stage})
	if lines, ok := j.open[job]; ok && err == nil {
		j.open[job] = append(lines[:1], line)
	}
	return err
}

// End records that job ended: its receipt is on disk. The journal is
// rewritten without it when no job is left or it grew past compactAt;
// else an end line is appended.
func (j *Journal) End(job int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.open, job)
	if len(j.open) == 0 || j.size > compactAt {
		if err := j.compactLocked(); err == nil {
			return nil
		}
	}
	_, err := j.writeLocked(journalLine{Event: "end", Time: time.Now(), Job: job})
	return err
}

// Close closes the journal and gives up the lock.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.f != nil {
		err = j.f.Close()
	}
	if lerr := j.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// writeLocked appends one line in one write(2), fsyncs it and returns it.
// A line torn by a full disk is followed by a newline, so the next line
// starts clean.
func (j *Journal) writeLocked(l journalLine) ([]byte, error) {
	if j.f == nil {
		return nil, fmt.Errorf("journal %s: not reset (program bug)", j.path)
	}
	line, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	line = append(line, '\n')
	n, err := writeOnce(int(j.f.Fd()), line)
	j.size += int64(max(n, 0))
	if err == nil && n != len(line) {
		if m, _ := writeOnce(int(j.f.Fd()), []byte{'\n'}); m == 1 {
			j.size++
		}
		err = io.ErrShortWrite
	}
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %s: %w", j.path, l.Event, err)
	}
	return line, nil
}

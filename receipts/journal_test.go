//go:build unix

package receipts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJournal: jobs that started and did not end are what the next
// process finds, with the stage they reached; a second opener is refused
// with the holder's pid; a journal with no job running holds only the
// line of the process that has it.
func TestJournal(t *testing.T) {
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	j, left, err := OpenJournal(rpath, "boot-1")
	if err != nil || len(left) != 0 {
		t.Fatalf("OpenJournal(new) = %v, %v; want nothing unfinished", left, err)
	}
	if err := j.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenJournal(rpath, "boot-1"); !errors.As(err, new(*Locked)) || err.(*Locked).PID != os.Getpid() {
		t.Errorf("OpenJournal while it is held = %v, want *Locked naming pid %d", err, os.Getpid())
	}
	a, b := sample(1), sample(2)
	for _, err := range []error{j.Start(a), j.Start(b), j.Stage(1, "wipe"), j.Stage(2, "plan"), j.Stage(1, "write"), j.End(2)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	j.Close() // as a kill -9 leaves it
	j, left, err = OpenJournal(rpath, "boot-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Receipt.Job != 1 || left[0].Stage != "write" || left[0].BootID != "boot-1" || !left[0].Receipt.Started.Equal(a.Started) {
		t.Fatalf("OpenJournal after a crash = %+v, want job 1 in write, boot-1", left)
	}
	u := left[0]
	r := u.Interrupted()
	if r.Result != ResultInterrupted || r.FailedStep != "write" || r.Device != a.Device || !r.Time.Equal(u.LastSeen) ||
		!strings.Contains(r.Error, "interrupted during write: the station stopped") {
		t.Errorf("Interrupted() = %+v, want result interrupted in write with the device and the last time seen", r)
	}
	if u.Written([]Receipt{b}) || !u.Written([]Receipt{b, a}) {
		t.Errorf("Written: want true only when the job's own receipt is there")
	}
	if err := j.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := j.Start(a); err != nil {
		t.Fatal(err)
	}
	if err := j.End(1); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(JournalPath(rpath))
	if lines := strings.Count(string(data), "\n"); lines != 1 || !strings.Contains(string(data), `"event":"open"`) {
		t.Errorf("journal with no job running = %q, want only its open line", data)
	}
	j.Close()
}

// TestJournalTornLine: a line torn by a power cut is skipped.
func TestJournalTornLine(t *testing.T) {
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	j, _, err := OpenJournal(rpath, "")
	if err != nil {
		t.Fatal(err)
	}
	j.Reset()
	j.Start(sample(3))
	j.Close()
	f, _ := os.OpenFile(JournalPath(rpath), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"event":"stage","job":3,"sta`)
	f.Close()
	j, left, err := OpenJournal(rpath, "")
	if err != nil || len(left) != 1 || left[0].Stage != "" || left[0].LastSeen.After(time.Now()) {
		t.Errorf("OpenJournal after a torn line = %+v, %v; want job 3, no stage", left, err)
	}
	j.Close()
}

// TestCheckAppendable: a missing directory, a directory in the file's
// place and a good path.
func TestCheckAppendable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckAppendable(filepath.Join(dir, "missing", "r.jsonl")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckAppendable(missing dir) = %v, want not exist", err)
	}
	if err := CheckAppendable(dir); err == nil {
		t.Errorf("CheckAppendable(a directory) = nil, want an error")
	}
	good := filepath.Join(dir, "r.jsonl")
	if err := CheckAppendable(good); err != nil {
		t.Fatalf("CheckAppendable(new file) = %v", err)
	}
	if fi, err := os.Stat(good); err != nil || fi.Size() != 0 {
		t.Errorf("after CheckAppendable: %v, %v; want an empty file", fi, err)
	}
}

// TestJournalCompacts: with one job running all along and many starting
// and ending around it, the journal stays small and still holds the
// running job with its last stage.
func TestJournalCompacts(t *testing.T) {
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	j, _, err := OpenJournal(rpath, "")
	if err != nil {
		t.Fatal(err)
	}
	j.Reset()
	long := sample(1)
	if err := j.Start(long); err != nil {
		t.Fatal(err)
	}
	j.Stage(1, "write")
	for n := 2; n < 500; n++ {
		r := sample(n)
		r.Error = "" // a start line as the station writes it
		if err := j.Start(r); err != nil {
			t.Fatal(err)
		}
		j.Stage(n, "wipe")
		if err := j.End(n); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(JournalPath(rpath))
	if err != nil || fi.Size() > 2*compactAt {
		t.Errorf("journal after 500 jobs around a running one: %v, %v; want at most %d bytes", fi.Size(), err, 2*compactAt)
	}
	j.Close()
	j, left, err := OpenJournal(rpath, "")
	if err != nil || len(left) != 1 || left[0].Receipt.Job != 1 || left[0].Stage != "write" {
		t.Fatalf("OpenJournal after compaction = %+v, %v; want job 1 in write", left, err)
	}
	j.Close()
}

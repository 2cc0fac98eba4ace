package steps_test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
)

// stick is one job of profile p on a fresh 40 MiB image file; notes
// collects what the job tells the operator.
type stick struct {
	j     *pipeline.Job
	mu    sync.Mutex
	notes []string
}

func newStick(t *testing.T, cfg *pipeline.Config, seq int) *stick {
	t.Helper()
	img := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 40<<20); err != nil {
		t.Fatal(err)
	}
	s := &stick{}
	s.j = &pipeline.Job{Seq: seq, Config: cfg, Profile: cfg.Profiles[0], Device: matchers.ImageFile(img, 40<<20), Target: img, Now: time.Now(),
		Progress: func(p pipeline.StageProgress) {
			if p.Note != "" {
				s.mu.Lock()
				s.notes = append(s.notes, p.Note)
				s.mu.Unlock()
			}
		}}
	t.Cleanup(func() { s.j.Close() })
	return s
}

// write prepares and runs the stick's write and verify stages.
func (s *stick) write(ctx context.Context) error {
	p := s.j.Profile
	if err := p.Stages[0].Runner.(pipeline.Preparer).Prepare(ctx, s.j); err != nil {
		return err
	}
	if _, err := p.Stages[0].Runner.Run(ctx, s.j); err != nil {
		return err
	}
	_, err := p.Stages[1].Runner.Run(ctx, s.j)
	return err
}

const cacheProfile = `
source "c" { paths = [%q] }
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}`

// TestContentChangedBehindTheCache: a content file written in place with
// its size kept and its modification time set back (touch -r) between two
// sticks. The second stick hashes it again, says so, and is written and
// verified with the new content; before, its sum came from the cache and
// every later stick failed with "changed since it was scanned".
func TestContentChangedBehindTheCache(t *testing.T) {
	content := contentDir(t)
	cfg := load(t, fmt.Sprintf(cacheProfile, content))
	ctx := context.Background()
	if err := newStick(t, cfg, 1).write(ctx); err != nil {
		t.Fatalf("first stick: %v", err)
	}
	a := filepath.Join(content, "a.txt")
	fi, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // past the clock tick of the first write's ctime
	if err := os.WriteFile(a, []byte("ALPHA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(a, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	for seq := 2; seq <= 3; seq++ {
		s := newStick(t, cfg, seq)
		if err := s.write(ctx); err != nil {
			t.Fatalf("stick %d after the change: %v", seq, err)
		}
		if got := s.j.Entries[0].SHA1; got != sha1.Sum([]byte("ALPHA\n")) {
			t.Errorf("stick %d: manifest SHA1 of a.txt = %x, want the new content's", seq, got)
		}
		changed := len(s.notes) == 1 && strings.Contains(s.notes[0], "content changed since it was last hashed") && strings.Contains(s.notes[0], a)
		if want := seq == 2; changed != want {
			t.Errorf("stick %d: notes %q; want a note naming %s: %v", seq, s.notes, a, want)
		}
	}
}

// TestChangeFoundByTheWriteRehashes: when the write finds a source's bytes
// different from the manifest's sum (a change stat did not show), that
// stick fails and the next one hashes the file again instead of taking
// the sum from the cache.
func TestChangeFoundByTheWriteRehashes(t *testing.T) {
	content := contentDir(t)
	cfg := load(t, fmt.Sprintf(cacheProfile, content))
	ctx := context.Background()
	if err := newStick(t, cfg, 1).write(ctx); err != nil {
		t.Fatalf("first stick: %v", err)
	}
	s := newStick(t, cfg, 2)
	w := s.j.Profile.Stages[0].Runner
	if err := w.(pipeline.Preparer).Prepare(ctx, s.j); err != nil {
		t.Fatal(err)
	}
	s.j.Entries[0].SHA1[0] ^= 0xff // as if the file had changed after its sum was taken
	if _, err := w.Run(ctx, s.j); err == nil || !strings.Contains(err.Error(), "changed since it was scanned") {
		t.Fatalf("write with a stale sum = %v, want the source named as changed", err)
	}
	next := newStick(t, cfg, 3)
	if err := next.write(ctx); err != nil {
		t.Fatalf("next stick: %v", err)
	}
	if len(next.notes) != 1 || !strings.Contains(next.notes[0], filepath.Join(content, "a.txt")) {
		t.Errorf("next stick's notes = %q, want one saying a.txt was hashed again", next.notes)
	}
}

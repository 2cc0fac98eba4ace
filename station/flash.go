package station

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/receipts"
)

// Target is one explicit target of Flash.
type Target struct {
	Profile *pipeline.Profile
	Path    string // the block device or image file
	// Device is the block device, already identified (and guarded) by the
	// caller, or an image file's matchers.ImageFile; nil means an image
	// file whose size is read when its job is created.
	Device *matchers.Device
	// Dev, when set, is the target already open, of any backing (a
	// blockdev/fakedev stick in tests): the job's steps use it instead of
	// opening Path, and the caller closes it after Flash.
	Dev *blockdev.Device
}

// Flash runs each target's profile on it, outside hotplug, all at once up
// to the station's concurrency. Jobs are numbered in the order of targets,
// whatever order they finish in. It blocks until every job has ended and
// returns their receipts in that order; each was also appended to the
// receipts file.
func (s *Station) Flash(ctx context.Context, targets []Target) []receipts.Receipt {
	jobs := make([]*stick, len(targets))
	for i, t := range targets {
		jobs[i] = s.flashJob(ctx, t)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		s.wg.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runJob(j)
		}()
	}
	wg.Wait()
	out := make([]receipts.Receipt, len(jobs))
	for i, j := range jobs {
		out[i] = *j.rc
	}
	return out
}

// flashJob creates the next job, with the next number, for one target.
func (s *Station) flashJob(ctx context.Context, t Target) *stick {
	s.mu.Lock()
	s.seq++
	s.rows++
	seq, row := s.seq, s.rows
	s.mu.Unlock()
	dev := t.Device
	if dev == nil {
		var size int64
		if st, err := os.Stat(t.Path); err == nil {
			size = st.Size()
		}
		dev = matchers.ImageFile(t.Path, size)
	}
	j := s.newJob(ctx, s.Config(), t.Profile, dev, seq, row, s.log.Named(printable.String(filepath.Base(t.Path))))
	j.pj.Target = t.Path
	if t.Dev != nil {
		j.pj.Dev = t.Dev
	}
	if dev.Bus == matchers.BusFile {
		j.pj.BeforeFirstWrite = nil // no sysfs identity to re-check
	}
	return j
}

package station

import (
	"context"
	"os"
	"path/filepath"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
)

// Flash runs profile p on one explicit target, outside hotplug: a block
// device already identified (and guarded) by the caller, or an image file
// (dev nil, or a matchers.ImageFile device). It blocks until the job ends and returns its receipt,
// which it has also appended to the receipts file.
func (s *Station) Flash(ctx context.Context, p *pipeline.Profile, target string, dev *matchers.Device) receipts.Receipt {
	s.mu.Lock()
	s.seq++
	s.rows++
	seq, row := s.seq, s.rows
	s.mu.Unlock()
	if dev == nil {
		var size int64
		if st, err := os.Stat(target); err == nil {
			size = st.Size()
		}
		dev = matchers.ImageFile(target, size)
	}
	j := s.newJob(ctx, s.Config(), p, dev, seq, row, s.log.Named(filepath.Base(target)))
	j.pj.Target = target
	if dev.Bus == matchers.BusFile {
		j.pj.BeforeFirstWrite = nil // no sysfs identity to re-check
	}
	s.wg.Add(1)
	s.runJob(j)
	return *j.pj.Receipt
}

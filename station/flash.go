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
// device already identified (and guarded) by the caller, or, with dev nil,
// an image file. It blocks until the job ends and returns its receipt,
// which it has also appended to the receipts file.
func (s *Station) Flash(ctx context.Context, p *pipeline.Profile, target string, dev *matchers.Device) receipts.Receipt {
	s.mu.Lock()
	s.seq++
	s.rows++
	seq, row := s.seq, s.rows
	s.mu.Unlock()
	ident := dev
	if ident == nil {
		ident = &matchers.Device{Name: target}
		if st, err := os.Stat(target); err == nil {
			ident.Size = st.Size()
		}
	}
	j := s.newJob(ctx, s.Config(), p, ident, seq, row, s.log.Named(filepath.Base(target)))
	j.pj.Target = target
	if dev == nil {
		j.pj.Device = nil
		j.pj.BeforeFirstWrite = nil
	}
	s.wg.Add(1)
	s.runJob(j)
	return *j.pj.Receipt
}

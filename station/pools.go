package station

import (
	"errors"
	"fmt"
	"sort"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/pool"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
)

// openPools opens and locks every pool cfg declares that is not open yet,
// each with its journal beside the receipts. A pool the last station left
// rows taken in burns them (pool.Open). s.mu is held.
func (s *Station) openPools(cfg *pipeline.Config) error {
	if s.pools == nil {
		s.pools = map[string]*pool.Pool{}
	}
	names := make([]string, 0, len(cfg.Pools))
	for n := range cfg.Pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p, ok := s.pools[n]; ok {
			// Open already: rows appended to its file count from now on.
			if err := p.Refresh(); err != nil {
				return err
			}
			s.poolAlert(cfg.Pools[n], p.Status())
			continue
		}
		b := cfg.Pools[n]
		p, err := pool.Open(pool.Spec{Name: n, File: b.File, Format: b.Format, Journal: pool.JournalPath(s.receiptsPath(), n), Burn: b.Burn()})
		if err != nil {
			return err
		}
		s.pools[n] = p
		s.poolAlert(b, p.Status())
	}
	return nil
}

// closePools releases the pools' locks.
func (s *Station) closePools() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, p := range s.pools {
		p.Close()
		delete(s.pools, n)
	}
}

// PoolRows returns the free rows of each open pool, for /metrics.
func (s *Station) PoolRows() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for n, p := range s.pools {
		out[n] = p.Status().Free
	}
	return out
}

// dryPool returns the first pool p takes rows from that has none left
// (or is not open), and its status; "" when every one has rows. s.mu is
// held.
func (s *Station) dryPool(p *pipeline.Profile) (string, pool.Status) {
	for _, n := range p.Pools {
		pl, ok := s.pools[n]
		if !ok {
			return n, pool.Status{Name: n}
		}
		if st := pl.Status(); st.Free == 0 {
			return n, st
		}
	}
	return "", pool.Status{}
}

// poolAlert shows on the board a pool that is dry or below its
// warn_below, and clears the alert once it has rows again.
func (s *Station) poolAlert(b *pipeline.PoolBlock, st pool.Status) {
	if s.opts.Board == nil {
		return
	}
	key := "pool:" + b.Name
	switch {
	case st.Free == 0:
		s.opts.Board.SetAlert(status.Alert{Key: key, Message: fmt.Sprintf(
			"pool %q is dry: 0 of %d rows left (%d spent, %d burnt, %d in use). Profiles that take its rows take no sticks; other profiles go on. Add rows at the end of %s and reload, or return rows with flashpipe pool return.",
			b.Name, st.Rows, st.Spent, st.Burnt, st.Taken, b.File)})
	case b.WarnBelow > 0 && st.Free < b.WarnBelow:
		s.opts.Board.SetAlert(status.Alert{Key: key, Message: fmt.Sprintf(
			"pool %q is running low: %d of %d rows left (warn_below = %d).", b.Name, st.Free, st.Rows, b.WarnBelow)})
	default:
		s.opts.Board.ClearAlert(key)
	}
}

// jobID names a job in pool journals: station, start time and number,
// unique across restarts.
func jobID(j *stick) string {
	return fmt.Sprintf("%s/%s/%d", j.pj.Config.Station.Name, j.started.UTC().Format("20060102T150405.000000000Z"), j.seq)
}

// takeRows takes one row of each pool the job's profile uses, each on
// disk in its pool's journal before it returns, and records them in the
// job (for pool.NAME.row) and its receipt (as the pool's record says). On
// an error the rows taken so far go back: nothing was written.
func (s *Station) takeRows(j *stick) error {
	names := j.pj.Profile.Pools
	if len(names) == 0 {
		return nil
	}
	cfg := j.pj.Config
	j.pj.Rows = map[string]map[string]string{}
	for _, n := range names {
		s.mu.Lock()
		p := s.pools[n]
		s.mu.Unlock()
		if p == nil {
			s.returnRows(j, "its job did not start")
			return fmt.Errorf("pool %q is not open: only a station (flashpipe run) hands out a pool's rows", n)
		}
		row, err := p.Take(jobID(j))
		if err != nil {
			s.returnRows(j, "its job did not start")
			if errors.Is(err, pool.ErrDry) {
				s.poolAlert(cfg.Pools[n], p.Status())
			}
			return err
		}
		j.pj.Rows[n] = row.Values
		j.rc.PoolRows = append(j.rc.PoolRows, receipts.PoolRow{Pool: n, Row: row.N, Values: recorded(cfg.Pools[n].Record, row.Values)})
		s.poolAlert(cfg.Pools[n], p.Status())
		j.log.Info("row taken", "pool", n, "row", row.N)
	}
	return nil
}

// recorded is what a receipt keeps of a row's values.
func recorded(record string, vals map[string]string) map[string]string {
	switch record {
	case "value":
		return vals
	case "sha256":
		out := map[string]string{}
		for k, v := range vals {
			out[k] = receipts.ValueHash(v)
		}
		return out
	}
	return nil
}

// returnRows puts back the rows a job took before anything was written.
func (s *Station) returnRows(j *stick, why string) {
	for i := range j.rc.PoolRows {
		r := &j.rc.PoolRows[i]
		s.mu.Lock()
		p := s.pools[r.Pool]
		s.mu.Unlock()
		if err := p.Release(r.Row, jobID(j), why); err != nil {
			j.log.Error("cannot return a row to its pool", "pool", r.Pool, "row", r.Row, "error", err)
			continue
		}
		r.Outcome = "returned"
	}
}

// finishRows records in each pool's journal where the job's rows went, and
// in the receipt: spent when the stick was written (done or unverified);
// after a failure, returned when the write stage never started (no byte of
// the row reached the stick) and otherwise as the pool's on_failure says.
func (s *Station) finishRows(j *stick, rc *receipts.Receipt) {
	used := rc.Result == receipts.ResultDone || rc.Result == receipts.ResultUnverified
	reached := false
	for _, st := range rc.Steps {
		if st.Kind == pipeline.WriteStage && st.BytesWritten > 0 {
			reached = true
		}
	}
	for i := range rc.PoolRows {
		r := &rc.PoolRows[i]
		if r.Outcome != "" {
			continue
		}
		s.mu.Lock()
		p := s.pools[r.Pool]
		b := j.pj.Config.Pools[r.Pool]
		s.mu.Unlock()
		var err error
		switch {
		case used:
			err, r.Outcome = p.Finish(r.Row, jobID(j), true, string(rc.Result)), "spent"
		case !reached:
			err, r.Outcome = p.Release(r.Row, jobID(j), "its job failed before the write: "+rc.Error), "returned"
		default:
			err = p.Finish(r.Row, jobID(j), false, "its job failed: "+rc.Error)
			r.Outcome = "returned"
			if b.Burn() {
				r.Outcome = "burnt"
			}
		}
		if err != nil {
			r.Outcome = ""
			j.log.Error("cannot record where a pool row went; the next station start burns it", "pool", r.Pool, "row", r.Row, "error", err)
		}
		s.poolAlert(b, p.Status())
	}
}

package station

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
)

// ReceiptRetry is how often the station tries again to write a receipt
// that could not be written (disk full, read-only, file gone).
var ReceiptRetry = 5 * time.Second

// Open makes the station ready to record jobs. It checks that the
// receipts file can be appended to (creating it), takes the journal of
// running jobs beside it (receipts.OpenJournal: a second station with the
// same receipts file is refused), and writes a receipt with result
// interrupted for every job the journal shows running when the last
// station stopped; Run shows their sticks on the board. Call it before Run
// and refuse to start when it fails; Run calls it when the caller did
// not. Flash keeps no journal and needs no Open.
func (s *Station) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil
	}
	path := s.receiptsPath()
	if err := receipts.CheckAppendable(path); err != nil {
		return fmt.Errorf("cannot record jobs: %w (set station.receipts or --receipts to a file on a writable filesystem with free space)", err)
	}
	jn, left, err := receipts.OpenJournal(path, s.bootID())
	if err != nil {
		return fmt.Errorf("cannot record jobs: %w", err)
	}
	if err := s.recover(path, left); err != nil {
		jn.Close()
		return err
	}
	if err := jn.Reset(); err != nil {
		jn.Close()
		return fmt.Errorf("cannot record jobs: %w", err)
	}
	if err := s.openPools(s.Config()); err != nil {
		jn.Close()
		for _, p := range s.pools {
			p.Close()
		}
		s.pools = nil
		return fmt.Errorf("cannot hand out pool rows: %w", err)
	}
	s.journal, s.opened = jn, true
	return nil
}

// recover writes the receipts of the jobs the last station left
// unfinished (those it has not written already) and keeps them for the
// board. s.mu is held.
func (s *Station) recover(path string, left []receipts.Unfinished) error {
	if len(left) == 0 {
		return nil
	}
	var written []receipts.Receipt
	if f, err := os.Open(path); err == nil {
		written, _, err = receipts.Read(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("cannot read the receipts file %s: %w", path, err)
		}
	}
	for _, u := range left {
		if u.Written(written) {
			continue // it ended; the station stopped before it noted that
		}
		rc := u.Interrupted()
		if err := receipts.Append(path, rc); err != nil {
			return fmt.Errorf("cannot record the jobs the last station left unfinished: %w", err)
		}
		s.log.Warn("job interrupted: the station stopped while it ran; receipt written", "job", rc.Job, "device", rc.Device.Name,
			"serial", rc.Device.Serial, "port", rc.Device.Port, "stage", u.Stage, "last_seen", u.LastSeen.Format(time.RFC3339))
		s.interrupted = append(s.interrupted, u)
		s.counts.add(receipts.ResultInterrupted)
	}
	return nil
}

// closeJournal closes the journal at the end of Run.
func (s *Station) closeJournal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
}

// bootID is the kernel's boot id ("" when procfs does not tell): a
// diskseq identifies a disk only within one boot.
func (s *Station) bootID() string {
	if s.opts.Procfs == nil {
		return ""
	}
	b, err := fs.ReadFile(s.opts.Procfs, "sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// showInterrupted puts each job the last station left unfinished on the
// board: a stick still plugged in (same disk in the same boot, else same
// serial, ids, size and port) keeps an interrupted row until it is pulled;
// of one that is gone the board says so once, and drops it.
func (s *Station) showInterrupted(present []*matchers.Device) {
	boot := s.bootID()
	for _, u := range s.interrupted {
		rc := u.Interrupted()
		msg := rc.Error + ". Pull it and insert it again to write it again"
		d := stillPlugged(u, present, boot)
		s.mu.Lock()
		var row status.Row
		if d != nil {
			row = boardRow(s.newRow(d.Name), d, rc.Profile, status.StateInterrupted, msg)
		} else {
			s.rows++
			dev := rc.Device
			row = status.Row{ID: s.rows, Device: dev.Name, Port: dev.Port, Serial: dev.Serial, VendorID: dev.VendorID, ProductID: dev.ProductID,
				Profile: rc.Profile, Size: dev.Size, State: status.StateInterrupted, Error: rc.Error + "; the stick is not plugged in now"}
		}
		s.mu.Unlock()
		row.Step, row.Started = u.Stage, rc.Started
		s.board(row)
		if d == nil && s.opts.Board != nil {
			s.opts.Board.Remove(row.ID)
		}
	}
}

// stillPlugged returns the disk in present that is the stick of u, or
// nil. In the boot u ran in, the kernel name and diskseq say it exactly;
// after a reboot diskseq starts again, so the stick must have the same
// serial, USB ids, size and port (a stick without a serial is not
// recognised).
func stillPlugged(u receipts.Unfinished, present []*matchers.Device, boot string) *matchers.Device {
	want := u.Receipt.Device
	for _, d := range present {
		if u.BootID != "" && u.BootID == boot && want.DiskSeq != 0 {
			if d.Name == want.Name && d.DiskSeq == want.DiskSeq {
				return d
			}
			continue
		}
		if want.Serial != "" && d.Serial == want.Serial && d.Port == want.Port && d.Size == want.Size &&
			matchers.FormatUSBID(d.VendorID) == want.VendorID && matchers.FormatUSBID(d.ProductID) == want.ProductID {
			return d
		}
	}
	return nil
}

// record appends rc to the receipts file (persist). It returns false only
// when the station stops first: the receipt is then logged in full, and
// the next station finds the job unfinished in the journal.
func (s *Station) record(j *stick, rc *receipts.Receipt) bool {
	path := s.receiptsPath()
	ok := s.persist(j, path, "receipt", func() error { return receipts.Append(path, *rc) }, func(err error) string {
		return fmt.Sprintf("finished (%s), but its receipt cannot be written: %v; trying again every %s", rc.Result, err, ReceiptRetry)
	})
	if !ok {
		line, _ := json.Marshal(rc)
		j.log.Error("receipt not written: the station is stopping", "path", path, "receipt", string(line))
	}
	return ok
}

// persist runs write, which records something of j in the file at path,
// until it succeeds. While it fails the station takes no new sticks
// (receiptsFailing), j's row says why (waiting; and shows step, unless it
// is ""), and write is tried again every ReceiptRetry. It returns false
// when the station stops first (the jobs context ends).
func (s *Station) persist(j *stick, path, step string, write func() error, waiting func(error) string) bool {
	for {
		err := write()
		if err == nil {
			s.receiptsOK()
			return true
		}
		s.receiptsFailing(path, err)
		j.update(func(v *status.Row) {
			v.Error = waiting(err)
			if step != "" {
				v.State, v.Step = status.StateRunning, step
			}
		})
		select {
		case <-time.After(ReceiptRetry):
		case <-j.parent.Done():
			return false
		}
	}
}

// receiptsFailing notes that receipts cannot be written: no new stick is
// taken, and the board and /metrics say why, until receiptsOK.
func (s *Station) receiptsFailing(path string, err error) {
	s.mu.Lock()
	first := s.receiptErr == nil
	s.receiptErr = err
	s.mu.Unlock()
	if first {
		s.log.Error("cannot write receipts: no new sticks are taken until a receipt can be written", "path", path, "error", err)
	}
	if s.opts.Board != nil {
		s.opts.Board.SetAlert(status.Alert{Key: status.AlertReceipts, Message: fmt.Sprintf(
			"Receipts cannot be written to %s: %v. No new sticks are taken, and finished sticks wait for their receipts. "+
				"Free space or fix the file; the station tries again every %s and goes on by itself.", path, err, ReceiptRetry)})
	}
}

// receiptsOK notes that a receipt was written: if receipts were failing,
// the station takes sticks again, starting with those that waited.
func (s *Station) receiptsOK() {
	s.mu.Lock()
	was := s.receiptErr
	s.receiptErr = nil
	running := s.intakeCtx != nil && s.intakeCtx.Err() == nil
	s.mu.Unlock()
	if was == nil {
		return
	}
	s.log.Info("receipts can be written again; taking sticks")
	if s.opts.Board != nil {
		s.opts.Board.ClearAlert(status.AlertReceipts)
	}
	if running {
		go s.rescan()
	}
}

// journalStart records in the journal that j starts, before anything is
// written to its stick, waiting while that fails (persist). Flash keeps no
// journal.
func (s *Station) journalStart(j *stick) error {
	if s.journal == nil {
		return nil
	}
	ok := s.persist(j, receipts.JournalPath(s.receiptsPath()), "", func() error { return s.journal.Start(*j.rc) }, func(err error) string {
		return fmt.Sprintf("waiting: its start cannot be recorded (%v), so nothing is written yet; trying again every %s", err, ReceiptRetry)
	})
	if !ok {
		return errors.New("aborted: the station is shutting down; its start could not be recorded, so nothing was written")
	}
	j.update(func(v *status.Row) { v.Error = "" })
	j.journaled = true
	return nil
}

// journalStage records that j reaches stage; a failure is only logged.
func (s *Station) journalStage(j *stick, stage string) {
	if s.journal == nil || !j.journaled {
		return
	}
	if err := s.journal.Stage(j.seq, stage); err != nil {
		j.log.Warn("cannot record the stage in the journal", "stage", stage, "error", err)
	}
}

// journalEnd records that j ended, its receipt on disk.
func (s *Station) journalEnd(j *stick) {
	if s.journal == nil || !j.journaled {
		return
	}
	if err := s.journal.End(j.seq); err != nil && !errors.Is(err, os.ErrClosed) {
		j.log.Warn("cannot record the job's end in the journal", "error", err)
	}
}

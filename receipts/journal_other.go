//go:build !unix

package receipts

import (
	"fmt"
	"runtime"
)

// Journal is not available on this system: it needs flock. Run the
// station on Linux.
type Journal struct{}

var errNoJournal = fmt.Errorf("the journal is not supported on %s; run the station on Linux", runtime.GOOS)

// OpenJournal is not available on this system; see Journal.
func OpenJournal(receipts, bootID string) (*Journal, []Unfinished, error) {
	return nil, nil, errNoJournal
}

// Reset is not available on this system; see Journal.
func (j *Journal) Reset() error { return errNoJournal }

// Start is not available on this system; see Journal.
func (j *Journal) Start(Receipt) error { return errNoJournal }

// Stage is not available on this system; see Journal.
func (j *Journal) Stage(int, string) error { return errNoJournal }

// End is not available on this system; see Journal.
func (j *Journal) End(int) error { return errNoJournal }

// Close is not available on this system; see Journal.
func (j *Journal) Close() error { return errNoJournal }

package pool

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Op is what a journal line says happened to a row.
type Op string

// The journal's operations.
const (
	OpTake   Op = "take"   // handed to a job; its bytes may reach the stick from now on
	OpSpent  Op = "spent"  // the job ended and the row stays on its stick
	OpReturn Op = "return" // back in the pool: the job failed and on_failure is "return", or the operator returned it
	OpBurn   Op = "burn"   // never handed out again: the job failed and on_failure is "burn", or its station stopped while it ran
)

// Line is one line of a pool's journal.
type Line struct {
	Op   Op        `json:"op"`
	Row  int       `json:"row"`
	Time time.Time `json:"time"`
	Job  string    `json:"job,omitempty"` // the job that took the row: station, start time and number
	// Hash is the SHA-256 of the row's values (take lines): a pool file
	// edited under its journal, its rows moved, is refused rather than
	// handing out a row twice.
	Hash string `json:"hash,omitempty"`
	Why  string `json:"why,omitempty"`
}

// State is where a row is.
type State string

// The states of a row.
const (
	Free  State = "free"
	Taken State = "taken"
	Spent State = "spent"
	Burnt State = "burnt"
)

// replay reads a journal and returns each row's state and last line. A
// last line without its newline (torn by a crash while it was written,
// so never fsynced whole and never acted on) is left out, and torn is
// the offset where the whole lines end.
func replay(r io.Reader) (last map[int]Line, torn int64, err error) {
	last = map[int]Line{}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	end := int64(bytes.LastIndexByte(b, '\n') + 1)
	sc := bufio.NewScanner(bytes.NewReader(b[:end]))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, 0, fmt.Errorf("journal line %d does not parse: %v", n, err)
		}
		if l.Row < 1 {
			return nil, 0, fmt.Errorf("journal line %d names row %d", n, l.Row)
		}
		prev := last[l.Row]
		if l.Op == OpTake && prev.Hash != "" && l.Hash == "" {
			l.Hash = prev.Hash
		}
		if l.Op != OpTake && prev.Hash != "" {
			l.Hash = prev.Hash
		}
		last[l.Row] = l
	}
	return last, end, sc.Err()
}

// StateOf is the state a row's last journal line leaves it in.
func StateOf(l Line, ok bool) State {
	if !ok {
		return Free
	}
	switch l.Op {
	case OpTake:
		return Taken
	case OpSpent:
		return Spent
	case OpBurn:
		return Burnt
	}
	return Free
}

// RowHash is the SHA-256 of a row's values, in column order, as the
// journal and receipts record it.
func RowHash(r Row) string {
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q\n", k, r.Values[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Status is a pool's count of rows by state.
type Status struct {
	Name  string
	Rows  int // in the pool file
	Free  int // never taken, or returned
	Taken int // held by running jobs (or, read while no station runs, by jobs a station left when it stopped)
	Spent int
	Burnt int
}

func count(name string, rows []Row, last map[int]Line) Status {
	st := Status{Name: name, Rows: len(rows)}
	for _, r := range rows {
		l, ok := last[r.N]
		switch StateOf(l, ok) {
		case Free:
			st.Free++
		case Taken:
			st.Taken++
		case Spent:
			st.Spent++
		case Burnt:
			st.Burnt++
		}
	}
	return st
}

// Package pool hands out the rows of a data pool (a CSV or JSON-lines
// file: licence keys, certificate numbers) so that no row ever reaches two
// sticks. A pool's state is its journal, an append-only file of lines
// fsynced one by one beside the station's receipts; the pool file itself
// is never written. While a station runs it holds a lock on the pool file
// and on the journal, so a second station started on the same pool by
// mistake is refused.
//
// A row goes through: free → taken (a line fsynced before any of the
// row's bytes reach a stick) → spent (the job ended and used it),
// returned (the job failed and the pool's on_failure is "return", or the
// operator returned it) or burnt (the job failed and on_failure is
// "burn", or the station stopped while the job ran: what reached the
// stick is unknown, so the row is never handed out again). Every taken
// row has a later line saying where it went, except those of jobs still
// running.
package pool

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Format is how a pool file is written. The zero value is invalid.
type Format int

// The formats of pool files.
const (
	formatInvalid Format = iota
	// CSV: a header line naming the columns, then one row a line.
	CSV
	// JSONLines: one JSON object a line, its keys the columns; values
	// that are not strings are kept as their JSON text.
	JSONLines
)

// Row is one row of a pool: N counts data rows from 1, in file order.
type Row struct {
	N      int
	Values map[string]string
}

// Read reads a pool file: its columns (sorted for JSON lines, in header
// order for CSV) and its rows. An empty value and a row with too few or
// too many fields are errors that name the line.
func Read(path string, f Format) ([]string, []Row, error) {
	b, err := fsimage.ReadRegular(path)
	if err != nil {
		return nil, nil, err
	}
	switch f {
	case CSV:
		return readCSV(b)
	case JSONLines:
		return readJSONLines(b)
	}
	panic(fmt.Sprintf("pool: invalid format %d", f))
}

func readCSV(b []byte) ([]string, []Row, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 0
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("the file is empty: a CSV pool starts with a header line naming its columns")
	}
	if err != nil {
		return nil, nil, err
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !validColumn(header[i]) {
			return nil, nil, fmt.Errorf("line 1: column %q: a column name is letters, digits and underscores, starting with a letter, so that pool.NAME.row.%s can name it", header[i], header[i])
		}
	}
	if dup := duplicate(header); dup != "" {
		return nil, nil, fmt.Errorf("line 1: column %q is named twice", dup)
	}
	var rows []Row
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		vals := map[string]string{}
		for i, h := range header {
			vals[h] = rec[i]
		}
		rows = append(rows, Row{N: len(rows) + 1, Values: vals})
	}
	return header, rows, nil
}

func readJSONLines(b []byte) ([]string, []Row, error) {
	cols := map[string]bool{}
	var rows []Row
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil {
			return nil, nil, fmt.Errorf("line %d: not a JSON object: %v", line, err)
		}
		vals := map[string]string{}
		for k, raw := range obj {
			if !validColumn(k) {
				return nil, nil, fmt.Errorf("line %d: key %q: a column name is letters, digits and underscores, starting with a letter", line, k)
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				s = string(raw)
			}
			vals[k] = s
			cols[k] = true
		}
		rows = append(rows, Row{N: len(rows) + 1, Values: vals})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("the file holds no rows")
	}
	names := make([]string, 0, len(cols))
	for c := range cols {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, r := range rows {
		for _, c := range names {
			if _, ok := r.Values[c]; !ok {
				return nil, nil, fmt.Errorf("row %d has no %q: every line of a JSON-lines pool has the same keys", r.N, c)
			}
		}
	}
	return names, rows, nil
}

func validColumn(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r == '_' || r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func duplicate(xs []string) string {
	seen := map[string]bool{}
	for _, x := range xs {
		if seen[x] {
			return x
		}
		seen[x] = true
	}
	return ""
}

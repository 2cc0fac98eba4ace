package receipts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// Read parses a receipts file: one JSON object per line. Blank lines are
// ignored; lines that do not parse (a torn line after a crash, a line from
// a newer program that cannot be read) are skipped and counted in bad.
func Read(r io.Reader) (rs []Receipt, bad int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var rec Receipt
			if json.Unmarshal(line, &rec) == nil {
				rs = append(rs, rec)
			} else {
				bad++
			}
		}
		if err == io.EOF {
			return rs, bad, nil
		}
		if err != nil {
			return rs, bad, err
		}
	}
}

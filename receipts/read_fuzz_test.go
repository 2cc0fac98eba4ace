package receipts_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flashpipe/flashpipe/receipts"
)

// FuzzRead feeds arbitrary bytes to the receipts reader (report reads
// files a crash may have torn, or another program written). It must never
// panic or fail on a readable stream; every non-blank line is a receipt or
// counted bad; what it reads survives being written out and read again;
// and a receipts file cut at any byte (a crash mid-append) loses the cut
// line at most. Seeds: testdata/fuzz/FuzzRead.
//
//	go test ./receipts -run '^$' -fuzz FuzzRead -fuzztime 60s
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"result":"done","job":1,"device":{"name":"sdb","size":8}}`+"\n"), uint(10))
	f.Add([]byte("\n \n{\"job\":2}\r\n{torn"), uint(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint) {
		rs, bad, err := receipts.Read(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Read(%q) error: %v", data, err)
		}
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(rs)+bad != lines {
			t.Fatalf("Read(%q) = %d receipts + %d bad, want %d non-blank lines", data, len(rs), bad, lines)
		}
		var file []byte
		var ends []int // where each receipt's line ends in file
		for _, r := range rs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("json.Marshal(Read(%q)) error: %v", data, err)
			}
			file = append(append(file, b...), '\n')
			ends = append(ends, len(file))
		}
		again, bad, err := receipts.Read(bytes.NewReader(file))
		if err != nil || bad != 0 || !cmp.Equal(rs, again, cmpopts.EquateEmpty()) {
			t.Fatalf("Read of what Read(%q) gave, written out: %d bad, %v, diff (-first +again):\n%s", data, bad, err, cmp.Diff(rs, again, cmpopts.EquateEmpty()))
		}
		if len(file) == 0 {
			return
		}
		n := int(cut % uint(len(file)+1))
		torn, bad, err := receipts.Read(bytes.NewReader(file[:n]))
		whole := 0
		for whole < len(ends) && ends[whole] <= n {
			whole++
		}
		if err != nil || bad > 1 || len(torn) < whole || !cmp.Equal(rs[:len(torn)], torn, cmpopts.EquateEmpty()) {
			t.Fatalf("Read of the first %d bytes of %d receipts = %d receipts, %d bad, %v; want the %d whole lines and at most one bad", n, len(rs), len(torn), bad, err, whole)
		}
	})
}

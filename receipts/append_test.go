//go:build unix

package receipts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample(job int) Receipt {
	t := time.Date(2026, 11, 26, 12, 0, job%60, 0, time.UTC)
	return Receipt{
		Time: t, Started: t.Add(-time.Minute), Station: "bench", Profile: "docs", ConfigDigest: "sha256:ab",
		Job:    job,
		Device: Device{Name: "sdb", VendorID: "0781", ProductID: "5567", Serial: "SER" + strconv.Itoa(job), Port: "1-1.4", Size: 8 << 30, DiskSeq: 42},
		Steps:  []Step{{Kind: "wipe", DurationMS: 12}, {Kind: "write", Fused: []string{"partition", "mkfs", "copy"}, BytesWritten: 1 << 20}},
		Verify: &Verify{OK: false, Files: 3, Bytes: 1 << 20, FailedFiles: []FailedFile{{Path: "a.txt", Want: "00", Got: "11"}}, Metadata: []string{"fat #1"}},
		Result: "failed", FailedStep: "verify", Error: strings.Repeat("x", job%5*3000), // some lines longer than PIPE_BUF
		BytesWritten: 1 << 20, BytesVerified: 1 << 20,
	}
}

func readFile(t *testing.T, path string) ([]Receipt, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, bad, err := Read(f)
	if err != nil {
		t.Fatalf("Read(%s) error = %v", path, err)
	}
	return rs, bad
}

func TestAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	want := []Receipt{sample(1), sample(2), {Result: "done", Time: time.Unix(0, 0).UTC(), Started: time.Unix(0, 0).UTC()}}
	for _, r := range want {
		if err := Append(path, r); err != nil {
			t.Fatalf("Append = %v", err)
		}
	}
	got, bad := readFile(t, path)
	if diff := cmp.Diff(want, got); diff != "" || bad != 0 {
		t.Errorf("Read after Append: bad = %d, diff (-want +got):\n%s", bad, diff)
	}
}

// TestAppendAfterTornLine simulates a crash in the middle of a line: the
// next Append starts a new line, and Read skips and counts the torn one.
func TestAppendAfterTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	if err := Append(path, sample(1)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-11-26T12:00:00Z","station":"bench","jo`)
	f.Close()
	if err := Append(path, sample(2)); err != nil {
		t.Fatal(err)
	}
	got, bad := readFile(t, path)
	if len(got) != 2 || got[0].Job != 1 || got[1].Job != 2 || bad != 1 {
		t.Errorf("Read after a torn line = %d receipts (jobs %v), bad %d, want jobs [1 2], bad 1", len(got), jobs(got), bad)
	}
}

func jobs(rs []Receipt) []int {
	var js []int
	for _, r := range rs {
		js = append(js, r.Job)
	}
	return js
}

// checkAll reads path and wants every job in [0, n) exactly once.
func checkAll(t *testing.T, path string, n int) {
	t.Helper()
	got, bad := readFile(t, path)
	seen := map[int]int{}
	for _, r := range got {
		seen[r.Job]++
		if diff := cmp.Diff(sample(r.Job), r); diff != "" {
			t.Fatalf("receipt of job %d differs (-want +got):\n%s", r.Job, diff)
		}
	}
	if bad != 0 || len(got) != n || len(seen) != n {
		t.Errorf("Read = %d receipts, %d distinct jobs, bad %d; want %d, %d, 0", len(got), len(seen), bad, n, n)
	}
}

func TestAppendConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := Append(path, sample(w*each+i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	checkAll(t, path, workers*each)
}

// TestAppendConcurrentProcesses runs this test binary as several child
// processes that append at once.
func TestAppendConcurrentProcesses(t *testing.T) {
	if path := os.Getenv("RECEIPTS_HELPER_PATH"); path != "" {
		first, _ := strconv.Atoi(os.Getenv("RECEIPTS_HELPER_FIRST"))
		for i := range 40 {
			if err := Append(path, sample(first+i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		return
	}
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	var cmds []*exec.Cmd
	for p := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAppendConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "RECEIPTS_HELPER_PATH="+path, "RECEIPTS_HELPER_FIRST="+strconv.Itoa(p*40))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	checkAll(t, path, 160)
}

func TestReadSkipsGarbage(t *testing.T) {
	in := `{"job":1,"result":"done","time":"2026-11-26T12:00:00Z","started":"2026-11-26T12:00:00Z"}

not json
{"job":2,"result":"done","time":"2026-11-26T12:00:00Z","started":"2026-11-26T12:00:00Z"}
{"job":3,"res`
	got, bad, err := Read(strings.NewReader(in))
	if err != nil || len(got) != 2 || bad != 2 {
		t.Errorf("Read = %d receipts (jobs %v), bad %d, %v; want jobs [1 2], bad 2, nil", len(got), jobs(got), bad, err)
	}
}

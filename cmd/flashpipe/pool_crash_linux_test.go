package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/pool"
	"github.com/flashpipe/flashpipe/receipts"
)

// poolCrashSize is a loop device size no other test uses.
const poolCrashSize = 37 << 20

const poolCrashConfig = `
station {
  name        = "pool-crash"
  allow_buses = ["loop"]
  concurrency = 3
}
pool "keys" {
  csv        = %q
  record     = "value"
  on_failure = "burn"
}
source "c" { paths = [%q] }
profile "keyed" {
  match {
    bus  = "loop"
    size = "37MiB..37MiB"
  }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "file" {
    path    = "/licence.txt"
    content = "${pool.keys.row.key}\n"
  }
  step "verify" {}
}
`

// TestPoolSurvivesSIGKILL runs a real station handing out a pool's rows
// to three loop-device sticks at a time and kills it with SIGKILL at a
// random moment, 50 times: before, during and after the rows are taken,
// the sticks written, the receipts and journal lines appended. After
// every restart, the pool's journal and the receipts together show each
// row used by at most one stick, and every row that is not free named by
// a journal line saying where it went — none left taken.
func TestPoolSurvivesSIGKILL(t *testing.T) {
	looptest.Require(t)
	const kills, rows = 50, 400
	bin := buildBinary(t)
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("key\n")
	keys := map[string]int{}
	for i := 1; i <= rows; i++ {
		k := fmt.Sprintf("KEY-%04d-%08x", i, rand.Uint32())
		keys[k] = i
		csv.WriteString(k + "\n")
	}
	poolFile := filepath.Join(dir, "keys.csv")
	os.WriteFile(poolFile, []byte(csv.String()), 0o644)
	content := filepath.Join(dir, "content")
	os.MkdirAll(content, 0o755)
	big := make([]byte, 2<<20)
	rand.New(rand.NewSource(1)).Read(big)
	os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644)
	cfgPath := filepath.Join(dir, "station.hcl")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(poolCrashConfig, poolFile, content)), 0o644)
	rpath := filepath.Join(dir, "receipts.jsonl")
	journal := pool.JournalPath(rpath, "keys")

	var backing [3]string
	var pulls [3]func()
	for i := range backing {
		backing[i] = looptest.Sparse(t, dir, poolCrashSize)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for k := 0; k <= kills; k++ {
		d := startDaemon(t, bin, "--receipts", rpath, cfgPath)
		checkPoolAccounts(t, k, journal, rpath, keys)
		if k == kills {
			break
		}
		// Three new sticks: the old ones were present at the start and
		// are left alone; pulled and inserted again, they are new.
		for i := range backing {
			if pulls[i] != nil {
				pulls[i]()
			}
			_, pulls[i] = looptest.AttachPullable(t, backing[i])
		}
		// A stick here takes about half a second from insertion to its
		// receipt: most kills land while rows are taken and written, some
		// after the jobs ended.
		time.Sleep(time.Duration(rng.Intn(800)) * time.Millisecond)
		d.cmd.Process.Kill()
		d.cmd.Wait()
	}
	var spent, burnt int
	for _, l := range journalLines(t, journal) {
		switch l.Op {
		case pool.OpSpent:
			spent++
		case pool.OpBurn:
			burnt++
		}
	}
	// The kills must have hit jobs at work and jobs that ended, or the
	// test proved nothing.
	if spent == 0 || burnt == 0 {
		t.Errorf("after %d kills: %d rows spent, %d burnt; want both > 0", kills, spent, burnt)
	}
	t.Logf("%d kills: %d rows spent, %d burnt, %d journal lines", kills, spent, burnt, len(journalLines(t, journal)))
}

func journalLines(t *testing.T, path string) []pool.Line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []pool.Line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l pool.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// checkPoolAccounts checks, with no job running, that the journal and the
// receipts agree that no row went to two sticks and none is unaccounted
// for.
func checkPoolAccounts(t *testing.T, kill int, journal, rpath string, keys map[string]int) {
	t.Helper()
	state := map[int]pool.Op{}
	for i, l := range journalLines(t, journal) {
		prev, seen := state[l.Row]
		switch {
		case l.Op == pool.OpTake && seen && prev != pool.OpReturn:
			t.Fatalf("after kill %d: journal line %d takes row %d, whose last line was %q: a row handed out twice", kill, i+1, l.Row, prev)
		case l.Op != pool.OpTake && prev != pool.OpTake:
			t.Fatalf("after kill %d: journal line %d %ss row %d, which was not taken (last %q)", kill, i+1, l.Op, l.Row, prev)
		}
		state[l.Row] = l.Op
	}
	for row, op := range state {
		if op == pool.OpTake {
			t.Fatalf("after kill %d: row %d is still taken though no job runs: unaccounted for", kill, row)
		}
	}
	holders := map[int][]string{}
	for _, r := range readReceipts(t, rpath) {
		for _, pr := range r.PoolRows {
			if keys[pr.Values["key"]] != pr.Row {
				t.Fatalf("after kill %d: receipt of job %d records row %d with value %q, which is row %d", kill, r.Job, pr.Row, pr.Values["key"], keys[pr.Values["key"]])
			}
			if pr.Outcome == "returned" {
				continue
			}
			holders[pr.Row] = append(holders[pr.Row], fmt.Sprintf("%s job %d %s on %s", r.Started.Format(time.RFC3339Nano), r.Job, r.Result, r.Device.Name))
			switch want := state[pr.Row]; {
			case pr.Outcome == "spent" && want != pool.OpSpent, pr.Outcome == "burnt" && want != pool.OpBurn:
				t.Fatalf("after kill %d: receipt says row %d %s, the journal %q", kill, pr.Row, pr.Outcome, want)
			case r.Result == receipts.ResultInterrupted && want != pool.OpBurn && want != pool.OpSpent:
				t.Fatalf("after kill %d: interrupted job %d held row %d, which the journal shows %q", kill, r.Job, pr.Row, want)
			}
		}
	}
	for row, hs := range holders {
		if len(hs) > 1 {
			t.Fatalf("after kill %d: row %d reached %d sticks: %v", kill, row, len(hs), hs)
		}
	}
	for row, op := range state {
		if op == pool.OpSpent && len(holders[row]) == 0 {
			t.Fatalf("after kill %d: the journal says row %d is spent, but no receipt holds it", kill, row)
		}
	}
}

package station

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
)

// Sizes only this test's loop devices have.
const (
	keyedSize = 77 << 20
	plainSize = 79 << 20
)

const poolStationConfig = `
station {
  name        = "pools"
  allow_buses = ["loop"]
  concurrency = 2
}
pool "keys" {
  csv    = %q
  record = "value"
}
source "c" { paths = [%q] }
profile "keyed" {
  match {
    bus  = "loop"
    size = "77MiB..77MiB"
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
profile "plain" {
  match {
    bus  = "loop"
    size = "79MiB..79MiB"
  }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
`

// TestDryPoolStopsOnlyItsProfiles runs a station with a two-row pool: two
// sticks get one row each (on the stick, in the receipt), the third stick
// of that profile is left alone with the reason on the board and an alert
// naming the pool, and a stick of a profile without the pool is still
// written.
func TestDryPoolStopsOnlyItsProfiles(t *testing.T) {
	looptest.Require(t)
	testreq.Tool(t, "mtype")
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.csv")
	os.WriteFile(keys, []byte("key\nKEY-ONE\nKEY-TWO\n"), 0o644)
	content := makeContent(t, 1<<20)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("test.hcl", []byte(fmt.Sprintf(poolStationConfig, keys, content)))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	rpath := filepath.Join(dir, "receipts.jsonl")
	l, err := uevent.Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	defer l.Close()
	sysfs, procfs := matchers.OSRoots()
	board := status.NewBoard()
	var logs bytes.Buffer
	st := New(Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, Uevents: l,
		Receipts: rpath, Board: board, Log: hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &logs}, Level: hclog.Debug})})
	intake, stop := context.WithCancel(context.Background())
	done := make(chan Summary)
	go func() { done <- st.Run(intake, context.Background()) }()
	defer func() {
		if t.Failed() {
			t.Logf("station log:\n%s", logs.String())
		}
	}()
	time.Sleep(300 * time.Millisecond) // let Run record the baseline

	var images []string
	for i := 0; i < 2; i++ {
		_, img := attach(t, keyedSize, int64(10+i))
		images = append(images, img)
		waitReceipts(t, rpath, i+1)
	}
	rs := waitReceipts(t, rpath, 2)
	for i, want := range []string{"KEY-ONE", "KEY-TWO"} {
		r := rs[i]
		sum := sha1.Sum([]byte(want + "\n"))
		if r.Result != "done" || len(r.PoolRows) != 1 || r.PoolRows[0].Row != i+1 || r.PoolRows[0].Values["key"] != want || r.PoolRows[0].Outcome != "spent" ||
			len(r.Files) != 1 || r.Files[0].SHA1 != hex.EncodeToString(sum[:]) {
			t.Errorf("receipt %d = result %s, rows %+v, files %+v; want done with row %d (%s) spent and licence.txt's SHA1", i+1, r.Result, r.PoolRows, r.Files, i+1, want)
		}
		out, err := exec.Command("mtype", "-i", images[i]+"@@1M", "::/licence.txt").Output()
		if err != nil || string(out) != want+"\n" {
			t.Errorf("licence.txt on stick %d = %q (%v), want %q", i+1, out, err, want+"\n")
		}
	}

	dryDev, _ := attach(t, keyedSize, 12)
	row := waitState(t, board, filepath.Base(dryDev), status.StateIgnored)
	if !strings.Contains(row.Error, `pool "keys"`) || !strings.Contains(row.Error, "none left") {
		t.Errorf("board row of the stick after the pool ran dry: %q, want the dry pool named", row.Error)
	}
	alerts, _ := board.Alerts()
	if len(alerts) != 1 || alerts[0].Key != "pool:keys" || !strings.Contains(alerts[0].Message, "0 of 2 rows left") {
		t.Errorf("alerts = %+v, want one saying pool keys is dry", alerts)
	}
	if got := st.PoolRows()["keys"]; got != 0 {
		t.Errorf("PoolRows()[keys] = %d, want 0", got)
	}

	attach(t, plainSize, 13)
	rs = waitReceipts(t, rpath, 3)
	if r := rs[2]; r.Profile != "plain" || r.Result != "done" || len(r.PoolRows) != 0 {
		t.Errorf("receipt of the stick of the other profile = %s %s rows %+v, want plain done without rows", r.Profile, r.Result, r.PoolRows)
	}
	stop()
	if sum := <-done; sum.Done != 3 || sum.Ignored != 1 {
		t.Errorf("Run() = %v, want 3 done, 1 ignored", sum)
	}
}

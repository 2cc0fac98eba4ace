package station

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/report"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

// TestStationPartialWriteBytes: one stick is written whole; another,
// backed by a file on a tmpfs too small for the content, fails part way
// through the write. Its receipt's bytes_written is what the write got
// onto it — less than the whole stick's, about the tmpfs's size, and the
// write step's own count — not the plan's size; report adds the two.
func TestStationPartialWriteBytes(t *testing.T) {
	looptest.Require(t)
	small := looptest.Tmpfs(t, 24<<20)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	content := makeContent(t, 40<<20)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("test.hcl", []byte(fmt.Sprintf(`
station {
  name        = "test"
  allow_buses = ["loop"]
  concurrency = 1
}
source "c" { paths = [%q] }
profile "loop67" {
  match {
    bus  = "loop"
    size = "67MiB..67MiB"
  }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
`, content)))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	sysfs, procfs := matchers.OSRoots()
	var logs bytes.Buffer
	st := New(Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, Receipts: rpath,
		RescanInterval: 200 * time.Millisecond, Log: hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &logs}, Level: hclog.Debug})})
	intake, stop := context.WithCancel(context.Background())
	done := make(chan Summary)
	go func() { done <- st.Run(intake, context.Background()) }()
	time.Sleep(300 * time.Millisecond) // let Run record the baseline

	looptest.Attach(t, looptest.Sparse(t, t.TempDir(), matchSize), 0)
	whole := waitReceipts(t, rpath, 1)[0]
	looptest.Attach(t, looptest.Sparse(t, small, matchSize), 0)
	part := waitReceipts(t, rpath, 2)[1]
	stop()
	<-done

	if whole.Result != receipts.ResultDone || whole.BytesWritten <= 40<<20 {
		t.Fatalf("whole stick: %s, %d bytes written; want done, more than the content's 40 MiB", whole.Result, whole.BytesWritten)
	}
	if part.Result != receipts.ResultFailed || part.FailedStep != "write" || len(part.Steps) == 0 {
		t.Fatalf("stick on the small tmpfs: %s in %q (%s), want failed in write", part.Result, part.FailedStep, part.Error)
	}
	if w := part.Steps[0].BytesWritten; part.BytesWritten != w || w <= 16<<20 || w >= whole.BytesWritten {
		t.Errorf("stick on the small tmpfs: bytes_written %d, its write step %d; want them equal, above 16 MiB (the tmpfs holds 24) and below the whole stick's %d",
			part.BytesWritten, w, whole.BytesWritten)
	}
	if got := report.Summarize([]receipts.Receipt{whole, part}).All.BytesWritten; got != whole.BytesWritten+part.BytesWritten {
		t.Errorf("report's bytes written = %d, want %d + %d", got, whole.BytesWritten, part.BytesWritten)
	}
	t.Logf("whole stick: %d bytes written; the one on the small tmpfs: %d (%s)", whole.BytesWritten, part.BytesWritten, part.Error)
	if t.Failed() || testing.Verbose() {
		t.Logf("station log:\n%s", logs.String())
	}
}

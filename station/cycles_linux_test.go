package station

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
)

// TestStationCyclesDoNotLeak attaches and detaches a matching loop device
// 50 times under one station; every cycle is a full job. Goroutines, open
// file descriptors and heap must not grow with the number of cycles.
func TestStationCyclesDoNotLeak(t *testing.T) {
	testreq.Short(t, "50 jobs on loop devices")
	looptest.Require(t)
	content := makeContent(t, 64<<10)
	cfg := testConfig(t, content)
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	l, err := uevent.Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	defer l.Close()
	sysfs, procfs := matchers.OSRoots()
	st := New(Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, Uevents: l,
		Receipts: rpath, Log: hclog.NewNullLogger()})
	intake, stop := context.WithCancel(context.Background())
	done := make(chan Summary)
	go func() { done <- st.Run(intake, context.Background()) }()
	time.Sleep(300 * time.Millisecond)

	dir := t.TempDir()
	cycle := func(i int) {
		backing := looptest.Sparse(t, dir, matchSize)
		_, pull := looptest.AttachPullable(t, backing)
		waitReceipts(t, rpath, i+1)
		pull()
		os.Remove(backing)
	}
	const warm, cycles = 5, 50
	for i := 0; i < warm; i++ {
		cycle(i)
	}
	g0, fd0, heap0 := usage()
	for i := warm; i < warm+cycles; i++ {
		cycle(i)
	}
	time.Sleep(200 * time.Millisecond) // let the last job's goroutines return
	g1, fd1, heap1 := usage()
	stop()
	sum := <-done
	if sum.Done != warm+cycles {
		t.Errorf("Run() = %v, want %d done", sum, warm+cycles)
	}
	if g1 > g0+2 {
		t.Errorf("goroutines after %d cycles = %d, want about %d", cycles, g1, g0)
	}
	if fd1 > fd0+2 {
		t.Errorf("open fds after %d cycles = %d, want about %d", cycles, fd1, fd0)
	}
	if heap1 > heap0+8<<20 {
		t.Errorf("heap after %d cycles = %d bytes, want about %d", cycles, heap1, heap0)
	}
	t.Logf("goroutines %d→%d, fds %d→%d, heap %d→%d KiB", g0, g1, fd0, fd1, heap0>>10, heap1>>10)
}

func usage() (goroutines, fds int, heap uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ents, _ := os.ReadDir("/proc/self/fd")
	return runtime.NumGoroutine(), len(ents), ms.HeapAlloc
}

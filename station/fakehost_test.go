package station

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/flashpipe/flashpipe/matchers/sysfstest"
	"github.com/flashpipe/flashpipe/uevent"
)

// fakeHost is a machine, as a station sees it, with one USB port into
// which the stick of matchers' usb-stick-behind-hub fixture (sdb,
// 0781:5567, serial 4C530001230815108352 on port 1-1.4) can be plugged and
// pulled. Sysfs and procfs are the fixture's; the device node is an image
// file in a temporary directory. No root, no loop devices.
type fakeHost struct {
	sys    *swapFS
	proc   fs.FS
	devDir string
	with   fstest.MapFS // sysfs with the stick plugged in
	bare   fstest.MapFS // sysfs without it
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	fx, err := sysfstest.Load("../matchers/testdata/sysfs/usb-stick-behind-hub.txtar")
	if err != nil {
		t.Fatal(err)
	}
	bare := maps.Clone(fx.Sys)
	for name := range bare {
		if strings.HasPrefix(name, "block/sdb") || strings.HasPrefix(name, "class/block/sdb") {
			delete(bare, name)
		}
	}
	h := &fakeHost{proc: fx.Proc, devDir: t.TempDir(), with: fx.Sys, bare: bare}
	h.sys = &swapFS{}
	h.sys.set(bare)
	return h
}

// plug creates the stick's device node (an image file of 64 MiB, whatever
// sysfs says) and shows the stick in sysfs.
func (h *fakeHost) plug(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.devDir, "sdb"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(h.devDir, "sdb"), 64<<20); err != nil {
		t.Fatal(err)
	}
	h.sys.set(h.with)
}

// reinsert plugs the stick in again: a new insertion, so the kernel gives
// it the next diskseq.
func (h *fakeHost) reinsert(t *testing.T) {
	t.Helper()
	with := maps.Clone(h.with)
	for name, f := range with {
		if strings.HasSuffix(name, "/block/sdb/diskseq") {
			seq, err := strconv.Atoi(strings.TrimSpace(string(f.Data)))
			if err != nil {
				t.Fatal(err)
			}
			with[name] = &fstest.MapFile{Data: []byte(strconv.Itoa(seq+1) + "\n")}
		}
	}
	h.with = with
	h.plug(t)
}

// options returns station options for this host.
func (h *fakeHost) options() Options {
	return Options{Sysfs: h.sys, Procfs: h.proc, DevDir: h.devDir}
}

// swapFS is an fs.FS whose content can be swapped while a station reads it.
type swapFS struct {
	mu  sync.Mutex
	cur fstest.MapFS
}

func (s *swapFS) set(m fstest.MapFS) {
	s.mu.Lock()
	s.cur = m
	s.mu.Unlock()
}

func (s *swapFS) get() fstest.MapFS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *swapFS) Open(name string) (fs.File, error)          { return s.get().Open(name) }
func (s *swapFS) ReadLink(name string) (string, error)       { return s.get().ReadLink(name) }
func (s *swapFS) Lstat(name string) (fs.FileInfo, error)     { return s.get().Lstat(name) }
func (s *swapFS) ReadDir(name string) ([]fs.DirEntry, error) { return s.get().ReadDir(name) }

// fakeUevents is a uevent source whose stream the test controls.
type fakeUevents struct {
	ch      chan uevent.Event
	err     error
	dropped atomic.Uint64
}

func (f *fakeUevents) Events() <-chan uevent.Event { return f.ch }
func (f *fakeUevents) Err() error                  { return f.err }
func (f *fakeUevents) Dropped() uint64             { return f.dropped.Load() }

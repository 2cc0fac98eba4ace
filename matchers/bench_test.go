package matchers_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/matchers/sysfstest"
)

// BenchmarkRead measures reading one USB stick's identity from a fixture
// (the station does this per uevent).
func BenchmarkRead(b *testing.B) {
	fx, err := sysfstest.Load("testdata/sysfs/usb-stick-behind-hub.txtar")
	if err != nil {
		b.Fatal(err)
	}
	mi := fx.Proc["self/mountinfo"].Data
	for b.Loop() {
		if _, err := matchers.Read(fx.Sys, strings.NewReader(string(mi)), nil, "sdb"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadLive measures reading the first block device of the machine
// through os.DirFS("/sys") and /proc.
func BenchmarkReadLive(b *testing.B) {
	sys, proc := matchers.OSRoots()
	names, err := matchers.List(sys)
	if err == nil && len(names) == 0 {
		err = errors.New("none listed")
	}
	testreq.Capability(b, "a block device under /sys/block", err)
	for b.Loop() {
		if _, err := matchers.ReadFrom(sys, proc, names[0]); err != nil {
			b.Fatal(err)
		}
	}
}

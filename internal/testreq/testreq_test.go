package testreq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how a helper stopped a test. Skip and Fatal end the
// calling goroutine as the real ones do; any other method of testing.TB
// panics on the nil embedded TB, so a helper that reaches for one shows.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) { f.skipped, f.msg = true, fmt.Sprint(args...); runtime.Goexit() }

func (f *fakeTB) Skipf(format string, args ...any) { f.Skip(fmt.Sprintf(format, args...)) }

func (f *fakeTB) Fatal(args ...any) { f.failed, f.msg = true, fmt.Sprint(args...); runtime.Goexit() }

func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

// outcome runs helper on a fake test and says how it ended: "ran" (it
// returned), "skipped" or "failed", with the message.
func outcome(helper func(t testing.TB)) (string, string) {
	f := &fakeTB{}
	done := make(chan bool)
	go func() {
		defer close(done)
		helper(f)
		done <- true
	}()
	if <-done {
		return "ran", ""
	}
	switch {
	case f.failed:
		return "failed", f.msg
	case f.skipped:
		return "skipped", f.msg
	}
	return "stopped", ""
}

// emptyPath points PATH at an empty directory, so no command is found.
func emptyPath(t *testing.T) { t.Setenv("PATH", t.TempDir()) }

// TestPolicy is the CI rule itself: a missing tool or capability skips on a
// laptop and fails under CI=true; an allow-listed skip skips in both.
func TestPolicy(t *testing.T) {
	missingTool := func(t testing.TB) { Tool(t, "mcopy") }
	noSocket := func(t testing.TB) { Capability(t, "a NETLINK_KOBJECT_UEVENT socket", errors.New("EPERM")) }
	generic := func(t testing.TB) { Skip(t, "needs a FAT driver in the kernel") }
	allowed := func(t testing.TB) { SkipAllowed(t, BenchInput, "set FLASHPIPE_BENCH_DIR") }
	for _, tc := range []struct {
		name   string
		ci     string
		helper func(t testing.TB)
		want   string
		msg    []string
	}{
		{"missing tool, laptop", "", missingTool, "skipped", []string{"needs mcopy (Debian package mtools"}},
		{"missing tool, CI=false", "false", missingTool, "skipped", []string{"needs mcopy"}},
		{"missing tool, CI=true", "true", missingTool, "failed", []string{"needs mcopy (Debian package mtools", "CI=true", ".ci/run"}},
		{"missing tool, CI=1", "1", missingTool, "failed", []string{"needs mcopy"}},
		{"capability, laptop", "", noSocket, "skipped", []string{"needs a NETLINK_KOBJECT_UEVENT socket: EPERM"}},
		{"capability, CI=true", "true", noSocket, "failed", []string{"needs a NETLINK_KOBJECT_UEVENT socket: EPERM", "CI=true"}},
		{"skip, laptop", "", generic, "skipped", []string{"needs a FAT driver"}},
		{"skip, CI=true", "true", generic, "failed", []string{"needs a FAT driver", "allow-list"}},
		{"allowed, laptop", "", allowed, "skipped", []string{"set FLASHPIPE_BENCH_DIR", "allowed in CI", BenchInput.Why()}},
		{"allowed, CI=true", "true", allowed, "skipped", []string{"set FLASHPIPE_BENCH_DIR", "allowed in CI"}},
		{"capability met, CI=true", "true", func(t testing.TB) { Capability(t, "x", nil) }, "ran", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			emptyPath(t)
			got, msg := outcome(tc.helper)
			if got != tc.want {
				t.Fatalf("with CI=%q: %s, want %s (message %q)", tc.ci, got, tc.want, msg)
			}
			for _, m := range tc.msg {
				if !strings.Contains(msg, m) {
					t.Errorf("with CI=%q: message %q, want it to contain %q", tc.ci, msg, m)
				}
			}
		})
	}
}

// TestToolFound returns the command's path when it is on PATH, under CI too.
func TestToolFound(t *testing.T) {
	t.Setenv("CI", "true")
	dir := t.TempDir()
	want := filepath.Join(dir, "mcopy")
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	var got string
	if o, msg := outcome(func(t testing.TB) { got = Tool(t, "mcopy") }); o != "ran" || got != want {
		t.Errorf("Tool(mcopy) = %q, %s %q; want %q, ran", got, o, msg, want)
	}
}

// TestToolUnlisted fails a command tools.txt does not list, on a laptop
// too: scripts/deps.sh would never install it.
func TestToolUnlisted(t *testing.T) {
	t.Setenv("CI", "")
	if o, msg := outcome(func(t testing.TB) { Tool(t, "sh") }); o != "failed" || !strings.Contains(msg, "tools.txt") {
		t.Errorf("Tool(sh) = %s %q, want failed, naming tools.txt", o, msg)
	}
}

// TestRoot checks Root against the real effective user: as root it lets
// the test run; otherwise it skips on a laptop and fails under CI.
func TestRoot(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		want := "ran"
		if os.Geteuid() != 0 {
			want = map[string]string{"": "skipped", "true": "failed"}[ci]
		}
		if o, msg := outcome(func(t testing.TB) { Root(t, "to attach loop devices") }); o != want {
			t.Errorf("Root() with CI=%q, euid %d = %s %q, want %s", ci, os.Geteuid(), o, msg, want)
		}
	}
}

// TestShort skips only under -short, in CI too.
func TestShort(t *testing.T) {
	t.Setenv("CI", "true")
	want := "ran"
	if testing.Short() {
		want = "skipped"
	}
	if o, msg := outcome(func(t testing.TB) { Short(t, "50 jobs") }); o != want {
		t.Errorf("Short() = %s %q, want %s", o, msg, want)
	}
}

// TestUnlistedAllowancePanics: only the allow-list's allowances skip.
func TestUnlistedAllowancePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("SkipAllowed(Allowance(99)) did not panic")
		}
	}()
	SkipAllowed(&fakeTB{}, Allowance(99), "x")
}

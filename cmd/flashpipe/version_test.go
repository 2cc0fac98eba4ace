package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/spf13/cobra"
)

// TestVersionUnlinked: a build without -ldflags (go test's) says "devel"
// and the Go version it was built with, and has no gendocs command.
func TestVersionUnlinked(t *testing.T) {
	code, out, errOut := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("version exited %d: %s", code, errOut)
	}
	goLine := "go        " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if !strings.HasPrefix(out, "flashpipe devel\n") || !strings.Contains(out, goLine+"\n") {
		t.Errorf("version = %q, want flashpipe devel and %q", out, goLine)
	}
	for _, c := range newRoot(os.Stdout, os.Stderr).Commands() {
		if c.Name() == "gendocs" {
			t.Errorf("a build without -tags gendocs has the gendocs command")
		}
	}
}

// TestVersionLinkedAndManPages builds flashpipe as make package does
// (-ldflags -X for version and commit, -tags gendocs), checks that version
// prints what was linked in, and that gendocs writes one man page for every
// command a user can run, each naming the version.
func TestVersionLinkedAndManPages(t *testing.T) {
	testreq.Short(t, "builds flashpipe")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	dir := t.TempDir()
	bin := filepath.Join(dir, "flashpipe")
	ldflags := "-X main.version=1.2.3-4-gabcdef0 -X main.commit=abcdef0123"
	build := exec.Command(goBin, "build", "-tags", "gendocs", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	want := "flashpipe 1.2.3-4-gabcdef0\ncommit    abcdef0123\ngo        " + runtime.Version()
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("version = %q, want prefix %q", out, want)
	}

	man := filepath.Join(dir, "man")
	if out, err := exec.Command(bin, "gendocs", "--man", man, "--version", "1.2.3", "--date", "1700000000").CombinedOutput(); err != nil {
		t.Fatalf("gendocs: %v\n%s", err, out)
	}
	var want1 []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		want1 = append(want1, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRoot(os.Stdout, os.Stderr)
	root.InitDefaultCompletionCmd()
	walk(root)
	for _, page := range want1 {
		b, err := os.ReadFile(filepath.Join(man, page))
		if err != nil {
			t.Errorf("no man page %s: %v", page, err)
			continue
		}
		if !strings.Contains(string(b), `"flashpipe 1.2.3"`) || !strings.Contains(string(b), "Nov 2023") {
			t.Errorf("%s does not name the version and date given:\n%.300s", page, b)
		}
	}
	got, _ := filepath.Glob(filepath.Join(man, "*.1"))
	if len(got) != len(want1) {
		t.Errorf("gendocs wrote %d pages, want %d (%v)", len(got), len(want1), want1)
	}
	if len(want1) < 12 {
		t.Errorf("only %d commands: %v", len(want1), want1)
	}
}

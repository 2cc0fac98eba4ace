// Package testreq is how a test says what it needs from the machine: a
// command (Tool), root (Root) or something of the kernel's (Capability).
//
// On a laptop a missing need skips the test with a message that names it.
// Under CI=true it fails the test instead, naming what CI failed to install
// or provide, so a broken install step can never turn an oracle test into a
// silent pass. The only skips CI lets through are the allowances in the
// allow-list (ShortMode, BenchInput), each with the reason it may; SkipAllowed
// takes one of them and nothing else.
//
// Check every need before starting anything the test would have to stop
// (a station goroutine, a daemon): a skip or a failure stops the test where
// it is called.
package testreq

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// CI reports whether the tests run in CI: the environment variable CI holds
// a true value as strconv.ParseBool reads it ("true", "1", "TRUE" ...).
// .ci/run and most CI services set CI=true.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// ciNote ends the failure message of a need that CI did not meet.
const ciNote = "CI=true: a test that lacks a tool, root or a capability fails instead of skipping " +
	"(internal/testreq). CI failed to install or provide this: fix .ci/run, which must install every package " +
	"in internal/testreq/tools.txt and run the tests as root; or, if CI's machine cannot have it, add an " +
	"allowance with the reason to testreq's allow-list (docs/architecture.md lists it)."

// Skip stops t because something it needs is missing; reason says what,
// in the form "needs X". On a laptop t is skipped with reason; under CI it
// fails with reason and what to fix.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s\n%s", reason, ciNote)
	}
	t.Skip(reason)
}

// Tool returns the path of the command name, or stops t (see Skip) with a
// message naming its Debian package. name must be listed in tools.txt; a
// name that is not fails t, in CI or not, since scripts/deps.sh would not
// install it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	pkg, ok := packages[name]
	if !ok {
		t.Fatalf("testreq.Tool(%q): the command is not in internal/testreq/tools.txt; add it with its Debian package", name)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, fmt.Sprintf("needs %s (Debian package %s; make test installs it)", name, pkg))
	}
	return p
}

// Tools stops t (see Tool) unless every named command is installed.
func Tools(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		Tool(t, name)
	}
}

// Root stops t (see Skip) unless it runs as root; why says what root is
// needed for, e.g. "to attach loop devices".
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root "+why+" (run the tests as root; CI does)")
	}
}

// Capability stops t (see Skip) when err is not nil: the machine cannot do
// what, e.g. "a NETLINK_KOBJECT_UEVENT socket" or "a loop device".
func Capability(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		Skip(t, fmt.Sprintf("needs %s: %v", what, err))
	}
}

//go:embed tools.txt
var toolsTxt string

// packages maps every command in tools.txt to its Debian package.
var packages = parseTools(toolsTxt)

func parseTools(text string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 2 {
			panic(fmt.Sprintf("testreq: tools.txt line %q: want \"command package\"", sc.Text()))
		}
		m[f[0]] = f[1]
	}
	return m
}

package testreq

import (
	"fmt"
	"testing"
)

// An Allowance is a reason to skip that CI lets through. The allow-list
// below is the only place one is made; docs/architecture.md lists the same
// ones with the same reasons (a test keeps the two equal).
type Allowance int

const (
	invalidAllowance Allowance = iota
	// ShortMode: a long test, run with go test -short.
	ShortMode
	// BenchInput: a benchmark whose input is named by an environment
	// variable that is not set.
	BenchInput
)

// allowList is every skip CI lets through, with the reason it may.
var allowList = map[Allowance]struct{ name, why string }{
	ShortMode: {"-short", "go test -short asks for the quick tests only; make test and CI never pass -short, " +
		"so under CI the long tests run"},
	BenchInput: {"benchmark input", "go test runs benchmarks only with -bench, which make test and CI never pass; " +
		"a benchmark of an operator's own content tree has nothing to measure without one"},
}

// AllowList returns every allowance, in order.
func AllowList() []Allowance {
	var as []Allowance
	for a := invalidAllowance + 1; ; a++ {
		if _, ok := allowList[a]; !ok {
			return as
		}
		as = append(as, a)
	}
}

// String returns the allowance's short name, e.g. "-short".
func (a Allowance) String() string { return a.entry().name }

// Why returns the reason CI lets this skip through.
func (a Allowance) Why() string { return a.entry().why }

func (a Allowance) entry() struct{ name, why string } {
	e, ok := allowList[a]
	if !ok {
		panic(fmt.Sprintf("testreq: Allowance(%d) is not in the allow-list", int(a)))
	}
	return e
}

// SkipAllowed skips t, under CI too, for an allow-listed reason; detail
// says what is skipped. An allowance not in the list panics: it is a bug in
// the test.
func SkipAllowed(t testing.TB, a Allowance, detail string) {
	t.Helper()
	t.Skipf("%s (allowed in CI, %s: %s)", detail, a, a.Why())
}

// Short skips t (allowed in CI, see ShortMode) when go test runs with
// -short; what says why the test is long, e.g. "50 jobs on loop devices".
func Short(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		SkipAllowed(t, ShortMode, what+"; skipped with -short")
	}
}

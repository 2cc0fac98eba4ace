package testreq

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the module root, from this package's directory.
const root = "../.."

// TestCIInstallsEveryTool: every package in tools.txt is in .ci/run's
// apt-get install, so CI has each command before make test starts.
func TestCIInstallsEveryTool(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	// The apt-get install command with its continuation lines.
	m := regexp.MustCompile(`apt-get install((?:[^\n]*\\\n)*[^\n]*)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf(".ci/run has no apt-get install line")
	}
	installed := strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " "))
	for cmd, pkg := range packages {
		if !slices.Contains(installed, pkg) {
			t.Errorf("tools.txt: %s needs the Debian package %s, which .ci/run does not install", cmd, pkg)
		}
	}
}

// TestAllowListDocumented keeps docs/architecture.md listing every
// allowance with its reason.
func TestAllowListDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(b)), " ")
	for _, a := range AllowList() {
		if row := "| `" + a.String() + "` | " + a.Why() + " |"; !strings.Contains(doc, row) {
			t.Errorf("docs/architecture.md does not list the allowance %q; want the table row\n%s", a, row)
		}
	}
	if n := len(AllowList()); n != len(allowList) {
		t.Errorf("AllowList() has %d allowances, the allow-list %d: number them without gaps", n, len(allowList))
	}
}

// TestReliabilityTestsExist: every test docs/reliability.md names as the
// proof of a fault exists, so the table cannot point at a test that was
// renamed or removed.
func TestReliabilityTestsExist(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	def := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]*)\(`)
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range def.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\b(?:Test|Fuzz)[A-Z][A-Za-z0-9_]*`).FindAllString(string(doc), -1)
	if len(named) == 0 {
		t.Fatal("docs/reliability.md names no tests")
	}
	for _, n := range named {
		if !defined[n] {
			t.Errorf("docs/reliability.md names %s, which no _test.go file defines", n)
		}
	}
}

package pipeline_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// newLoader returns a loader with the built-in step kinds and no
// environment.
func newLoader() *pipeline.Loader {
	return pipeline.NewLoader(steps.Builtin())
}

// expectation is one inline marker: `# ERROR: <summary>` or
// `# WARNING: <summary>`, optionally followed by `| <part of the detail>`.
type expectation struct {
	severity string // "ERROR" or "WARNING"
	summary  string
	detail   string // a substring the diagnostic's detail must hold; may be empty
}

var markerRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*(.*)$`)

// readMarkers returns the expectations of a fixture by line number.
func readMarkers(t *testing.T, path string) map[int]expectation {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]expectation{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		m := markerRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		summary, detail, _ := strings.Cut(m[2], "|")
		want[line] = expectation{severity: m[1], summary: strings.TrimSpace(summary), detail: strings.TrimSpace(detail)}
	}
	return want
}

// severityName names a diagnostic's severity as markers do.
func severityName(d *hcl.Diagnostic) string {
	if d.Severity == hcl.DiagWarning {
		return "WARNING"
	}
	return "ERROR"
}

// diagsByLine maps each diagnostic's start line to its severity and
// summary, as "ERROR: summary". A line with several diagnostics lists them
// all, sorted, joined with "; ".
func diagsByLine(t *testing.T, file string, diags hcl.Diagnostics) map[int]string {
	t.Helper()
	lines := map[int][]string{}
	for _, d := range diags {
		if d.Subject == nil {
			t.Errorf("diagnostic %q has no source range", d.Summary)
			continue
		}
		if d.Subject.Filename != file {
			t.Errorf("diagnostic %q is in %q, want %q", d.Summary, d.Subject.Filename, file)
			continue
		}
		lines[d.Subject.Start.Line] = append(lines[d.Subject.Start.Line], severityName(d)+": "+d.Summary)
	}
	out := map[int]string{}
	for l, s := range lines {
		sort.Strings(s)
		out[l] = strings.Join(s, "; ")
	}
	return out
}

// TestErrorFixtures loads every testdata/errors/*.hcl and requires each
// diagnostic to be on a line marked with its summary, every marked line to
// get its diagnostic, and each marker's detail text to be in the
// diagnostic's detail.
func TestErrorFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := readMarkers(t, file)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: markers", file)
			}
			_, diags := newLoader().LoadFiles([]string{file})
			got := diagsByLine(t, file, diags)
			wantByLine := map[int]string{}
			for l, e := range want {
				wantByLine[l] = e.severity + ": " + e.summary
			}
			if diff := cmp.Diff(wantByLine, got); diff != "" {
				t.Errorf("LoadFiles(%s) diagnostics by line (-want +got):\n%s\nall diagnostics:\n%s", file, diff, dump(diags))
			}
			for _, d := range diags {
				e, ok := want[d.Subject.Start.Line]
				if !ok || e.detail == "" || e.summary != d.Summary {
					continue
				}
				if !strings.Contains(d.Detail, e.detail) {
					t.Errorf("%s:%d: detail of %q = %q, want it to contain %q", file, d.Subject.Start.Line, d.Summary, d.Detail, e.detail)
				}
			}
		})
	}
}

// dump lists diagnostics one a line, for failure messages.
func dump(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		r := "(no range)"
		if d.Subject != nil {
			r = d.Subject.String()
		}
		fmt.Fprintf(&b, "  %s %s: %s — %s\n", r, severityName(d), d.Summary, d.Detail)
	}
	return b.String()
}

// TestValidFixtures requires every testdata/valid/*.hcl to load with no
// diagnostics at all, alone and all together.
func TestValidFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid fixtures: %v", err)
	}
	for _, file := range files {
		cfg, diags := newLoader().LoadFiles([]string{file})
		if len(diags) > 0 {
			t.Errorf("LoadFiles(%s) diagnostics:\n%s", file, dump(diags))
		}
		if cfg == nil || len(cfg.Profiles) == 0 {
			t.Errorf("LoadFiles(%s) gave no profiles", file)
		}
	}
}

// TestExamples loads examples/*.hcl one by one and all together (as CI's
// `flashpipe validate examples/*.hcl` does): no errors, no warnings.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.hcl")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples/*.hcl = %v (%v), want at least 3 files", files, err)
	}
	for _, file := range files {
		cfg, diags := newLoader().LoadFiles([]string{file})
		if len(diags) > 0 {
			t.Errorf("LoadFiles(%s) diagnostics:\n%s", file, dump(diags))
			continue
		}
		for _, p := range cfg.Profiles {
			if p.Write == nil && p.Stages[0].Name != "image" {
				t.Errorf("%s: profile %q has no write stage and writes no image", file, p.Name)
			}
		}
	}
	cfg, diags := newLoader().LoadFiles(files)
	if len(diags) > 0 {
		t.Fatalf("LoadFiles(%v) diagnostics:\n%s", files, dump(diags))
	}
	if got := len(cfg.Profiles); got != 7 {
		t.Errorf("len(LoadFiles(examples).Profiles) = %d, want 7", got)
	}
}

// TestEmptyFiles: a file that declares nothing is one clear error at 1:1.
func TestEmptyFiles(t *testing.T) {
	for name, src := range map[string]string{
		"empty":    "",
		"blank":    "\n\n   \n\t\n",
		"comments": "# nothing\n// here\n/* either */\n",
	} {
		_, diags := newLoader().LoadSource(name+".hcl", []byte(src))
		if len(diags) != 1 || diags[0].Summary != "Empty configuration file" {
			t.Errorf("LoadSource(%q) = %s, want one \"Empty configuration file\" error", src, dump(diags))
			continue
		}
		if r := diags[0].Subject; r == nil || r.Start.Line != 1 || r.Start.Column != 1 {
			t.Errorf("LoadSource(%q) error range = %v, want line 1 column 1", src, r)
		}
	}
}

// TestNonUTF8: bytes that are not UTF-8 give one diagnostic at the first
// bad byte, not the parser's follow-on errors, not a panic.
func TestNonUTF8(t *testing.T) {
	for _, tc := range []struct {
		src       string
		line, col int
	}{
		{"profile \"a\" {\n  step \"wipe\" {\n    mode = \"qu\xffick\"\n  }\n}\n", 3, 15},
		{"\xfe\xff profile \"a\" {}\n", 1, 1},
		{"# ü is fine, \xc3 alone is not\nprofile \"a\" {}\n", 1, 14},
	} {
		cfg, diags := newLoader().LoadSource("latin1.hcl", []byte(tc.src))
		if cfg != nil || len(diags) != 1 || diags[0].Summary != "Invalid character encoding" {
			t.Errorf("LoadSource(%q) = %s, want one \"Invalid character encoding\" error and no config", tc.src, dump(diags))
			continue
		}
		if r := diags[0].Subject; r.Start.Line != tc.line || r.Start.Column != tc.col {
			t.Errorf("LoadSource(%q) error at %d:%d, want %d:%d", tc.src, r.Start.Line, r.Start.Column, tc.line, tc.col)
		}
	}
}

// TestLargeConfig generates a config of about 1 MB (thousands of profiles)
// and requires it to load clean.
func TestLargeConfig(t *testing.T) {
	src := largeConfig(1 << 20)
	if len(src) < 1<<20 {
		t.Fatalf("largeConfig size = %d, want at least 1 MiB", len(src))
	}
	cfg, diags := newLoader().LoadSource("large.hcl", src)
	if len(diags) > 0 {
		t.Fatalf("LoadSource(large) diagnostics (first 5):\n%s", dump(diags[:min(5, len(diags))]))
	}
	if len(cfg.Profiles) < 1000 {
		t.Errorf("len(Profiles) = %d, want at least 1000", len(cfg.Profiles))
	}
	for i := 1; i < len(cfg.Profiles); i++ {
		if cfg.Profiles[i-1].Priority < cfg.Profiles[i].Priority {
			t.Fatalf("Profiles[%d].Priority = %d < Profiles[%d].Priority = %d, want descending", i-1, cfg.Profiles[i-1].Priority, i, cfg.Profiles[i].Priority)
		}
	}
}

// BenchmarkLoadLarge measures loading a 1 MB config.
func BenchmarkLoadLarge(b *testing.B) {
	src := largeConfig(1 << 20)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, diags := newLoader().LoadSource("large.hcl", src); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// largeConfig writes profiles until the source has at least size bytes.
// Each profile has its own priority and vendor id, so none overlap.
func largeConfig(size int) []byte {
	var b bytes.Buffer
	b.WriteString("station {\n  name = \"large\"\n}\n\nvariable \"event\" {\n  default = \"EXPO\"\n}\n\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `profile "p%05d" {
  priority = %d
  match {
    vendor_id  = "%04x"
    product_id = ["%04x", "0x%04x"]
    serial     = "SER%05d*"
    size       = "%dGB..%dGiB"
    port       = "1-%d.*"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "%s" }
  step "mkfs" {
    type  = "vfat"
    label = upper(format("%%s%%03d", var.event, job.seq))
  }
  step "verify" { what = "all" }
  step "eject" {}
}

`, i, i, i%0xffff+1, i%0xffff, (i+1)%0xffff, i, 1+i%8, 16+i%64, 1+i%9, []string{"mbr", "gpt"}[i%2])
	}
	return b.Bytes()
}

// TestSyntaxErrorStopsLoad: a syntax error in one of several files is
// reported alone; nothing is decoded, so no follow-on errors appear in the
// other files (which refer to a source the broken file declares).
func TestSyntaxErrorStopsLoad(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.hcl")
	b := filepath.Join(dir, "b.hcl")
	if err := os.WriteFile(a, []byte("source \"docs\" {\n  paths = [\"x\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("profile \"p\" {\n  step \"partition\" {}\n  step \"mkfs\" { type = \"vfat\" }\n  step \"copy\" { sources = [source.docs] }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := newLoader().LoadFiles([]string{a, b})
	if cfg != nil || !diags.HasErrors() {
		t.Fatalf("LoadFiles = %v, %s; want no config and errors", cfg, dump(diags))
	}
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Filename != a {
			t.Errorf("diagnostic %q at %v, want only errors in %s", d.Summary, d.Subject, a)
		}
	}
	if _, diags := newLoader().LoadFiles([]string{filepath.Join(dir, "missing.hcl")}); !diags.HasErrors() || diags[0].Summary != "Cannot read configuration file" {
		t.Errorf("LoadFiles(missing) = %s, want \"Cannot read configuration file\"", dump(diags))
	}
}

// TestConfigFileNotRegular: a station file that is a FIFO (reading it
// would wait for a writer forever, and a station blocked there ignores
// SIGTERM) or a device is refused at once, named with its kind.
func TestConfigFileNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "station.hcl")
	imagetest.FIFO(t, fifo)
	for _, tc := range []struct{ path, want string }{
		{fifo, fifo + " is a fifo, not a regular file"},
		{"/dev/zero", "/dev/zero is a character device, not a regular file"},
	} {
		var diags hcl.Diagnostics
		imagetest.Within(t, 5*time.Second, fifo, "LoadFiles("+tc.path+")", func() { _, diags = newLoader().LoadFiles([]string{tc.path}) })
		if !diags.HasErrors() || diags[0].Summary != "Cannot read configuration file" || !strings.Contains(diags[0].Detail, tc.want) {
			t.Errorf("LoadFiles(%s) = %s, want \"Cannot read configuration file\" saying %q", tc.path, dump(diags), tc.want)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs the program with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.hcl")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples/*.hcl = %v (%v), want at least 3 files", files, err)
	}
	return files
}

// TestValidateExamples: `validate examples/*.hcl` exits 0, strict too, and
// each example validates alone.
func TestValidateExamples(t *testing.T) {
	files := examples(t)
	code, out, errs := runCLI(t, append([]string{"validate", "--strict"}, files...)...)
	if code != 0 {
		t.Fatalf("validate --strict examples/*.hcl = %d, want 0; stderr:\n%s", code, errs)
	}
	if want := fmt.Sprintf("%d file(s) valid: 7 profile(s)\n", len(files)); out != want {
		t.Errorf("validate stdout = %q, want %q", out, want)
	}
	for _, f := range files {
		if code, _, errs := runCLI(t, "validate", "--strict", f); code != 0 {
			t.Errorf("validate --strict %s = %d, want 0; stderr:\n%s", f, code, errs)
		}
	}
	if code, _, errs := runCLI(t, "validate", "../../examples"); code != 0 {
		t.Errorf("validate examples/ = %d, want 0; stderr:\n%s", code, errs)
	}
}

var markerRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*([^|]*)`)

// markers returns a fixture's markers by line, as hcl's text writer
// starts them: "Error: summary" or "Warning: summary".
func markers(t *testing.T, path string) map[int]string {
	t.Helper()
	want := map[int]string{}
	for line, m := range severityMarkers(t, path) {
		want[line] = m.summary
	}
	return want
}

// marker is one "# ERROR: summary" or "# WARNING: summary" marker.
type marker struct {
	severity string // "Error" or "Warning", as hcl's text writer prints it
	summary  string
}

// severityMarkers returns a fixture's markers by line, with severity.
func severityMarkers(t *testing.T, path string) map[int]marker {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]marker{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		if m := markerRE.FindStringSubmatch(sc.Text()); m != nil {
			sev := "Error"
			if m[1] == "WARNING" {
				sev = "Warning"
			}
			want[line] = marker{sev, strings.TrimSpace(m[2])}
		}
	}
	return want
}

// TestValidateBrokenText: each error fixture exits 1 (one with warnings
// only, under --strict), and stderr shows every marked error and warning
// as hcl's text writer does:
// "Error: <summary>" (or "Warning: ") and "on FILE line N".
func TestValidateBrokenText(t *testing.T) {
	files, _ := filepath.Glob("../../pipeline/testdata/errors/*.hcl")
	if len(files) == 0 {
		t.Fatal("no error fixtures in pipeline/testdata/errors")
	}
	for _, f := range files {
		// A fixture with warnings only fails under --strict.
		args := []string{"validate", "--strict", f}
		for _, m := range severityMarkers(t, f) {
			if m.severity == "Error" {
				args = []string{"validate", f}
			}
		}
		code, out, errs := runCLI(t, args...)
		if code != 1 {
			t.Errorf("%s = %d, want 1", strings.Join(args, " "), code)
		}
		if out != "" {
			t.Errorf("%s stdout = %q, want nothing", strings.Join(args, " "), out)
		}
		for line, m := range severityMarkers(t, f) {
			if !strings.Contains(errs, m.severity+": "+m.summary) {
				t.Errorf("validate %s stderr lacks %q:\n%s", f, m.severity+": "+m.summary, errs)
			}
			if on := fmt.Sprintf("on %s line %d", f, line); !strings.Contains(errs, on) {
				t.Errorf("validate %s stderr lacks %q:\n%s", f, on, errs)
			}
		}
	}
}

// jsonOut is validate --format json's output.
type jsonOut struct {
	Valid       bool `json:"valid"`
	Errors      int  `json:"error_count"`
	Warnings    int  `json:"warning_count"`
	Diagnostics []struct {
		Severity  string `json:"severity"`
		Summary   string `json:"summary"`
		Detail    string `json:"detail"`
		Filename  string `json:"filename"`
		Line      int    `json:"line"`
		Column    int    `json:"column"`
		EndLine   int    `json:"end_line"`
		EndColumn int    `json:"end_column"`
	} `json:"diagnostics"`
}

// TestValidateJSON: --format json is parsable, puts each diagnostic on its
// marked line with a column, and says valid for the examples.
func TestValidateJSON(t *testing.T) {
	f := "../../pipeline/testdata/errors/references.hcl"
	code, out, errs := runCLI(t, "validate", "--format", "json", f)
	if code != 1 {
		t.Errorf("validate --format json %s = %d, want 1; stderr %s", f, code, errs)
	}
	var got jsonOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json.Unmarshal(validate output) = %v; output:\n%s", err, out)
	}
	want := markers(t, f)
	if got.Valid || got.Errors != len(want) || len(got.Diagnostics) != len(want) {
		t.Errorf("valid %v, %d errors, %d diagnostics; want false, %d, %d", got.Valid, got.Errors, len(got.Diagnostics), len(want), len(want))
	}
	for _, d := range got.Diagnostics {
		if d.Filename != f || want[d.Line] != d.Summary || d.Column < 1 || d.EndLine < d.Line || d.Severity != "error" {
			t.Errorf("diagnostic %+v, want an error in %s on a line marked %q, with a column", d, f, d.Summary)
		}
	}

	code, out, _ = runCLI(t, append([]string{"validate", "--format", "json"}, examples(t)...)...)
	got = jsonOut{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || !got.Valid || len(got.Diagnostics) != 0 {
		t.Errorf("validate --format json examples = %d, %+v (%v); want 0 and valid with no diagnostics", code, got, err)
	}
}

const overlapping = `profile "a" {
  match { vendor_id = "0781" }
  step "wipe" {}
}

profile "b" {
  match { serial = "X*" }
  step "wipe" {}
}
`

// TestValidateStrict: a warning passes, but fails with --strict, which
// says which warnings failed it; JSON then says valid: false.
func TestValidateStrict(t *testing.T) {
	f := filepath.Join(t.TempDir(), "overlap.hcl")
	if err := os.WriteFile(f, []byte(overlapping), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "validate", f)
	if code != 0 || !strings.Contains(out, "1 warning(s)") || !strings.Contains(errs, "Warning: Profiles may overlap") {
		t.Errorf("validate %s = %d, stdout %q, stderr %q; want 0, 1 warning, the warning shown", f, code, out, errs)
	}
	code, _, errs = runCLI(t, "validate", "--strict", f)
	if want := fmt.Sprintf("flashpipe: --strict: failing on 1 warning(s): Profiles may overlap (%s:6)\n", f); code != 1 || !strings.HasSuffix(errs, want) {
		t.Errorf("validate --strict %s = %d, stderr:\n%s\nwant 1, ending in %q", f, code, errs, want)
	}
	code, out, _ = runCLI(t, "validate", "--strict", "--format", "json", f)
	var got jsonOut
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 || got.Warnings != 1 || got.Valid {
		t.Errorf("validate --strict --format json = %d, %+v (%v); want 1, not valid, 1 warning", code, got, err)
	}
	code, out, _ = runCLI(t, "validate", "--format", "json", f)
	got = jsonOut{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || got.Warnings != 1 || !got.Valid {
		t.Errorf("validate --format json = %d, %+v (%v); want 0, valid with 1 warning", code, got, err)
	}
}

// TestValidateVars: --var sets a variable without a default; without it
// validate fails on the variable's line.
func TestValidateVars(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "vars.hcl")
	src := "variable \"event\" {\n  type = string\n}\n\nprofile \"p\" {\n  step \"partition\" {}\n  step \"mkfs\" {\n    type  = \"vfat\"\n    label = upper(var.event)\n  }\n}\n"
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "validate", "--var", "event=fair", f); code != 0 {
		t.Errorf("validate --var event=fair = %d, want 0; stderr:\n%s", code, errs)
	}
	code, _, errs := runCLI(t, "validate", f)
	if code != 1 || !strings.Contains(errs, "Error: No value for required variable") || !strings.Contains(errs, "line 1") {
		t.Errorf("validate without --var = %d, stderr:\n%s\nwant 1 and the missing variable on line 1", code, errs)
	}
	if code, _, _ := runCLI(t, "validate", "--var", "novalue", f); code == 0 {
		t.Errorf("validate --var novalue = 0, want an error")
	}
}

// TestStrictVars: a value for a variable the files do not declare fails
// plan and validate, whether it comes from --var or the environment, and
// the error says which; typed values are read as HCL from both.
func TestStrictVars(t *testing.T) {
	customer := "../../examples/customer.hcl"
	code, _, errs := runCLI(t, "plan", customer, "--var", "custmer=globex")
	if code != 1 || !strings.Contains(errs, `--var sets "custmer", but no variable block declares it. Did you mean "customer"?`) {
		t.Errorf("plan customer.hcl --var custmer=globex = %d, stderr:\n%s\nwant 1 and the undeclared variable", code, errs)
	}
	t.Setenv("FLASHPIPE_VAR_evnt", "fair")
	code, _, errs = runCLI(t, "validate", customer)
	if code != 1 || !strings.Contains(errs, `The environment variable FLASHPIPE_VAR_evnt sets "evnt"`) {
		t.Errorf("FLASHPIPE_VAR_evnt=fair validate customer.hcl = %d, stderr:\n%s\nwant 1 and the undeclared variable", code, errs)
	}

	// The implicit profile of -c declares no variables: --var is refused,
	// the environment is not read.
	dir := t.TempDir()
	if code, _, errs := runCLI(t, "plan", "-c", dir); code != 0 {
		t.Errorf("FLASHPIPE_VAR_evnt=fair plan -c DIR = %d, want 0; stderr:\n%s", code, errs)
	}
	code, _, errs = runCLI(t, "plan", "-c", dir, "--var", "event=fair")
	if code != 2 || !strings.Contains(errs, "the implicit profile of -c or --image declares none") {
		t.Errorf("plan -c DIR --var event=fair = %d, stderr:\n%s\nwant 2 and --var refused", code, errs)
	}
	os.Unsetenv("FLASHPIPE_VAR_evnt")

	f := filepath.Join(dir, "ports.hcl")
	src := "variable \"ports\" {\n  type = list(string)\n}\n\nstation {\n  ports = var.ports\n}\n\nprofile \"p\" {\n  step \"wipe\" {}\n}\n"
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "validate", f, "--var", `ports=["1-1.1","1-1.2"]`); code != 0 {
		t.Errorf(`validate --var 'ports=["1-1.1","1-1.2"]' = %d, want 0; stderr:\n%s`, code, errs)
	}
	t.Setenv("FLASHPIPE_VAR_ports", `["1-1.*"]`)
	if code, _, errs := runCLI(t, "validate", f); code != 0 {
		t.Errorf(`FLASHPIPE_VAR_ports='["1-1.*"]' validate = %d, want 0; stderr:\n%s`, code, errs)
	}
	code, _, errs = runCLI(t, "validate", f, "--var", "ports=1-1.1")
	if code != 1 || !strings.Contains(errs, "--var ports=1-1.1 does not fit the variable's type, list(string)") {
		t.Errorf("validate --var ports=1-1.1 = %d, stderr:\n%s\nwant 1 and the type error", code, errs)
	}
}

// TestPlanEvent: plan shows every profile in routing order and the fused
// write stage.
func TestPlanEvent(t *testing.T) {
	code, out, errs := runCLI(t, "plan", "../../examples/event.hcl")
	if code != 0 {
		t.Fatalf("plan event.hcl = %d, want 0; stderr:\n%s", code, errs)
	}
	order := []string{`profile "press" (priority 20`, `profile "press-desk-port" (priority 15`, `profile "visitors" (priority 10`}
	last := -1
	for _, s := range order {
		i := strings.Index(out, s)
		if i < 0 || i < last {
			t.Errorf("plan output lacks %q after the previous profile:\n%s", s, out)
		}
		last = i
	}
	for _, s := range []string{
		"write   fused: partition + mkfs + copy\n",
		"write   fused: partition + mkfs + copy + label\n",
		`vendor_id = ["0781", "0x058f"]`,
		`size = "~4GB..~64GB" (3.6 GB .. 64.8 GB)`,
		`size = "..~32GB" (<= 32.4 GB)`,
		"exclude **/*.tmp",
		`label format("PRESS%03d", job.seq)`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("plan output lacks %q:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "fused:"); n != 3 {
		t.Errorf("plan output has %d fused stages, want 3:\n%s", n, out)
	}
}

// TestPlanSizes: plan shows a size as written and the bounds it takes, in
// the units it was written in.
func TestPlanSizes(t *testing.T) {
	code, out, errs := runCLI(t, "plan", "../../examples/customer.hcl")
	if code != 0 || !strings.Contains(out, `size = ">= ${var.min_size}" (>= 7.2 GB)`) {
		t.Errorf("plan customer.hcl = %d, stdout:\n%s\nstderr:\n%s\nwant the size resolved to >= 7.2 GB", code, out, errs)
	}
	f := filepath.Join(t.TempDir(), "small.hcl")
	if err := os.WriteFile(f, []byte("profile \"small\" {\n  match { size = \"< 16GiB\" }\n  step \"wipe\" {}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "plan", f)
	if code != 0 || !strings.Contains(out, `match: size = "< 16GiB" (< 16 GiB)`+"\n") {
		t.Errorf("plan (size = \"< 16GiB\") = %d, stdout:\n%s\nstderr:\n%s\nwant the size shown as < 16 GiB", code, out, errs)
	}
}

// TestPlanLegacyFlags: the original tool's flags, -n2 and repeated -c and
// -x included, give the implicit profile.
func TestPlanLegacyFlags(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	code, out, errs := runCLI(t, "plan", "-c", a, "-c", b, "-x", "jpg", "-x", ".tmp", "--label", "X", "-n2")
	if code != 0 {
		t.Fatalf("plan -c -c -x -x --label -n2 = %d, want 0; stderr:\n%s", code, errs)
	}
	for _, s := range []string{
		"concurrency 2",
		`profile "clone"`,
		"match: any stick on an allowed bus",
		"write   fused: partition + mkfs + copy + label",
		a + ", " + b + " exclude **/*.jpg **/*.tmp -> /",
		`label "X"`,
		"mode quick",
		"table mbr",
		"type vfat",
		"verify    sha1",
		"eject",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("plan output lacks %q:\n%s", s, out)
		}
	}
	code, out, errs = runCLI(t, "plan", "-c", a, "--label", `format("EXPO%03d", job.seq)`)
	if code != 0 || !strings.Contains(out, `label format("EXPO%03d", job.seq)`) {
		t.Errorf("plan -c --label expression = %d, stdout:\n%s\nstderr:\n%s\nwant the expression as the label", code, out, errs)
	}
	code, _, errs = runCLI(t, "plan", "-c", a, "--label", `format("%d", job.sq)`)
	if code != 1 || !strings.Contains(errs, "Unknown attribute job.sq") {
		t.Errorf("plan -c --label with a typo = %d, stderr:\n%s\nwant 1 and the unknown attribute", code, errs)
	}
	if code, _, _ := runCLI(t, "plan", "-c", a, "../../examples/station.hcl"); code == 0 {
		t.Errorf("plan -c DIR FILE = 0, want an error (either files or -c)")
	}
	if code, _, _ := runCLI(t, "plan", "-c", a, "-x", "*.jpg"); code == 0 {
		t.Errorf("plan -x '*.jpg' = 0, want an error (an extension, not a glob)")
	}
}

// TestFmt: fmt -check (one dash, as the original tool's users type it, and
// two) exits 1 on an unformatted file and leaves it alone; fmt rewrites it;
// then -check exits 0.
func TestFmt(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ugly.hcl")
	ugly := "profile \"a\" {\nstep \"wipe\" {mode=\"quick\"}\n  step \"partition\" {\n      table   =   \"mbr\"\n  }\n}\n"
	if err := os.WriteFile(f, []byte(ugly), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-check", "--check"} {
		code, out, errs := runCLI(t, "fmt", flag, f)
		if code != 1 || strings.TrimSpace(out) != f {
			t.Errorf("fmt %s (unformatted) = %d, stdout %q, stderr %q; want 1 and the file listed", flag, code, out, errs)
		}
		if got, _ := os.ReadFile(f); string(got) != ugly {
			t.Errorf("fmt %s changed the file to:\n%s", flag, got)
		}
	}
	if code, _, errs := runCLI(t, "fmt", f); code != 0 {
		t.Fatalf("fmt = %d, want 0; stderr %s", code, errs)
	}
	got, _ := os.ReadFile(f)
	want := "profile \"a\" {\n  step \"wipe\" { mode = \"quick\" }\n  step \"partition\" {\n    table = \"mbr\"\n  }\n}\n"
	if string(got) != want {
		t.Errorf("fmt result:\n%s\nwant:\n%s", got, want)
	}
	for _, flag := range []string{"-check", "--check"} {
		if code, out, errs := runCLI(t, "fmt", flag, f); code != 0 || out != "" {
			t.Errorf("fmt %s (formatted) = %d, stdout %q, stderr %q; want 0 and nothing", flag, code, out, errs)
		}
	}
	if code, _, errs := runCLI(t, "fmt", "-check", "../../examples"); code != 0 {
		t.Errorf("fmt -check examples/ = %d, want 0 (the examples are formatted); stderr %s", code, errs)
	}

	broken := filepath.Join(t.TempDir(), "broken.hcl")
	if err := os.WriteFile(broken, []byte("profile \"a\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "fmt", broken); code != 1 || !strings.Contains(errs, "line 1") {
		t.Errorf("fmt on a syntax error = %d, stderr %q; want 1 and the error's line", code, errs)
	}
}

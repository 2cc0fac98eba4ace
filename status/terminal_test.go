package status

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
)

// lineWriter is a goroutine-safe buffer that signals each write.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newLineWriter() *lineWriter { return &lineWriter{wrote: make(chan struct{}, 1)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor blocks until the output contains s; it fails the test after a
// minute, which only a hang reaches.
func (w *lineWriter) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(w.String(), s) {
		select {
		case <-w.wrote:
		case <-deadline:
			t.Fatalf("output never contained %q; got:\n%s", s, w.String())
		}
	}
}

func TestRunTerminalPlainLogsStateChangesOnly(t *testing.T) {
	b := NewBoard()
	b.Update(Row{ID: 1, Port: "1-1.1", Device: "sdb", Serial: "AA01", Profile: "kiosk", State: StateDetected})
	w := newLineWriter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunTerminal(ctx, b, w, false); close(done) }()
	w.waitFor(t, "detected")

	base := Row{ID: 1, Port: "1-1.1", Device: "sdb", Serial: "AA01", Profile: "kiosk", StepCount: 3}
	j := base
	j.State, j.Step, j.StepIndex = StateRunning, "write", 2
	for i := 0; i < 50; i++ {
		j.Done = int64(i)
		b.Update(j)
	}
	j.State, j.Step, j.StepIndex, j.Error = StateFailed, "verify", 3, "sha1 mismatch in /a.txt"
	b.Update(j)
	w.waitFor(t, "sha1 mismatch")
	b.Remove(1)
	w.waitFor(t, "stick pulled")
	cancel()
	<-done

	out := w.String()
	if strings.Contains(out, "\x1b") {
		t.Errorf("RunTerminal(tty=false) output contains an escape code:\n%q", out)
	}
	want := []string{
		"job 1 port 1-1.1 sdb serial AA01 profile kiosk: detected",
		"job 1 port 1-1.1 sdb serial AA01 profile kiosk: running in write (2/3)",
		"job 1 port 1-1.1 sdb serial AA01 profile kiosk: failed in verify (3/3): sha1 mismatch in /a.txt",
		"job 1 port 1-1.1 sdb serial AA01 profile kiosk: idle (stick pulled)",
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("RunTerminal(tty=false) lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRunTerminalTTYDrawsRows(t *testing.T) {
	b := NewBoard()
	b.Update(Row{ID: 1, Port: "1-1.1", Device: "sdb", Serial: "AA01", Profile: "kiosk",
		State: StateRunning, Step: "write", StepIndex: 2, StepCount: 4, Done: 50, Total: 100, Rate: 12.5e6, ETA: 75 * time.Second})
	b.Update(Row{ID: 2, Port: "1-1.2", Device: "sdc", Serial: "BB02", Profile: "kiosk",
		State: StateFailed, Step: "verify", StepIndex: 3, StepCount: 4, Error: "verify failed: 2 files differ"})
	w := newLineWriter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunTerminal(ctx, b, w, true); close(done) }()
	w.waitFor(t, "BB02")
	cancel()
	<-done
	out := w.String()
	for _, want := range []string{
		"\x1b[2K",
		"[########........]  50%",
		"12.5",
		"1:15",
		"2/4 write",
		"failed: verify failed: 2 files differ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("RunTerminal(tty=true) output lacks %q; got:\n%q", want, out)
		}
	}
	// The final frame (drawn on cancel) moves up over the previous one.
	if !strings.Contains(out, "\x1b[3A") {
		t.Errorf("RunTerminal(tty=true) output lacks a cursor-up over 3 lines; got:\n%q", out)
	}
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		j    Row
		want string
	}{
		{Row{State: StateRunning}, "[..........]   0%"},
		{Row{State: StateRunning, Done: 1, Total: 4}, "[###.......]  25%"},
		{Row{State: StateRunning, Done: 9, Total: 4}, "[##########] 100%"},
		{Row{State: StateVerified}, "[##########] 100%"},
		{Row{State: StateFailed, Done: 4, Total: 4}, "                 "},
		{Row{State: StateRemoved, Done: 1, Total: 4}, "                 "},
	} {
		if got := progressBar(tc.j, 10); got != tc.want {
			t.Errorf("progressBar(done %d total %d %s) = %q, want %q", tc.j.Done, tc.j.Total, tc.j.State, got, tc.want)
		}
	}
}

// TestTableRowFailedAndPlanning: a stick that failed shows its failing
// step and the error, not the progress bar of its last progress report
// (here the content's hashing, complete: a full bar read as "written"); a
// stick still planning, before its first stage, shows the step without a
// stage number.
func TestTableRowFailedAndPlanning(t *testing.T) {
	failed := Row{ID: 1, Port: "demo-3", Device: "stick3.img", Profile: "fat32", State: StateFailed,
		Step: "write", StepIndex: 2, StepCount: 4, Done: 5e6, Total: 5e6, Error: "nothing written: content does not fit"}
	row := TableLines([]Row{failed})[1]
	for _, bad := range []string{"100%", "[#"} {
		if strings.Contains(row, bad) {
			t.Errorf("row of a failed stick = %q, want no progress bar (%q)", row, bad)
		}
	}
	for _, want := range []string{"2/4 write", "failed: nothing written"} {
		if !strings.Contains(row, want) {
			t.Errorf("row of a failed stick = %q, want it to contain %q", row, want)
		}
	}
	planning := Row{ID: 2, Port: "demo-1", Profile: "fat32", State: StateRunning, Step: "plan", StepCount: 4, Done: 1, Total: 4}
	row = TableLines([]Row{planning})[1]
	if strings.Contains(row, "0/4") || !strings.Contains(row, " plan ") || !strings.Contains(row, "25%") {
		t.Errorf("row of a planning stick = %q, want step \"plan\" without 0/4, and its progress", row)
	}
	if line := LogLine(planning); !strings.HasSuffix(line, "running in plan") {
		t.Errorf("LogLine(planning) = %q, want it to end in \"running in plan\"", line)
	}
}

// The real-terminal test runs this test binary inside tmux, in a helper mode
// that draws the live table while jobs move, then reads the rendered screen.
const helperEnv = "FLASHPIPE_STATUS_TTY_HELPER"

func helperMode() bool { return os.Getenv(helperEnv) != "" }

func runTTYHelper() {
	b := NewBoard()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunTerminal(ctx, b, os.Stdout, true); close(done) }()
	for _, p := range []string{"1-1.1", "1-1.2", "1-1.3"} {
		b.Update(Row{ID: len(p) + int(p[4]), Port: p, Device: "sd" + p[4:], Serial: "SER" + p[4:], Profile: "kiosk", State: StateDetected})
	}
	for i := 0; i <= 10; i++ {
		for k, j := range b.Snapshot() {
			j.State, j.Step, j.StepIndex, j.StepCount = StateRunning, "write", 2, 3
			j.Done, j.Total, j.Rate = int64(i*(k+1)), 10*int64(k+1), 20e6
			b.Update(j)
		}
		time.Sleep(RedrawInterval / 2) // let frames interleave with updates
	}
	for _, j := range b.Snapshot() {
		j.State, j.Done = StateVerified, j.Total
		if j.Port == "1-1.2" {
			j.State, j.Error = StateFailed, "removed during write"
		}
		b.Update(j)
	}
	time.Sleep(RedrawInterval * 2)
	cancel()
	<-done
	os.WriteFile(os.Getenv(helperEnv), []byte("done"), 0o644)
}

func TestRunTerminalInRealTerminal(t *testing.T) {
	tmux := testreq.Tool(t, "tmux") // the real terminal for this test
	dir := t.TempDir()
	marker := filepath.Join(dir, "done")
	sock := filepath.Join(dir, "tmux.sock")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := fmt.Sprintf("env %s=%s %s; sleep 600", helperEnv, marker, self)
	run := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "30", cmd)
	defer exec.Command(tmux, "-S", sock, "kill-server").Run()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper never finished; screen:\n%s", run("capture-pane", "-p"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	screen := run("capture-pane", "-p")
	if n := strings.Count(screen, "PORT"); n != 1 {
		t.Errorf("rendered screen shows the header %d times, want 1 (table redrawn in place):\n%s", n, screen)
	}
	for _, want := range []string{"SER1", "SER2", "SER3", "verified", "failed: removed during write", "100%"} {
		if !strings.Contains(screen, want) {
			t.Errorf("rendered screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "running") {
		t.Errorf("rendered screen still shows a running row after all jobs ended:\n%s", screen)
	}
}

// TestUnverifiedNeverReadsAsDone checks the plain log line and the table row
// of a job whose profile wrote without verifying.
func TestUnverifiedNeverReadsAsDone(t *testing.T) {
	j := Row{ID: 4, Port: "1-1.2", Device: "sdc", Profile: "fast", State: StateUnverified, BytesWritten: 6.6e6,
		Step: "write", StepIndex: 1, StepCount: 1}
	line := LogLine(j)
	if want := "job 4 port 1-1.2 sdc profile fast: unverified (6.6 MB written, not read back: the profile has no verify step)"; line != want {
		t.Errorf("LogLine(unverified) = %q, want %q", line, want)
	}
	row := tableRow(j)
	if !strings.Contains(row, "unverified: written, not read back") || strings.Contains(row, " verified") {
		t.Errorf("tableRow(unverified) = %q, want the result unverified: written, not read back", row)
	}
	if !StateUnverified.Terminal() || StateUnverified.Active() {
		t.Errorf("StateUnverified: Terminal %v Active %v, want true and false", StateUnverified.Terminal(), StateUnverified.Active())
	}
}

// TestLogLineNote: a finished job's note (what its last stage told the
// operator) ends its log line.
func TestLogLineNote(t *testing.T) {
	j := Row{ID: 2, Device: "sdc", Profile: "kiosk", State: StateVerified, BytesWritten: 1e6, BytesVerified: 1e6, Note: "ejected: safe to pull"}
	if got, want := LogLine(j), "job 2 sdc profile kiosk: verified (1.0 MB written, 1.0 MB verified) · ejected: safe to pull"; got != want {
		t.Errorf("LogLine = %q, want %q", got, want)
	}
}

// TestControlCharactersEscaped: text from outside the station (a content
// file's name in an error, a stick's USB strings) reaches the plain log
// line and the live table escaped: no control character reaches the
// terminal, and the operator still sees what it was.
func TestControlCharactersEscaped(t *testing.T) {
	const evil = "evil\x1b]0;PWNED\x07\x1b[2J.txt"
	j := Row{ID: 3, Device: "sdb\x1b[1A", Port: "1-1.4", Serial: "SER\x1b[2J", VendorID: "0781", ProductID: "5567",
		Profile: "kiosk", State: StateFailed, Step: "write", StepIndex: 2, StepCount: 4,
		Error: "source file /" + evil + ": cannot open", Note: "note\x07"}
	for name, out := range map[string]string{"LogLine": LogLine(j), "TableLines": strings.Join(TableLines([]Row{j}), "\n")} {
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s = %q: holds a control character", name, out)
		}
		if !strings.Contains(out, `SER\x1b[2J`) {
			t.Errorf("%s = %q: want the serial shown escaped", name, out)
		}
	}
	if line := LogLine(j); !strings.Contains(line, `evil\x1b]0;PWNED\a\x1b[2J.txt`) {
		t.Errorf("LogLine = %q, want the file name shown escaped", line)
	}
}

// TestRunTerminalShowsAlerts: the plain log writes a line when an alert
// appears and when it is resolved; the table shows it above the jobs.
func TestRunTerminalShowsAlerts(t *testing.T) {
	b := NewBoard()
	w := newLineWriter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunTerminal(ctx, b, w, false); close(done) }()
	b.SetAlert(Alert{Key: AlertReceipts, Message: "Receipts cannot be written to /r.jsonl: no space left on device."})
	w.waitFor(t, "station: receipts: Receipts cannot be written to /r.jsonl: no space left on device.")
	b.ClearAlert(AlertReceipts)
	w.waitFor(t, "station: receipts: resolved")
	cancel()
	<-done

	b.SetAlert(Alert{Key: AlertReceipts, Message: "no space"})
	w = newLineWriter()
	drawTable(w, func() []Alert { a, _ := b.Alerts(); return a }(), nil, 0)
	if out := w.String(); !strings.Contains(out, "!! station: receipts: no space") || strings.Index(out, "!!") > strings.Index(out, "PORT") {
		t.Errorf("drawTable with an alert = %q, want the alert above the table", out)
	}
}

package station

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/status"
	"github.com/hashicorp/go-hclog"
)

// TestLogEscapesControlCharacters: the station's log names a job by its
// target and repeats its stages' notes; an image file's name and a note
// holding terminal control sequences reach the log escaped, and so does
// the board's log line.
func TestLogEscapesControlCharacters(t *testing.T) {
	const evil = "evil\x1b]0;PWNED\x07\x1b[2J"
	cfg := loadTestKinds(t, `profile "p" {
  step "note" { text = "see `+strings.NewReplacer("\x1b", `\u001b`, "\x07", `\u0007`).Replace(evil)+`" }
}
`)
	dir := t.TempDir()
	img := filepath.Join(dir, evil+".img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	board := status.NewBoard()
	st := New(Options{Config: cfg, Receipts: filepath.Join(dir, "r.jsonl"), Board: board,
		Log: hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &logs}})})
	rc := st.Flash(context.Background(), []Target{{Profile: cfg.Profiles[0], Path: img}})[0]
	if rc.Result != "unverified" {
		t.Fatalf("receipt = %+v, want unverified (the note stage writes nothing)", rc)
	}
	out := logs.String()
	for _, j := range board.Snapshot() {
		out += status.LogLine(j) + "\n"
	}
	if strings.ContainsAny(out, "\x1b\x07") || strings.Count(out, `evil\x1b]0;PWNED\a\x1b[2J`) < 3 {
		t.Errorf("log = %q, want the image's name and the note shown escaped, and no control character", out)
	}
}

package status

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/units"
)

// RedrawInterval is how often the TTY table is redrawn.
const RedrawInterval = 250 * time.Millisecond

// RunTerminal shows the board on w until ctx is done.
//
// With tty set, it keeps a table redrawn in place about four times a second
// (ANSI cursor movement; one row per job: port, device, serial, profile,
// step i/n, progress bar, MB/s, ETA, result or error). Without a TTY it writes
// one plain log line per state change and no escape codes, which suits
// journald and files.
func RunTerminal(ctx context.Context, b *Board, w io.Writer, tty bool) {
	if tty {
		runTable(ctx, b, w)
		return
	}
	runLog(ctx, b, w)
}

func runLog(ctx context.Context, b *Board, w io.Writer) {
	ch, cancel := b.Subscribe()
	defer cancel()
	last := map[int]State{}
	for _, j := range b.Snapshot() {
		last[j.ID] = j.State
		fmt.Fprintln(w, LogLine(j))
	}
	shown := map[string]string{}
	alerted := logAlerts(w, b, shown)
	for {
		select {
		case <-ctx.Done():
			return
		case <-alerted:
			alerted = logAlerts(w, b, shown)
		case j := <-ch:
			if last[j.ID] == j.State {
				continue
			}
			if j.State == StateIdle {
				delete(last, j.ID)
			} else {
				last[j.ID] = j.State
			}
			fmt.Fprintln(w, LogLine(j))
		}
	}
}

// logAlerts writes a line for each alert that is new or changed since
// shown, and one for each that was cleared, and returns the channel that
// says when they change next.
func logAlerts(w io.Writer, b *Board, shown map[string]string) <-chan struct{} {
	alerts, next := b.Alerts()
	now := map[string]bool{}
	for _, a := range alerts {
		now[a.Key] = true
		if shown[a.Key] != a.Message {
			shown[a.Key] = a.Message
			fmt.Fprintln(w, AlertLine(a))
		}
	}
	for key := range shown {
		if !now[key] {
			delete(shown, key)
			fmt.Fprintf(w, "station: %s: resolved\n", printable.String(key))
		}
	}
	return next
}

// AlertLine renders a as one plain line, for example
//
//	station: receipts: Receipts cannot be written to … No new sticks are taken …
func AlertLine(a Alert) string {
	return fmt.Sprintf("station: %s: %s", printable.String(a.Key), printable.String(a.Message))
}

// LogLine renders j as one plain line for logs, for example
//
//	job 7 port 1-1.4 sdb serial AA01 profile kiosk: failed in verify (3/4): sha1 mismatch
//
// Text from outside the station (serials, file names in errors) is
// escaped (printable.String): a line never holds a control character.
func LogLine(j Row) string {
	j = j.printable()
	var sb strings.Builder
	fmt.Fprintf(&sb, "job %d", j.ID)
	if j.Port != "" {
		fmt.Fprintf(&sb, " port %s", j.Port)
	}
	fmt.Fprintf(&sb, " %s", orDash(j.Device))
	if j.Serial != "" {
		fmt.Fprintf(&sb, " serial %s", j.Serial)
	}
	if j.Profile != "" {
		fmt.Fprintf(&sb, " profile %s", j.Profile)
	}
	fmt.Fprintf(&sb, ": %s", j.State)
	switch j.State {
	case StateRunning, StateFailed, StateRemoved, StateInterrupted:
		if j.Step != "" {
			fmt.Fprintf(&sb, " in %s", j.Step)
			if j.StepIndex > 0 && j.StepCount > 0 {
				fmt.Fprintf(&sb, " (%d/%d)", j.StepIndex, j.StepCount)
			}
		}
	case StateVerified:
		fmt.Fprintf(&sb, " (%s written, %s verified", units.Bytes(j.BytesWritten), units.Bytes(j.BytesVerified))
		if !j.Started.IsZero() && j.Updated.After(j.Started) {
			fmt.Fprintf(&sb, ", %s", j.Updated.Sub(j.Started).Round(time.Second))
		}
		sb.WriteString(")")
	case StateUnverified:
		fmt.Fprintf(&sb, " (%s written, not read back: the profile has no verify step", units.Bytes(j.BytesWritten))
		if !j.Started.IsZero() && j.Updated.After(j.Started) {
			fmt.Fprintf(&sb, ", %s", j.Updated.Sub(j.Started).Round(time.Second))
		}
		sb.WriteString(")")
	case StateIdle:
		sb.WriteString(" (stick pulled)")
	}
	if j.Error != "" && j.State != StateIdle {
		fmt.Fprintf(&sb, ": %s", j.Error)
	}
	if j.Note != "" && j.State.Terminal() {
		fmt.Fprintf(&sb, " · %s", j.Note)
	}
	return sb.String()
}

// printable returns j with every text field a person reads escaped
// (printable.String).
func (j Row) printable() Row {
	for _, f := range []*string{&j.Device, &j.Port, &j.Serial, &j.VendorID, &j.ProductID, &j.Profile, &j.Step, &j.Error, &j.Note} {
		*f = printable.String(*f)
	}
	return j
}

func runTable(ctx context.Context, b *Board, w io.Writer) {
	t := time.NewTicker(RedrawInterval)
	defer t.Stop()
	drawn := 0
	for {
		alerts, _ := b.Alerts()
		drawn = drawTable(w, alerts, b.Snapshot(), drawn)
		select {
		case <-ctx.Done():
			alerts, _ = b.Alerts()
			drawTable(w, alerts, b.Snapshot(), drawn)
			return
		case <-t.C:
		}
	}
}

// drawTable moves the cursor up over the prev lines drawn last time, writes
// the station's alerts and the table over them in one write, clears
// anything left below, and returns how many lines it drew.
func drawTable(w io.Writer, alerts []Alert, jobs []Row, prev int) int {
	var sb strings.Builder
	if prev > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA\r", prev)
	}
	var lines []string
	for _, a := range alerts {
		lines = append(lines, "!! "+AlertLine(a))
	}
	lines = append(lines, TableLines(jobs)...)
	width := termWidth(w)
	for _, l := range lines {
		sb.WriteString("\x1b[2K")
		sb.WriteString(clip(l, width))
		sb.WriteString("\n")
	}
	sb.WriteString("\x1b[J") // erase rows of jobs that went away
	io.WriteString(w, sb.String())
	return len(lines)
}

// TableLines renders the jobs as the rows of the live table, header first,
// without escape codes.
func TableLines(jobs []Row) []string {
	lines := []string{fmt.Sprintf("%-9s %-6s %-20s %-12s %-12s %-22s %8s %6s  %s",
		"PORT", "DEV", "SERIAL", "PROFILE", "STEP", "PROGRESS", "MB/s", "ETA", "RESULT")}
	if len(jobs) == 0 {
		lines = append(lines, "(no sticks)")
	}
	for _, j := range jobs {
		lines = append(lines, tableRow(j))
	}
	return lines
}

func tableRow(j Row) string {
	j = j.printable()
	step := j.Step // before the first stage (planning): no number
	if j.StepIndex > 0 && j.StepCount > 0 {
		step = fmt.Sprintf("%d/%d %s", j.StepIndex, j.StepCount, j.Step)
	}
	rate, eta := "", ""
	if j.State == StateRunning {
		if j.Rate > 0 {
			rate = fmt.Sprintf("%.1f", j.Rate/1e6)
		}
		if j.ETA > 0 {
			eta = shortDuration(j.ETA)
		}
	}
	result := string(j.State)
	if j.State == StateUnverified {
		result += ": written, not read back"
	}
	if j.Error != "" {
		result += ": " + j.Error
	}
	return fmt.Sprintf("%-9s %-6s %-20s %-12s %-12s %-22s %8s %6s  %s",
		cut(orDash(j.Port), 9), cut(orDash(j.Device), 6), cut(orDash(j.Serial), 20),
		cut(orDash(j.Profile), 12), cut(step, 12), progressBar(j, 16), rate, eta, cut(result, 60))
}

// progressBar draws "[#####.....]  42%" with width cells inside the
// brackets: the running step's progress, or full for a verified stick.
// Other states have no bar: a failed stick's last progress report (often
// a completed one, such as the content's hashing) says nothing of how it
// ended; its step and error do.
func progressBar(j Row, width int) string {
	frac := 0.0
	switch {
	case j.State == StateVerified || j.State == StateUnverified:
		frac = 1 // every stage ran to its end
	case j.State != StateRunning:
		return strings.Repeat(" ", width+7)
	case j.Total > 0:
		frac = float64(j.Done) / float64(j.Total)
	}
	frac = min(max(frac, 0), 1)
	n := int(frac*float64(width) + 0.5)
	return fmt.Sprintf("[%s%s]%4d%%", strings.Repeat("#", n), strings.Repeat(".", width-n), int(frac*100))
}

func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= time.Hour {
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// termWidth returns the width of the terminal w writes to, or 0 when it
// cannot tell.
func termWidth(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// clip cuts a line to width runes (0: no limit), so that no row wraps: a
// wrapped row would throw off the cursor movement of the next redraw.
func clip(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) < width {
		return s
	}
	r := []rune(s)
	return string(r[:width-2]) + "…"
}

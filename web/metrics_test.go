package web

import (
	"fmt"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/google/go-cmp/cmp"
)

// parseExposition parses the Prometheus text format strictly enough for our
// output: every sample's family must have a # TYPE line before it. It returns
// series (name plus labels, as written) → value, and family → type.
func parseExposition(t *testing.T, text string) (map[string]float64, map[string]string) {
	t.Helper()
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)
	series := map[string]float64{}
	types := map[string]string{}
	helps := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if f, ok := strings.CutPrefix(line, "# HELP "); ok {
			helps[strings.Fields(f)[0]] = true
			continue
		}
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			parts := strings.Fields(f)
			if len(parts) != 2 {
				t.Fatalf("line %d: bad TYPE line %q", i+1, line)
			}
			types[parts[0]] = parts[1]
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: not a sample: %q", i+1, line)
		}
		family := m[1]
		if types[family] == "" {
			family = regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(family, "")
		}
		if types[family] == "" || !helps[family] {
			t.Errorf("line %d: sample %q before its # HELP and # TYPE", i+1, line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("line %d: value %q: %v", i+1, m[3], err)
		}
		if _, dup := series[m[1]+m[2]]; dup {
			t.Errorf("line %d: duplicate series %s%s", i+1, m[1], m[2])
		}
		series[m[1]+m[2]] = v
	}
	return series, types
}

func feedJobs(b *status.Board) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	// Two good kiosk sticks: 100 MB in 10 s (10 MB/s) and 100 MB in 4 s (25 MB/s).
	for i, secs := range []int{10, 4} {
		j := status.Row{ID: i + 1, Port: fmt.Sprint("1-1.", i+1), Profile: "kiosk", State: status.StateRunning, Started: t0}
		for w := int64(0); w <= 100e6; w += 25e6 {
			j.BytesWritten, j.Updated = w, t0.Add(time.Second)
			b.Update(j)
		}
		j.BytesVerified = 100e6
		j.State, j.Updated = status.StateVerified, t0.Add(time.Duration(secs)*time.Second)
		b.Update(j)
		b.Update(j) // the same terminal update again is not a second stick
	}
	// A stick that failed its verify step, one pulled mid-write, one still running.
	b.Update(status.Row{ID: 3, Profile: "kiosk", State: status.StateFailed, Step: "verify", VerifyFailed: true, BytesWritten: 5e6, BytesVerified: 1e6})
	// A failure in a stage named verify that never compared anything (the
	// stick could not be opened) is not a verify failure.
	b.Update(status.Row{ID: 8, Profile: "kiosk", State: status.StateFailed, Step: "verify"})
	b.Update(status.Row{ID: 4, Profile: `odd "name"\`, State: status.StateRemoved, Step: "write", BytesWritten: 1e6})
	b.Update(status.Row{ID: 5, Profile: "kiosk", State: status.StateRunning, BytesWritten: 3e6})
	b.Update(status.Row{ID: 6, State: status.StateIgnored})
	// A profile without a verify step: written, counted apart from done.
	b.Update(status.Row{ID: 7, Profile: "kiosk", State: status.StateUnverified, BytesWritten: 2e6, Started: t0, Updated: t0.Add(time.Second)})
	// A job the last station left unfinished: its stick is not plugged in
	// any more, so its row comes and goes at once.
	b.Update(status.Row{ID: 9, Profile: "kiosk", State: status.StateInterrupted, Step: "write"})
	b.Remove(9)
	b.Remove(1) // pulled after finishing: counts stay
}

// scrape returns what m's handler serves to a plain GET /metrics.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// flashpipeOnly keeps the flashpipe_* entries of a map of series or types.
func flashpipeOnly[V any](m map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range m {
		if strings.HasPrefix(k, "flashpipe_") {
			out[k] = v
		}
	}
	return out
}

func TestMetricsExposition(t *testing.T) {
	b := status.NewBoard()
	m := NewMetrics(b)
	m.UeventsDropped = func() uint64 { return 3 }
	m.UeventOverflows = func() uint64 { return 4 }
	m.GuardRefusals = func() map[matchers.RefusalKind]uint64 {
		return map[matchers.RefusalKind]uint64{matchers.RefusedReadOnly: 2, matchers.RefusedMounted: 1}
	}
	feedJobs(b)
	text := scrape(t, m)
	all, allTypes := parseExposition(t, text)
	series, types := flashpipeOnly(all), flashpipeOnly(allTypes)

	wantTypes := map[string]string{
		"flashpipe_sticks_total": "counter", "flashpipe_bytes_written_total": "counter",
		"flashpipe_bytes_verified_total": "counter", "flashpipe_verify_failures_total": "counter",
		"flashpipe_active_jobs": "gauge", "flashpipe_job_throughput_bytes_per_second": "histogram",
		"flashpipe_uevents_dropped_total": "counter", "flashpipe_receipts_writable": "gauge",
		"flashpipe_uevent_overflows_total": "counter",
		"flashpipe_guard_refusals_total":   "counter",
	}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("metric types (-want +got):\n%s", diff)
	}
	h := "flashpipe_job_throughput_bytes_per_second"
	want := map[string]float64{
		`flashpipe_receipts_writable`:      1,
		`flashpipe_bytes_written_total`:    211e6,
		`flashpipe_bytes_verified_total`:   201e6,
		`flashpipe_verify_failures_total`:  1,
		`flashpipe_active_jobs`:            1,
		`flashpipe_uevents_dropped_total`:  3,
		`flashpipe_uevent_overflows_total`: 4,
		h + `_bucket{le="1e+06"}`:          0,
		h + `_bucket{le="2e+06"}`:          0,
		h + `_bucket{le="5e+06"}`:          0,
		h + `_bucket{le="1e+07"}`:          1, // 10 MB/s: le is inclusive
		h + `_bucket{le="2e+07"}`:          1,
		h + `_bucket{le="5e+07"}`:          2,
		h + `_bucket{le="1e+08"}`:          2,
		h + `_bucket{le="2e+08"}`:          2,
		h + `_bucket{le="5e+08"}`:          2,
		h + `_bucket{le="+Inf"}`:           2,
		h + `_sum`:                         35e6,
		h + `_count`:                       2,
	}
	// Every result of a profile that ended a job has a series, from zero.
	sticks := map[[2]string]float64{{"kiosk", "done"}: 2, {"kiosk", "failed"}: 2, {"kiosk", "unverified"}: 1, {"kiosk", "interrupted"}: 1,
		{`odd \"name\"\\`, "removed"}: 1}
	for _, p := range []string{"kiosk", `odd \"name\"\\`} {
		for _, r := range receipts.Results() {
			want[fmt.Sprintf(`flashpipe_sticks_total{profile="%s",result="%s"}`, p, r)] = sticks[[2]string{p, string(r)}]
		}
	}
	// Every kind of refusal has a series, from zero.
	for _, k := range matchers.RefusalKinds() {
		want[fmt.Sprintf(`flashpipe_guard_refusals_total{reason="%s"}`, k)] = map[matchers.RefusalKind]float64{matchers.RefusedReadOnly: 2, matchers.RefusedMounted: 1}[k]
	}
	if diff := cmp.Diff(want, series); diff != "" {
		t.Errorf("metrics after feedJobs (-want +got):\n%s\ntext:\n%s", diff, text)
	}
	// The standard collectors: the process's and the Go runtime's.
	for _, name := range []string{"process_open_fds", "process_resident_memory_bytes", "process_start_time_seconds", "go_goroutines", "go_memstats_heap_alloc_bytes"} {
		if all[name] <= 0 {
			t.Errorf("%s = %v, want a positive value (the standard collectors)", name, all[name])
		}
	}
}

// promtool (Debian package prometheus) is Prometheus's own linter for the
// exposition format.
func TestMetricsPromtool(t *testing.T) {
	promtool := testreq.Tool(t, "promtool") // Prometheus's linter for the /metrics text
	b := status.NewBoard()
	m := NewMetrics(b)
	m.UeventsDropped = func() uint64 { return 3 }
	feedJobs(b)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, m))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsReceiptsWritable: the gauge is 0 while the board shows that
// receipts cannot be written, and 1 again once that is resolved.
func TestMetricsReceiptsWritable(t *testing.T) {
	b := status.NewBoard()
	m := NewMetrics(b)
	value := func() float64 {
		series, _ := parseExposition(t, scrape(t, m))
		return series["flashpipe_receipts_writable"]
	}
	if v := value(); v != 1 {
		t.Errorf("flashpipe_receipts_writable = %v, want 1", v)
	}
	b.SetAlert(status.Alert{Key: status.AlertReceipts, Message: "no space"})
	if v := value(); v != 0 {
		t.Errorf("flashpipe_receipts_writable with the receipts alert = %v, want 0", v)
	}
	b.ClearAlert(status.AlertReceipts)
	if v := value(); v != 1 {
		t.Errorf("flashpipe_receipts_writable after the alert cleared = %v, want 1", v)
	}
}

// TestMetricsFindings: a job's findings count once when it ends, whether
// it failed or not; a profile's series of each known finding start at
// zero with its first job, and a finding not known in advance still counts.
func TestMetricsFindings(t *testing.T) {
	b := status.NewBoard()
	m := NewMetrics(b)
	m.Findings = []string{"fake"}
	shrunk := status.Row{ID: 1, Profile: "kiosk", State: status.StateRunning, Step: "copy", Findings: []string{"fake"}}
	b.Update(shrunk) // not counted before the job ends
	shrunk.State = status.StateVerified
	b.Update(shrunk)
	b.Update(shrunk) // the same terminal update again is not a second stick
	b.Update(status.Row{ID: 2, Profile: "kiosk", State: status.StateFailed, Step: "probe", Findings: []string{"fake"}})
	b.Update(status.Row{ID: 3, Profile: "plain", State: status.StateVerified})
	b.Update(status.Row{ID: 4, Profile: "kiosk", State: status.StateFailed, Findings: []string{"worn", "worn"}})
	series, _ := parseExposition(t, scrape(t, m))
	got := map[string]float64{}
	for k, v := range series {
		if strings.HasPrefix(k, "flashpipe_stick_findings_total") {
			got[k] = v
		}
	}
	want := map[string]float64{
		`flashpipe_stick_findings_total{finding="fake",profile="kiosk"}`: 2,
		`flashpipe_stick_findings_total{finding="fake",profile="plain"}`: 0,
		`flashpipe_stick_findings_total{finding="worn",profile="kiosk"}`: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flashpipe_stick_findings_total (-want +got):\n%s", diff)
	}
}

package report

import (
	"bytes"
	"encoding/csv"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/receipts"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixture reads testdata/receipts.jsonl: nine receipts over two days and a
// torn last line, as a crash mid-append leaves it.
func fixture(t *testing.T) []receipts.Receipt {
	t.Helper()
	f, err := os.Open("testdata/receipts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, bad, err := receipts.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 9 || bad != 1 {
		t.Fatalf("receipts.Read(fixture) = %d receipts, %d bad, want 9 and 1 (the torn last line)", len(rs), bad)
	}
	return rs
}

type counts struct{ Jobs, Done, Failed, Removed int }

func countsOf(t Totals) counts { return counts{t.Jobs, t.Done, t.Failed, t.Removed} }

func near(a, b float64) bool { return math.Abs(a-b) < 1 } // bytes/s

func TestSummarize(t *testing.T) {
	s := Summarize(fixture(t))
	if got, want := countsOf(s.All), (counts{9, 3, 5, 1}); got != want {
		t.Errorf("Summarize(fixture).All = %+v, want %+v", got, want)
	}
	// Done jobs: 400 MB in 40 s, 20 s and 30 s: 10, 20 and 13.33 MB/s.
	if !near(s.All.MeanThroughput, (10e6+20e6+400e6/30)/3) || !near(s.All.MedianThroughput, 400e6/30) {
		t.Errorf("Summarize(fixture).All throughput mean %.0f median %.0f, want %.0f and %.0f",
			s.All.MeanThroughput, s.All.MedianThroughput, (10e6+20e6+400e6/30)/3, 400e6/30)
	}
	if s.All.BytesWritten != 1710e6 || s.All.BytesVerified != 1350e6 {
		t.Errorf("Summarize(fixture).All bytes = %d written %d verified, want 1710e6 and 1350e6", s.All.BytesWritten, s.All.BytesVerified)
	}
	byKey := func(gs []Group) map[string]counts {
		m := map[string]counts{}
		for _, g := range gs {
			m[g.Key] = countsOf(g.Totals)
		}
		return m
	}
	wantProfiles := map[string]counts{"": {1, 0, 1, 0}, "kiosk": {4, 3, 1, 0}, "manuals": {4, 0, 3, 1}}
	if diff := cmp.Diff(wantProfiles, byKey(s.Profiles)); diff != "" {
		t.Errorf("Summarize(fixture).Profiles (-want +got):\n%s", diff)
	}
	wantDays := map[string]counts{"2026-11-20": {3, 2, 1, 0}, "2026-11-21": {6, 1, 4, 1}}
	if diff := cmp.Diff(wantDays, byKey(s.Days)); diff != "" {
		t.Errorf("Summarize(fixture).Days (-want +got):\n%s", diff)
	}
	if d := s.Days[0]; !near(d.MedianThroughput, 15e6) {
		t.Errorf("median throughput on %s = %.0f, want 15e6 (mean of 10e6 and 20e6, an even count)", d.Key, d.MedianThroughput)
	}
	if len(s.Failures) != 6 || s.Failures[0].Job != 3 || s.Failures[5].Job != 9 {
		t.Errorf("Summarize(fixture).Failures = %d, jobs %d..%d, want 6, jobs 3..9 in time order", len(s.Failures), s.Failures[0].Job, s.Failures[len(s.Failures)-1].Job)
	}
	if got := s.Failures[4].Error; got != "verify: differs: 1 file (first: /doc/x.pdf)" {
		t.Errorf("failure of job 8 (no error text, verify not ok) = %q, want the verify summary", got)
	}
	wantTop := Reason{Result: "failed", Step: "write", Reason: "write sdX at offset N: input/output error", Count: 2}
	if s.Reasons[0] != wantTop || len(s.Reasons) != 5 {
		t.Errorf("Summarize(fixture).Reasons[0] = %+v of %d, want %+v of 5", s.Reasons[0], len(s.Reasons), wantTop)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	s := Summarize(nil)
	var buf bytes.Buffer
	if err := WriteText(&buf, s); err != nil || buf.String() != "flashpipe report: no receipts\n" {
		t.Errorf("WriteText(Summarize(nil)) = %q, %v, want the no-receipts line", buf.String(), err)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"write /dev/sdb at offset 4096: input/output error": "write sdX at offset N: input/output error",
		"refused: sdf1 is mounted at /media/usb0":           "refused: sdX is mounted at PATH",
		"sha1 0a1b2c3d4e5f6a7b of /a b.txt":                 "sha1 HEX of PATH b.txt",
		"stick too small: 3.9 GB < 8 GB":                    "stick too small: N GB < N GB",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindSerial(t *testing.T) {
	rs := fixture(t)
	var jobs []int
	for _, r := range FindSerial(rs, "aa01") {
		jobs = append(jobs, r.Job)
	}
	if diff := cmp.Diff([]int{1, 4}, jobs); diff != "" {
		t.Errorf("FindSerial(fixture, aa01) jobs (-want +got):\n%s", diff)
	}
	if got := FindSerial(rs, ""); len(got) != 0 {
		t.Errorf("FindSerial(fixture, \"\") = %d receipts, want none", len(got))
	}
}

func TestWriteCSV(t *testing.T) {
	rs := fixture(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll() // also checks every row has as many fields as the header
	if err != nil {
		t.Fatalf("csv.ReadAll(WriteCSV(fixture)): %v", err)
	}
	if len(rows) != 10 {
		t.Fatalf("WriteCSV(fixture) wrote %d rows, want 10 (header + 9)", len(rows))
	}
	if diff := cmp.Diff(CSVHeader, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	row := map[string]string{}
	for i, h := range rows[3] { // job 3
		row[h] = rows[3][i]
		row[rows[0][i]] = rows[3][i]
	}
	for col, want := range map[string]string{
		"time": "2026-11-20T09:02:00+01:00", "duration_s": "50.000", "job": "3", "profile": "kiosk",
		"result": "failed", "failed_step": "verify", "error": "verify: 2 files differ (first: /media/a.mp4)",
		"serial": "AA03", "port": "1-1.3", "diskseq": "43", "bytes_written": "400000000",
		"verify_ok": "false", "verify_failed_files": "/media/a.mp4 /media/b.mp4", "throughput_mb_s": "8.00",
	} {
		if row[col] != want {
			t.Errorf("CSV row of job 3: %s = %q, want %q", col, row[col], want)
		}
	}
}

// TestWriteTextGolden compares the text report with testdata/report.golden,
// which was read by eye. Run with -update to rewrite it after a deliberate
// change.
func TestWriteTextGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, Summarize(fixture(t))); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(buf.String(), "\n")); diff != "" {
		t.Errorf("WriteText(fixture) (-want +got):\n%s", diff)
	}
}

// TestSummarizeUnverified checks that a job written without a verify step
// is counted apart: neither done nor a failure, listed in its own section
// of the text report and named in the CSV.
func TestSummarizeUnverified(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	rs := []receipts.Receipt{
		{Time: t0.Add(time.Minute), Started: t0, Job: 1, Profile: "kiosk", Result: receipts.ResultDone, BytesWritten: 100e6, BytesVerified: 100e6},
		{Time: t0.Add(2 * time.Minute), Started: t0, Job: 2, Profile: "kiosk", Result: receipts.ResultUnverified, BytesWritten: 100e6,
			Label: "FAST02", Device: receipts.Device{Name: "sdc", Serial: "UV1"}},
		{Time: t0.Add(3 * time.Minute), Started: t0, Job: 3, Profile: "kiosk", Result: receipts.ResultFailed, FailedStep: "write", Error: "boom"},
	}
	s := Summarize(rs)
	if s.All.Done != 1 || s.All.Unverified != 1 || s.All.Failed != 1 {
		t.Errorf("Summarize totals = done %d unverified %d failed %d, want 1, 1, 1", s.All.Done, s.All.Unverified, s.All.Failed)
	}
	if len(s.Failures) != 1 || s.Failures[0].Job != 3 {
		t.Errorf("Summarize failures = %+v, want only job 3", s.Failures)
	}
	if len(s.Unverified) != 1 || s.Unverified[0].Job != 2 || s.Unverified[0].Label != "FAST02" {
		t.Errorf("Summarize unverified = %+v, want job 2 with its label", s.Unverified)
	}
	var text bytes.Buffer
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"UNVERIFIED", "Written but not verified (1)", "UV1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("WriteText output lacks %q:\n%s", want, text.String())
		}
	}
	var csvOut bytes.Buffer
	if err := WriteCSV(&csvOut, rs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[2][6]; got != "unverified" {
		t.Errorf("CSV result of job 2 = %q, want unverified", got)
	}
}

// TestWriteTextEscapesControlCharacters: a serial, a profile, a step or an
// error holding terminal control sequences (a content file's name in an
// error) is shown escaped in the text report.
func TestWriteTextEscapesControlCharacters(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rs := []receipts.Receipt{{Time: at, Started: at.Add(-time.Minute), Job: 1, Profile: "p\x1b[31m", Result: receipts.ResultFailed,
		FailedStep: "write\x07", Error: "source file /evil\x1b]0;PWNED\x07\x1b[2J.txt: cannot open",
		Device: receipts.Device{Name: "sdb", Serial: "SER\x1b[2J", Port: "1-1.4"}}}
	var out bytes.Buffer
	if err := WriteText(&out, Summarize(rs)); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.ContainsAny(s, "\x1b\x07") || !strings.Contains(s, `SER\x1b[2J`) || !strings.Contains(s, `evil\x1b]0;PWNED\a\x1b[2J.txt`) {
		t.Errorf("WriteText = %q, want every control character escaped and the serial and file name shown escaped", s)
	}
}

// TestInterruptedCounted: a receipt the station wrote for a job it found
// unfinished when it started again counts as interrupted, in the totals
// and among the failures with its stage.
func TestInterruptedCounted(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rs := []receipts.Receipt{
		{Time: at, Started: at.Add(-time.Minute), Job: 1, Profile: "p", Result: receipts.ResultDone, BytesWritten: 1e6},
		{Time: at, Started: at.Add(-time.Minute), Job: 2, Profile: "p", Result: receipts.ResultInterrupted, FailedStep: "write",
			Error:  "interrupted during write: the station stopped (killed, crashed or lost power) while this job ran; what is on the stick is unknown: write it again",
			Device: receipts.Device{Name: "sdc", Serial: "S2", Port: "1-1.2"}},
	}
	s := Summarize(rs)
	if s.All.Jobs != 2 || s.All.Done != 1 || s.All.Interrupted != 1 || s.All.Failed != 0 || s.All.Other != 0 {
		t.Errorf("Summarize().All = %+v, want 2 jobs: 1 done, 1 interrupted", s.All)
	}
	if len(s.Failures) != 1 || s.Failures[0].Result != receipts.ResultInterrupted || s.Failures[0].Step != "write" {
		t.Errorf("Summarize().Failures = %+v, want the interrupted job in write", s.Failures)
	}
	var out bytes.Buffer
	WriteText(&out, s)
	if text := out.String(); !strings.Contains(text, "INTERRUPTED") || !strings.Contains(text, "1 × interrupted in write: interrupted during write") {
		t.Errorf("WriteText = %s\nwant an INTERRUPTED column and the reason", text)
	}
}

// TestFind finds the stick that got a pool row (by value, by the hash a
// "sha256" pool keeps, by POOL:N), a generated file (by SHA1) and a disk
// identifier; other values find nothing.
func TestFind(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	rs := []receipts.Receipt{
		{Time: t0.Add(time.Minute), Job: 2, Device: receipts.Device{Serial: "B"},
			PoolRows: []receipts.PoolRow{{Pool: "keys", Row: 2, Values: map[string]string{"key": receipts.ValueHash("SECRET-2")}}},
			Files:    []receipts.GeneratedFile{{Path: "licence.txt", SHA1: "aa11"}}},
		{Time: t0, Job: 1, Device: receipts.Device{Serial: "A"},
			PoolRows: []receipts.PoolRow{{Pool: "keys", Row: 1, Values: map[string]string{"key": "PLAIN-1"}}},
			DiskIDs:  &receipts.DiskIDs{MBRSignature: "1a2b3c4d", VolumeID: "1A2B-3C4D"}},
	}
	for needle, want := range map[string]string{
		"PLAIN-1":   "A pool keys row 1 (key)",
		"SECRET-2":  "B pool keys row 2 (key)",
		"keys:2":    "B pool keys row 2",
		"AA11":      "B file /licence.txt (sha1)",
		"1a2b-3c4d": "A disk id volume_id",
		"SECRET-3":  "",
	} {
		var got []string
		for _, m := range Find(rs, needle) {
			got = append(got, m.Receipt.Device.Serial+" "+m.What)
		}
		if strings.Join(got, "; ") != want {
			t.Errorf("Find(%q) = %q, want %q", needle, got, want)
		}
	}
}

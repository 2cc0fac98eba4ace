// Package report turns a station's receipts (package receipts) into what an
// operator or a customer asks for: how many sticks were made per profile and
// per day, how fast, which failed and why, every receipt as CSV, and the
// history of one stick by its serial number. It is the logic behind
// `flashpipe report RECEIPTS.jsonl`; read the file with receipts.Read.
package report

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/receipts"
)

// Totals counts a set of receipts.
type Totals struct {
	Jobs       int // receipts counted
	Done       int // result "done": written and verified
	Unverified int // result "unverified": written, nothing read back
	Failed     int // result "failed"
	Removed    int // result "removed": pulled while the job ran
	// Interrupted counts result "interrupted": the station stopped while
	// the job ran, and wrote its receipt when it started again.
	Interrupted int
	Other       int // any other result (a newer program's)

	BytesWritten  int64
	BytesVerified int64

	// MeanThroughput and MedianThroughput are in bytes per second over the
	// done jobs: each job's BytesWritten divided by its duration (Time −
	// Started). Zero when no done job has both.
	MeanThroughput   float64
	MedianThroughput float64

	rates []float64
}

// Group is the totals of the receipts that share a key: a profile name or a
// day ("2006-01-02" in the receipt's own time zone).
type Group struct {
	Key string
	Totals
}

// Failure is one receipt whose result was not "done": a failed, removed,
// interrupted or unverified job.
type Failure struct {
	Time    time.Time
	Job     int
	Profile string
	Device  string
	Port    string
	Serial  string
	Result  receipts.Result // "failed", "removed", "interrupted", "unverified", ...
	Step    string          // receipts.Receipt.FailedStep
	Error   string          // the receipt's error, or a verify summary when it has none
	Label   string          // the volume label written
}

// Reason is a kind of failure and how often it happened. Errors that differ
// only in numbers, device names or file paths are one reason.
type Reason struct {
	Result receipts.Result
	Step   string
	Reason string // the error with numbers shown as N, devices as sdX, paths as PATH
	Count  int
}

// Summary is the digest of a receipts file.
type Summary struct {
	From, To   time.Time // earliest and latest receipt Time; zero when empty
	All        Totals
	Profiles   []Group   // by profile name; "" (no profile) sorts first
	Days       []Group   // by day, oldest first
	Failures   []Failure // every receipt failed, removed or interrupted (or of an unknown result), oldest first
	Unverified []Failure // every receipt written without verification, oldest first
	Reasons    []Reason  // most common first
}

// Summarize digests rs. The order of rs does not matter.
func Summarize(rs []receipts.Receipt) Summary {
	var s Summary
	profiles := map[string]*Totals{}
	days := map[string]*Totals{}
	reasons := map[Reason]int{}
	for _, r := range rs {
		if s.From.IsZero() || r.Time.Before(s.From) {
			s.From = r.Time
		}
		if r.Time.After(s.To) {
			s.To = r.Time
		}
		s.All.add(r)
		groupOf(profiles, r.Profile).add(r)
		groupOf(days, r.Time.Format(time.DateOnly)).add(r)
		if r.Result == receipts.ResultDone {
			continue
		}
		f := failureOf(r)
		if r.Result == receipts.ResultUnverified {
			s.Unverified = append(s.Unverified, f)
			continue
		}
		s.Failures = append(s.Failures, f)
		reasons[Reason{Result: f.Result, Step: f.Step, Reason: Normalize(f.Error)}]++
	}
	s.All.finish()
	s.Profiles = groups(profiles)
	s.Days = groups(days)
	sort.SliceStable(s.Failures, func(i, k int) bool { return s.Failures[i].Time.Before(s.Failures[k].Time) })
	sort.SliceStable(s.Unverified, func(i, k int) bool { return s.Unverified[i].Time.Before(s.Unverified[k].Time) })
	for r, n := range reasons {
		r.Count = n
		s.Reasons = append(s.Reasons, r)
	}
	sort.Slice(s.Reasons, func(i, k int) bool {
		a, b := s.Reasons[i], s.Reasons[k]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return string(a.Result)+a.Step+a.Reason < string(b.Result)+b.Step+b.Reason
	})
	return s
}

func groupOf(m map[string]*Totals, key string) *Totals {
	t := m[key]
	if t == nil {
		t = &Totals{}
		m[key] = t
	}
	return t
}

func groups(m map[string]*Totals) []Group {
	out := make([]Group, 0, len(m))
	for k, t := range m {
		t.finish()
		out = append(out, Group{Key: k, Totals: *t})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Key < out[k].Key })
	return out
}

func (t *Totals) add(r receipts.Receipt) {
	t.Jobs++
	switch r.Result {
	case receipts.ResultDone:
		t.Done++
		if v, ok := Throughput(r); ok {
			t.rates = append(t.rates, v)
		}
	case receipts.ResultUnverified:
		t.Unverified++
	case receipts.ResultFailed:
		t.Failed++
	case receipts.ResultRemoved:
		t.Removed++
	case receipts.ResultInterrupted:
		t.Interrupted++
	default:
		t.Other++
	}
	t.BytesWritten += r.BytesWritten
	t.BytesVerified += r.BytesVerified
}

func (t *Totals) finish() {
	if len(t.rates) == 0 {
		return
	}
	sort.Float64s(t.rates)
	sum := 0.0
	for _, v := range t.rates {
		sum += v
	}
	t.MeanThroughput = sum / float64(len(t.rates))
	n := len(t.rates)
	if n%2 == 1 {
		t.MedianThroughput = t.rates[n/2]
	} else {
		t.MedianThroughput = (t.rates[n/2-1] + t.rates[n/2]) / 2
	}
	t.rates = nil
}

// Throughput returns r's bytes written per second of job time (Time −
// Started), and false when r lacks either.
func Throughput(r receipts.Receipt) (float64, bool) {
	d := r.Time.Sub(r.Started)
	if r.Started.IsZero() || d <= 0 || r.BytesWritten <= 0 {
		return 0, false
	}
	return float64(r.BytesWritten) / d.Seconds(), true
}

func failureOf(r receipts.Receipt) Failure {
	f := Failure{
		Time: r.Time, Job: r.Job, Profile: r.Profile, Device: r.Device.Name, Port: r.Device.Port,
		Serial: r.Device.Serial, Result: r.Result, Step: r.FailedStep, Error: r.Error, Label: r.Label,
	}
	if f.Error == "" && r.Verify != nil && !r.Verify.OK {
		f.Error = verifySummary(r.Verify)
	}
	return f
}

func verifySummary(v *receipts.Verify) string {
	var parts []string
	if n := len(v.FailedFiles); n > 0 {
		parts = append(parts, plural(n, "file")+" (first: "+v.FailedFiles[0].Path+")")
	}
	if n := len(v.Metadata); n > 0 {
		parts = append(parts, plural(n, "metadata extent")+" (first: "+v.Metadata[0]+")")
	}
	if len(parts) == 0 {
		return "verify failed"
	}
	return "verify: differs: " + strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

var (
	reDev    = regexp.MustCompile(`(/dev/)?\bsd[a-z]+[0-9]*\b`)
	rePath   = regexp.MustCompile(`(^|[\s(:'"])/[^\s:'")]+`)
	reHex    = regexp.MustCompile(`\b[0-9a-f]{8,}\b`)
	reNumber = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?\b`)
)

// Normalize turns an error message into a reason shared by similar errors:
// device names become sdX, absolute paths PATH, long hex strings HEX and
// numbers N.
func Normalize(msg string) string {
	msg = reDev.ReplaceAllString(msg, "sdX")
	msg = rePath.ReplaceAllString(msg, "${1}PATH")
	msg = reHex.ReplaceAllString(msg, "HEX")
	msg = reNumber.ReplaceAllString(msg, "N")
	return strings.TrimSpace(msg)
}

// FindSerial returns the receipts of the stick with the given USB serial
// number (compared without regard to case), oldest first.
func FindSerial(rs []receipts.Receipt, serial string) []receipts.Receipt {
	var out []receipts.Receipt
	for _, r := range rs {
		if serial != "" && strings.EqualFold(r.Device.Serial, serial) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].Time.Before(out[k].Time) })
	return out
}

// Match is a receipt that Find found, and what in it matched.
type Match struct {
	Receipt receipts.Receipt
	What    string // "pool keys row 17 (key)", "file /licence.txt", "disk id volume_id"
}

// Find returns the receipts that hold needle, oldest first: a pool row's
// value (kept as the value, or as its SHA-256 when the pool's record is
// "sha256"; the hash itself matches too), a row given as POOL:N (e.g.
// "keys:17"), a generated file's SHA1 or path, or one of the disk's
// identifiers. Text is compared without regard to case.
func Find(rs []receipts.Receipt, needle string) []Match {
	var out []Match
	hashed := receipts.ValueHash(needle)
	for _, r := range rs {
		if what := findIn(r, needle, hashed); what != "" {
			out = append(out, Match{Receipt: r, What: what})
		}
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].Receipt.Time.Before(out[k].Receipt.Time) })
	return out
}

func findIn(r receipts.Receipt, needle, hashed string) string {
	for _, row := range r.PoolRows {
		if strings.EqualFold(needle, fmt.Sprintf("%s:%d", row.Pool, row.Row)) {
			return fmt.Sprintf("pool %s row %d", row.Pool, row.Row)
		}
		for col, v := range row.Values {
			if v == needle || v == hashed || strings.EqualFold(v, needle) {
				return fmt.Sprintf("pool %s row %d (%s)", row.Pool, row.Row, col)
			}
		}
	}
	for _, f := range r.Files {
		if strings.EqualFold(f.SHA1, needle) {
			return "file /" + f.Path + " (sha1)"
		}
		if strings.EqualFold(f.Path, strings.TrimPrefix(needle, "/")) {
			return "file /" + f.Path
		}
	}
	if ids := r.DiskIDs; ids != nil {
		for name, v := range map[string]string{"mbr_signature": ids.MBRSignature, "disk_guid": ids.DiskGUID, "partition_guid": ids.PartitionGUID, "volume_id": ids.VolumeID} {
			if v != "" && strings.EqualFold(v, needle) {
				return "disk id " + name
			}
		}
	}
	return ""
}

package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ProbeLastJob is the highest job number labels are checked for at load
// time: six digits, more sticks than a station writes between two starts
// (job numbers count from 1 at each start).
const ProbeLastJob = 999_999

// probeSticks are the sticks labels are checked with: a typical USB stick
// with every attribute set, and one that reports nothing (no USB ids, no
// serial, as a card reader or an image file does).
var probeSticks = []*matchers.Device{
	{Name: "sdb", Bus: "usb", VendorID: 0x0781, ProductID: 0x5567, Serial: "4C530001230815108352",
		Manufacturer: "SanDisk", Product: "Cruzer Blade", Port: "1-1.4", Size: 16_008_609_792, DiskSeq: 42},
	nil,
}

// probeTimes are the job start times labels are checked with: one where
// every date and time field has two digits and the longest weekday name,
// and one where they have one digit.
var probeTimes = []time.Time{
	time.Date(2026, 12, 30, 23, 59, 59, 0, time.UTC),
	time.Date(2026, 5, 1, 1, 1, 1, 0, time.UTC),
}

// probeJobs returns the job numbers a label that uses job.seq is checked
// for, ascending: every number up to 100, then both sides of each change
// of the leading digit (199, 200, 299, 300, ..., 999, 1000, ...) up to
// ProbeLastJob.
func probeJobs() []int {
	var out []int
	for n := 1; n <= 100; n++ {
		out = append(out, n)
	}
	for p := 100; p < ProbeLastJob; p *= 10 {
		for d := 1; d <= 9; d++ {
			if n := d * p; n > 100 {
				out = append(out, n-1, n)
			}
		}
	}
	return append(out, ProbeLastJob)
}

// firstFailure returns the first of jobs for which fails is true, refined
// by bisection between it and the probe before it (exact for labels that
// grow with the number); 0 when none fails.
func firstFailure(jobs []int, fails func(seq int) bool) int {
	prev := 0
	for _, n := range jobs {
		if !fails(n) {
			prev = n
			continue
		}
		lo, hi := prev, n
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if fails(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi
	}
	return 0
}

// labelFailure is one label that cannot be written: the values it was
// evaluated with and why.
type labelFailure struct {
	seq   int
	stick *matchers.Device
	now   time.Time
	why   string
}

// checkLabel evaluates a layout's label expression for the sticks a
// station meets, and checks each result with valid, the label rules of the
// filesystem fs, so that a label that cannot be written fails at load time
// rather than on the first (or the thousandth) stick. A label that uses
// job.seq is evaluated for job numbers up to ProbeLastJob (see probeJobs);
// one that uses device for a typical USB stick and for one that reports
// nothing; one that uses now at two times. A label that fails at job 1
// with every stick and time is an error; one that fails only for some is a
// warning naming the first job number and the values. Expressions with
// errors of their own (reported by the steps' checks) are not probed.
func (c *Config) checkLabel(expr hcl.Expression, fs string, valid func(fs, label string) error) hcl.Diagnostics {
	if !IsSet(expr) || c.checkDeviceExpr(expr).HasErrors() {
		return nil
	}
	r := expr.Range()
	key := ""
	if b, ok := c.src[r.Filename]; ok {
		key = fs + "\x00" + string(r.SliceBytes(b))
	}
	d, done := c.probed[key]
	if key == "" || !done {
		d = c.probeLabel(expr, func(label string) error { return valid(fs, label) })
		if key != "" {
			if c.probed == nil {
				c.probed = map[string]*hcl.Diagnostic{}
			}
			c.probed[key] = d
		}
	}
	if d == nil {
		return nil
	}
	at := *d
	at.Subject = r.Ptr()
	return hcl.Diagnostics{&at}
}

// probeLabel is checkLabel's search; it returns the diagnostic without a
// subject, or nil when every label probed is valid.
func (c *Config) probeLabel(expr hcl.Expression, valid func(string) error) *hcl.Diagnostic {
	uses := map[string]bool{}
	for _, tr := range expr.Variables() {
		uses[tr.RootName()] = true
	}
	if uses["pool"] {
		return c.probePoolLabel(expr, valid)
	}
	sticks, times, jobs := probeSticks[:1], probeTimes[:1], []int{1}
	if uses["device"] {
		sticks = probeSticks
	}
	if uses["now"] {
		times = probeTimes
	}
	if uses["job"] {
		jobs = probeJobs()
	}
	var first *labelFailure
	atOne := 0
	for _, stick := range sticks {
		for _, now := range times {
			f := c.probeOne(expr, valid, stick, now, jobs)
			if f == nil {
				continue
			}
			if f.seq == 1 {
				atOne++
			}
			if first == nil || f.seq < first.seq {
				first = f
			}
		}
	}
	if first == nil {
		return nil
	}
	values := probeValues(expr, uses, first)
	if atOne == len(sticks)*len(times) {
		detail := first.why + "."
		if values != "" {
			detail = fmt.Sprintf("With %s: %s. No stick could be written.", values, first.why)
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid volume label", Detail: detail}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Volume label fails on some sticks",
		Detail: fmt.Sprintf("With %s: %s. The station would fail such a stick before writing it. Labels are checked for job numbers 1 to %d, for a typical USB stick and for one that reports no serial or USB ids.",
			values, first.why, ProbeLastJob)}
}

// probeOne finds the first job for which the label fails with one stick
// and time, or nil.
func (c *Config) probeOne(expr hcl.Expression, valid func(string) error, stick *matchers.Device, now time.Time, jobs []int) *labelFailure {
	ctx := c.DeviceContext(stick, "sdb", 1, now)
	why := func(seq int) string {
		ctx.Variables["job"] = cty.ObjectVal(map[string]cty.Value{"seq": cty.NumberIntVal(int64(seq))})
		label, diags := EvalString(expr, ctx)
		if diags.HasErrors() {
			return "the label cannot be evaluated: " + diagText(diags)
		}
		if err := valid(label); err != nil {
			return err.Error()
		}
		return ""
	}
	seq := firstFailure(jobs, func(seq int) bool { return why(seq) != "" })
	if seq == 0 {
		return nil
	}
	return &labelFailure{seq: seq, stick: stick, now: now, why: why(seq)}
}

// probeValues names the values a label failed with, for the ones the
// expression uses: `job.seq = 1000, device.serial = "4C53..."`.
func probeValues(expr hcl.Expression, uses map[string]bool, f *labelFailure) string {
	var parts []string
	if uses["job"] {
		parts = append(parts, fmt.Sprintf("job.seq = %d", f.seq))
	}
	if uses["device"] {
		dev := DeviceValue(f.stick, "sdb")
		attrs := map[string]bool{}
		for _, tr := range expr.Variables() {
			if a, ok := deviceAttr(tr); ok {
				attrs[a] = true
			}
		}
		for _, a := range sortedKeys(attrs) {
			v := dev.GetAttr(a)
			if v.Type() == cty.String {
				parts = append(parts, fmt.Sprintf("device.%s = %q", a, v.AsString()))
			} else {
				parts = append(parts, fmt.Sprintf("device.%s = %s", a, v.AsBigFloat().Text('f', -1)))
			}
		}
	}
	if uses["now"] {
		parts = append(parts, fmt.Sprintf("now = %q", f.now.Format(time.RFC3339)))
	}
	return strings.Join(parts, ", ")
}

// deviceAttr returns the attribute of device a traversal names.
func deviceAttr(tr hcl.Traversal) (string, bool) {
	if tr.RootName() != "device" || len(tr) < 2 {
		return "", false
	}
	a, ok := tr[1].(hcl.TraverseAttr)
	return a.Name, ok
}

// diagText joins the errors of diags, as "summary: detail", into one
// sentence fragment.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			parts = append(parts, strings.TrimSuffix(d.Summary+": "+d.Detail, "."))
		}
	}
	return strings.Join(parts, "; ")
}

// probePoolLabel checks a label that uses pool rows with every row of the
// pools it uses (row i of each, for every i), as the first stick of a
// typical USB stick's job would get them: an error when no row gives a
// valid label, a warning naming the first row that does not when some do
// not (the station fails the stick that takes such a row before writing
// it). Without the rows (validate --skip-content) nothing is checked.
func (c *Config) probePoolLabel(expr hcl.Expression, valid func(string) error) *hcl.Diagnostic {
	names := c.PoolsUsed(expr, "")
	n := 0
	for _, name := range names {
		p := c.Pools[name]
		if p == nil || len(p.rows) == 0 {
			return nil
		}
		n = max(n, len(p.rows))
	}
	var failed []int
	firstWhy, firstRows := "", ""
	for i := range n {
		rows := map[string]map[string]string{}
		var which []string
		for _, name := range names {
			r := c.Pools[name].rows[i%len(c.Pools[name].rows)]
			rows[name] = r.Values
			which = append(which, fmt.Sprintf("row %d of pool %q", r.N, name))
		}
		why := ""
		label, diags := EvalString(expr, c.JobContext(probeSticks[0], "sdb", 1, probeTimes[0], rows))
		if diags.HasErrors() {
			why = "the label cannot be evaluated: " + diagText(diags)
		} else if err := valid(label); err != nil {
			why = err.Error()
		}
		if why == "" {
			continue
		}
		if len(failed) == 0 {
			firstWhy, firstRows = why, strings.Join(which, " and ")
		}
		failed = append(failed, i)
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == n:
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid volume label",
			Detail: fmt.Sprintf("With %s: %s. No row of the pool gives a valid label, so no stick could be written.", firstRows, firstWhy)}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Volume label fails for some pool rows",
		Detail: fmt.Sprintf("With %s: %s. %d of %d rows give a label the filesystem refuses; the station would fail a stick that takes one, before writing it.",
			firstRows, firstWhy, len(failed), n)}
}

package web

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/flashpipe/flashpipe/status"
)

// ThroughputBuckets are the upper bounds, in bytes per second, of the
// flashpipe_job_throughput_bytes_per_second histogram. They span a slow
// USB 2 stick (a few MB/s) to a fast USB 3 one (a few hundred MB/s).
var ThroughputBuckets = []float64{1e6, 2e6, 5e6, 10e6, 20e6, 50e6, 100e6, 200e6, 500e6}

// Metrics counts what a station has done since it started, for /metrics in
// the Prometheus text format. Feed it every board update through Observe
// (NewMetrics does that for a board). It is safe for concurrent use.
type Metrics struct {
	// UeventsDropped, when set, counts uevent datagrams the station's
	// listener refused as not from the kernel (uevent.Listener.Dropped).
	// Set it before serving.
	UeventsDropped func() uint64
	// PoolRows, when set, returns the free rows of each of the station's
	// pools, by name. Set it before serving.
	PoolRows func() map[string]int

	board *status.Board // its alerts, for flashpipe_receipts_writable; nil: none

	mu             sync.Mutex
	sticks         map[[2]string]uint64 // {profile, result} → count
	written        int64
	verified       int64
	verifyFailures uint64
	buckets        []uint64 // counts per ThroughputBuckets bound, not cumulative; last is +Inf
	tpSum          float64
	tpCount        uint64

	counted map[int]bool  // jobs already counted in sticks
	active  map[int]bool  // jobs in matched/queued/running
	lastW   map[int]int64 // last BytesWritten seen per job
	lastV   map[int]int64 // last BytesVerified seen per job
}

// NewMetrics returns empty metrics. If b is not nil they observe b's updates.
func NewMetrics(b *status.Board) *Metrics {
	m := &Metrics{
		sticks:  map[[2]string]uint64{},
		buckets: make([]uint64, len(ThroughputBuckets)+1),
		counted: map[int]bool{},
		active:  map[int]bool{},
		lastW:   map[int]int64{},
		lastV:   map[int]int64{},
		board:   b,
	}
	if b != nil {
		b.Observe(m.Observe)
	}
	return m
}

// Observe accounts one update of a job. Byte counters grow by how much a
// job's BytesWritten and BytesVerified grew since its previous update. A job
// is counted in flashpipe_sticks_total (and its throughput observed, if it
// ended verified) once, on its first update in a terminal state. A failed
// job whose read-back differed (VerifyFailed) also counts as a verify
// failure. An idle update (the stick was pulled) forgets the job.
func (m *Metrics) Observe(j status.Row) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := j.BytesWritten - m.lastW[j.ID]; d > 0 {
		m.written += d
		m.lastW[j.ID] = j.BytesWritten
	}
	if d := j.BytesVerified - m.lastV[j.ID]; d > 0 {
		m.verified += d
		m.lastV[j.ID] = j.BytesVerified
	}
	if j.State.Active() {
		m.active[j.ID] = true
	} else {
		delete(m.active, j.ID)
	}
	if j.State == status.StateIdle {
		delete(m.counted, j.ID)
		delete(m.lastW, j.ID)
		delete(m.lastV, j.ID)
		return
	}
	if !j.State.Terminal() || m.counted[j.ID] {
		return
	}
	m.counted[j.ID] = true
	m.sticks[[2]string{j.Profile, string(j.State.Result())}]++
	if j.State == status.StateFailed && j.VerifyFailed {
		m.verifyFailures++
	}
	if j.State == status.StateVerified && !j.Started.IsZero() && j.Updated.After(j.Started) && j.BytesWritten > 0 {
		m.observeThroughput(float64(j.BytesWritten) / j.Updated.Sub(j.Started).Seconds())
	}
}

func (m *Metrics) observeThroughput(v float64) {
	i := sort.SearchFloat64s(ThroughputBuckets, v) // first bound >= v
	m.buckets[i]++
	m.tpSum += v
	m.tpCount++
}

// WriteTo writes the metrics in the Prometheus text exposition format
// (version 0.0.4).
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	var sb strings.Builder
	header := func(name, typ, help string) {
		fmt.Fprintf(&sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	header("flashpipe_sticks_total", "counter", "Sticks whose job ended, by profile and result: done (written and verified), unverified (written, not read back), failed, removed, interrupted (the station stopped while the job ran; counted when it starts again).")
	keys := make([][2]string, 0, len(m.sticks))
	for k := range m.sticks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, k int) bool {
		if keys[i][0] != keys[k][0] {
			return keys[i][0] < keys[k][0]
		}
		return keys[i][1] < keys[k][1]
	})
	for _, k := range keys {
		fmt.Fprintf(&sb, "flashpipe_sticks_total{profile=\"%s\",result=\"%s\"} %d\n", escapeLabel(k[0]), escapeLabel(k[1]), m.sticks[k])
	}
	header("flashpipe_bytes_written_total", "counter", "Bytes written to sticks.")
	fmt.Fprintf(&sb, "flashpipe_bytes_written_total %d\n", m.written)
	header("flashpipe_bytes_verified_total", "counter", "Bytes read back from sticks and compared.")
	fmt.Fprintf(&sb, "flashpipe_bytes_verified_total %d\n", m.verified)
	header("flashpipe_verify_failures_total", "counter", "Jobs that failed in their verify step.")
	fmt.Fprintf(&sb, "flashpipe_verify_failures_total %d\n", m.verifyFailures)
	var dropped uint64
	if m.UeventsDropped != nil {
		dropped = m.UeventsDropped()
	}
	header("flashpipe_uevents_dropped_total", "counter", "Uevent datagrams refused because they did not come from the kernel.")
	fmt.Fprintf(&sb, "flashpipe_uevents_dropped_total %d\n", dropped)
	if m.PoolRows != nil {
		rows := m.PoolRows()
		names := make([]string, 0, len(rows))
		for n := range rows {
			names = append(names, n)
		}
		sort.Strings(names)
		header("flashpipe_pool_rows_free", "gauge", "Rows of a data pool not yet handed out; at 0 the profiles that take its rows take no sticks.")
		for _, n := range names {
			fmt.Fprintf(&sb, "flashpipe_pool_rows_free{pool=%q} %d\n", n, rows[n])
		}
	}
	writable := 1
	if m.board != nil {
		alerts, _ := m.board.Alerts()
		for _, a := range alerts {
			if a.Key == status.AlertReceipts {
				writable = 0
			}
		}
	}
	header("flashpipe_receipts_writable", "gauge", "1 while receipts can be written; 0 after a receipt could not be written (disk full, read-only, file gone): no new sticks are taken until a retry succeeds.")
	fmt.Fprintf(&sb, "flashpipe_receipts_writable %d\n", writable)
	header("flashpipe_active_jobs", "gauge", "Jobs matched, queued or running now.")
	fmt.Fprintf(&sb, "flashpipe_active_jobs %d\n", len(m.active))
	const h = "flashpipe_job_throughput_bytes_per_second"
	header(h, "histogram", "Bytes written per second of job time, for jobs that ended verified.")
	var cum uint64
	for i, le := range ThroughputBuckets {
		cum += m.buckets[i]
		fmt.Fprintf(&sb, "%s_bucket{le=\"%s\"} %d\n", h, formatFloat(le), cum)
	}
	cum += m.buckets[len(ThroughputBuckets)]
	fmt.Fprintf(&sb, "%s_bucket{le=\"+Inf\"} %d\n", h, cum)
	fmt.Fprintf(&sb, "%s_sum %s\n", h, formatFloat(m.tpSum))
	fmt.Fprintf(&sb, "%s_count %d\n", h, m.tpCount)
	m.mu.Unlock()
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

func formatFloat(v float64) string {
	if math.IsInf(v, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

package web

import (
	"net/http"
	"slices"
	"sync"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ThroughputBuckets are the upper bounds, in bytes per second, of the
// flashpipe_job_throughput_bytes_per_second histogram. They span a slow
// USB 2 stick (a few MB/s) to a fast USB 3 one (a few hundred MB/s).
var ThroughputBuckets = []float64{1e6, 2e6, 5e6, 10e6, 20e6, 50e6, 100e6, 200e6, 500e6}

// Metrics counts what a station has done since it started, for /metrics
// (Handler), with the Prometheus client library: the flashpipe_* metrics,
// and the process's and the Go runtime's (open fds, RSS, goroutines). Feed
// it every board update through Observe (NewMetrics does that for a
// board). It is safe for concurrent use.
type Metrics struct {
	// UeventsDropped, when set, counts uevent datagrams the station's
	// listener refused as not from the kernel (uevent.Listener.Dropped).
	// Set it before serving.
	UeventsDropped func() uint64
	// UeventOverflows, when set, counts the times the kernel dropped
	// uevents because the listener's socket buffer was full
	// (uevent.Listener.Overflows); the station rescanned sysfs each time.
	UeventOverflows func() uint64
	// GuardRefusals, when set, counts the safety guard's refusals by kind
	// (station.Station.GuardRefusals). Set it before serving.
	GuardRefusals func() map[matchers.RefusalKind]uint64
	// PoolRows, when set, returns the free rows of each of the station's
	// pools, by name. Set it before serving.
	PoolRows func() map[string]int
	// Findings are the findings known in advance (pipeline.Registry.Findings):
	// the first job of a profile starts that profile's
	// flashpipe_stick_findings_total series of each at zero. Set it before
	// serving.
	Findings []string

	board *status.Board // its alerts, for flashpipe_receipts_writable; nil: none
	reg   *prometheus.Registry

	sticks         *prometheus.CounterVec // {profile, result}
	findings       *prometheus.CounterVec // {profile, finding}
	written        prometheus.Counter
	verified       prometheus.Counter
	verifyFailures prometheus.Counter
	throughput     prometheus.Histogram

	mu       sync.Mutex
	profiles map[string]bool // profiles whose sticks_total series exist
	counted  map[int]bool    // jobs already counted in sticks
	active   map[int]bool    // jobs in matched/queued/running
	lastW    map[int]int64   // last BytesWritten seen per job
	lastV    map[int]int64   // last BytesVerified seen per job
}

// NewMetrics returns empty metrics. If b is not nil they observe b's updates.
func NewMetrics(b *status.Board) *Metrics {
	m := &Metrics{
		board:    b,
		reg:      prometheus.NewRegistry(),
		profiles: map[string]bool{},
		counted:  map[int]bool{},
		active:   map[int]bool{},
		lastW:    map[int]int64{},
		lastV:    map[int]int64{},
	}
	m.sticks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashpipe_sticks_total",
		Help: "Sticks whose job ended, by profile and result: done (written and verified), unverified (written, not read back), failed, removed, interrupted (the station stopped while the job ran; counted when it starts again).",
	}, []string{"profile", "result"})
	m.findings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashpipe_stick_findings_total",
		Help: "Sticks whose job ended with a finding of one of its steps, by profile and finding: fake (the probe found less storage than claimed, whether the stick failed or was written only as far as it stores).",
	}, []string{"profile", "finding"})
	m.written = prometheus.NewCounter(prometheus.CounterOpts{Name: "flashpipe_bytes_written_total", Help: "Bytes written to sticks."})
	m.verified = prometheus.NewCounter(prometheus.CounterOpts{Name: "flashpipe_bytes_verified_total", Help: "Bytes read back from sticks and compared."})
	m.verifyFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "flashpipe_verify_failures_total", Help: "Jobs that failed in their verify step."})
	m.throughput = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "flashpipe_job_throughput_bytes_per_second",
		Help:    "Bytes written per second of job time, for jobs that ended verified.",
		Buckets: ThroughputBuckets,
	})
	m.reg.MustRegister(m.sticks, m.findings, m.written, m.verified, m.verifyFailures, m.throughput,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "flashpipe_uevents_dropped_total",
			Help: "Uevent datagrams refused because they did not come from the kernel.",
		}, m.ueventsDropped),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "flashpipe_uevent_overflows_total",
			Help: "Times the kernel dropped uevents because the station's socket buffer was full (ENOBUFS); the station rescanned sysfs each time, so no stick is lost, but it is slower.",
		}, func() float64 { return count(m.UeventOverflows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flashpipe_receipts_writable",
			Help: "1 while receipts can be written; 0 after a receipt could not be written (disk full, read-only, file gone): no new sticks are taken until a retry succeeds.",
		}, m.receiptsWritable),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flashpipe_active_jobs",
			Help: "Jobs matched, queued or running now.",
		}, m.activeJobs),
		refusalCollector{m},
		poolCollector{m},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	if b != nil {
		b.Observe(m.Observe)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Observe accounts one update of a job. Byte counters grow by how much a
// job's BytesWritten and BytesVerified grew since its previous update. A job
// is counted in flashpipe_sticks_total (and its throughput observed, if it
// ended verified) once, on its first update in a terminal state; the first
// job of a profile starts that profile's series of every result at zero,
// so that a rate over them sees the first failure. Each finding of the
// job counts once in flashpipe_stick_findings_total. A failed job whose
// read-back differed (VerifyFailed) also counts as a verify failure. An
// idle update (the stick was pulled) forgets the job.
func (m *Metrics) Observe(j status.Row) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := j.BytesWritten - m.lastW[j.ID]; d > 0 {
		m.written.Add(float64(d))
		m.lastW[j.ID] = j.BytesWritten
	}
	if d := j.BytesVerified - m.lastV[j.ID]; d > 0 {
		m.verified.Add(float64(d))
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
	if !m.profiles[j.Profile] {
		m.profiles[j.Profile] = true
		for _, r := range receipts.Results() {
			m.sticks.WithLabelValues(j.Profile, string(r))
		}
		for _, f := range m.Findings {
			m.findings.WithLabelValues(j.Profile, f)
		}
	}
	m.sticks.WithLabelValues(j.Profile, string(j.State.Result())).Inc()
	for _, f := range slices.Compact(slices.Sorted(slices.Values(j.Findings))) {
		m.findings.WithLabelValues(j.Profile, f).Inc()
	}
	if j.State == status.StateFailed && j.VerifyFailed {
		m.verifyFailures.Inc()
	}
	if j.State == status.StateVerified && !j.Started.IsZero() && j.Updated.After(j.Started) && j.BytesWritten > 0 {
		m.throughput.Observe(float64(j.BytesWritten) / j.Updated.Sub(j.Started).Seconds())
	}
}

func (m *Metrics) ueventsDropped() float64 { return count(m.UeventsDropped) }

// count calls f, a counter of the station that may be unset (nil: 0).
func count(f func() uint64) float64 {
	if f == nil {
		return 0
	}
	return float64(f())
}

func (m *Metrics) activeJobs() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return float64(len(m.active))
}

// receiptsWritable is 0 while the board carries the receipts alert.
func (m *Metrics) receiptsWritable() float64 {
	if m.board == nil {
		return 1
	}
	alerts, _ := m.board.Alerts()
	for _, a := range alerts {
		if a.Key == status.AlertReceipts {
			return 0
		}
	}
	return 1
}

// refusalDesc describes flashpipe_guard_refusals_total.
var refusalDesc = prometheus.NewDesc("flashpipe_guard_refusals_total",
	"Disks the safety guard refused, by the kind of check that refused them (reason): when a disk was inserted, or right before a job's first write.",
	[]string{"reason"}, nil)

// refusalCollector exports Metrics.GuardRefusals: a series for every kind
// of refusal, zero until one happens, so that the set of series is known
// in advance and a rate over it sees the first one.
type refusalCollector struct{ m *Metrics }

// Describe implements prometheus.Collector.
func (c refusalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- refusalDesc }

// Collect implements prometheus.Collector.
func (c refusalCollector) Collect(ch chan<- prometheus.Metric) {
	var n map[matchers.RefusalKind]uint64
	if c.m.GuardRefusals != nil {
		n = c.m.GuardRefusals()
	}
	for _, k := range matchers.RefusalKinds() {
		ch <- prometheus.MustNewConstMetric(refusalDesc, prometheus.CounterValue, float64(n[k]), k.String())
	}
}

// poolDesc describes flashpipe_pool_rows_free.
var poolDesc = prometheus.NewDesc("flashpipe_pool_rows_free",
	"Rows of a data pool not yet handed out; at 0 the profiles that take its rows take no sticks.",
	[]string{"pool"}, nil)

// poolCollector exports Metrics.PoolRows: a series for each of the
// station's pools, none without pools.
type poolCollector struct{ m *Metrics }

// Describe implements prometheus.Collector.
func (c poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- poolDesc }

// Collect implements prometheus.Collector.
func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.PoolRows == nil {
		return
	}
	for name, n := range c.m.PoolRows() {
		ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(n), name)
	}
}

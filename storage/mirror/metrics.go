package mirror

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the mirror's Prometheus collectors (todo_mirror_*).
type Metrics struct {
	Applied  *prometheus.CounterVec
	Failures *prometheus.CounterVec
	Retries  *prometheus.CounterVec
	Latency  prometheus.Histogram
	// Drift is what the last background verification pass found not
	// matching, by collection.
	Drift *prometheus.GaugeVec
	// Breaker is 1 while the circuit breaker is open (the mirror stopped
	// answering; requests hand their writes to the worker).
	Breaker prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (nil: none,
// for tests and tools).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "todo_mirror_applied_total",
			Help: "Documents written to the PostgreSQL mirror, by collection."}, []string{"collection"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "todo_mirror_failures_total",
			Help: "Failed mirror writes, by collection."}, []string{"collection"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "todo_mirror_retries_total",
			Help: "Mirror intents scheduled for another attempt, by collection."}, []string{"collection"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "todo_mirror_apply_seconds",
			Help:    "Time to apply one operation's documents to the mirror.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		Drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "todo_mirror_drift",
			Help: "Rows the last background verification pass found not holding their document (missing, extra or different, less those it repaired), by collection."},
			[]string{"collection"}),
		Breaker: prometheus.NewGauge(prometheus.GaugeOpts{Name: "todo_mirror_unreachable",
			Help: "1 while the mirror's circuit breaker is open: PostgreSQL stopped answering and writes wait for the worker."}),
	}
	if reg != nil {
		reg.MustRegister(m.Applied, m.Failures, m.Retries, m.Latency, m.Drift, m.Breaker)
	}
	return m
}

func (m *Metrics) applied(changes []Change, took time.Duration) {
	for _, c := range changes {
		m.Applied.WithLabelValues(c.Collection).Inc()
	}
	m.Latency.Observe(took.Seconds())
}

func (m *Metrics) failure(changes []Change) {
	for _, c := range changes {
		m.Failures.WithLabelValues(c.Collection).Inc()
	}
}

func (m *Metrics) retry(collection string) { m.Retries.WithLabelValues(collection).Inc() }

// drift publishes a pass's findings.
func (m *Metrics) drift(res VerifyResult) {
	for _, coll := range Collections {
		cv := res.Collections[coll]
		m.Drift.WithLabelValues(coll).Set(float64(cv.Missing + cv.Extra + cv.Different - cv.Repaired))
	}
}

// Gauges reports pending and failed intents per collection, counted in
// MongoDB at each scrape: every instance reports the same shared figures.
func (e *Engine) Gauges() prometheus.Collector { return gauges{e} }

type gauges struct{ e *Engine }

var (
	pendingDesc = prometheus.NewDesc("todo_mirror_pending", "Mirror intents waiting to be applied, by collection.", []string{"collection"}, nil)
	failedDesc  = prometheus.NewDesc("todo_mirror_failed", "Mirror intents FAILED after their retries, by collection.", []string{"collection"}, nil)
	oldestDesc  = prometheus.NewDesc("todo_mirror_oldest_pending_seconds", "Age of the oldest pending mirror intent.", nil, nil)
)

func (g gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- failedDesc
	ch <- oldestDesc
}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := g.e.Counts(ctx)
	if err != nil {
		return // a scrape while MongoDB is down reports the counters only
	}
	for _, coll := range Collections {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(c.Pending[coll]), coll)
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.GaugeValue, float64(c.Failed[coll]), coll)
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, c.OldestPending.Seconds())
}

// IntentCounts are the engine's pending and failed intents.
type IntentCounts struct {
	Pending, Failed map[string]int
	OldestPending   time.Duration
}

// TotalPending and TotalFailed add the counts up.
func (c IntentCounts) TotalPending() int { return sum(c.Pending) }

// TotalFailed adds up the failed intents.
func (c IntentCounts) TotalFailed() int { return sum(c.Failed) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Counts counts the intents by state and collection, in MongoDB.
func (e *Engine) Counts(ctx context.Context) (IntentCounts, error) {
	t, err := e.mongo.TallyIntents(ctx)
	if err != nil {
		return IntentCounts{}, err
	}
	c := IntentCounts{Pending: t.Pending, Failed: t.Failed}
	if !t.OldestPending.IsZero() {
		c.OldestPending = max(0, e.now().Sub(t.OldestPending))
	}
	return c, nil
}

// latencies keeps the last apply durations of this instance for the p50 and
// p99 that syncMetrics reports (Prometheus has the histogram for fleets).
type latencies struct {
	mu   sync.Mutex
	ring [1024]time.Duration
	n    int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.n%len(l.ring)] = d
	l.n++
	l.mu.Unlock()
}

// quantiles returns the p50 and p99 of the recorded durations.
func (l *latencies) quantiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	n := min(l.n, len(l.ring))
	s := slices.Clone(l.ring[:n])
	l.mu.Unlock()
	if n == 0 {
		return 0, 0
	}
	slices.Sort(s)
	return s[n/2], s[min(n-1, n*99/100)]
}

// ApplyLatency is the p50 and p99 of this instance's recent applies.
func (e *Engine) ApplyLatency() (p50, p99 time.Duration) { return e.lat.quantiles() }

// Retries adds up the failed attempts of the writes still pending or
// failed.
func (e *Engine) Retries(ctx context.Context) (int, error) { return e.mongo.SumAttempts(ctx) }

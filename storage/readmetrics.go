package storage

import "github.com/prometheus/client_golang/prometheus"

// ReadMetrics are read routing's Prometheus collectors (todo_read_*).
type ReadMetrics struct {
	// Shadow counts shadow reads by family and outcome (matched,
	// mismatched, lag, candidate_error, skipped).
	Shadow *prometheus.CounterVec
	// Fallbacks counts reads a family's flag sent to PostgreSQL that
	// MongoDB served, by family and why (behind, error, no_mirror).
	Fallbacks *prometheus.CounterVec
}

// NewReadMetrics creates the collectors and registers them with reg (nil:
// none).
func NewReadMetrics(reg prometheus.Registerer) *ReadMetrics {
	m := &ReadMetrics{
		Shadow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "todo_read_shadow_total",
			Help: "Shadow reads compared, by read family and outcome (matched, mismatched, lag, candidate_error; skipped: sampled but not run, MaxShadows were running or the shadow budget was spent)."},
			[]string{"family", "outcome"}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "todo_read_fallbacks_total",
			Help: "Reads a family's flag sent to PostgreSQL that MongoDB served, by family and reason (behind, error, no_mirror)."},
			[]string{"family", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Shadow, m.Fallbacks)
	}
	return m
}

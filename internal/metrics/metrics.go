// Package metrics holds the service's Prometheus collectors. They live in a
// registry of their own (no global default registry), created once in main
// and handed to what records into it.
package metrics

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.mongodb.org/mongo-driver/v2/event"
)

// Metrics are the collectors of one process.
type Metrics struct {
	Registry      *prometheus.Registry
	MongoCommands *prometheus.CounterVec
	MongoFailures *prometheus.CounterVec
	// MongoSeconds is the time spent in commands, by command and
	// collection: which query a request's time goes to (the bench reads it
	// per operation), where a store scans instead of using an index.
	MongoSeconds *prometheus.CounterVec
	HTTPRequests *prometheus.CounterVec
	// inflight maps a started command's request id to its collection,
	// until it succeeds or fails.
	inflight     sync.Map
	HTTPDuration *prometheus.HistogramVec
}

// New creates the collectors and registers them, with the Go runtime and
// process collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		MongoCommands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_mongodb_commands_total",
			Help: "MongoDB commands sent by the driver (one per round trip), by command name.",
		}, []string{"command"}),
		MongoFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_mongodb_command_failures_total",
			Help: "MongoDB commands that failed, by command name.",
		}, []string{"command"}),
		MongoSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_mongodb_command_seconds_total",
			Help: "Time spent in MongoDB commands (sent to answered), by command name and collection.",
		}, []string{"command", "collection"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "todo_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.MongoCommands, m.MongoFailures, m.MongoSeconds, m.HTTPRequests, m.HTTPDuration,
	)
	return m
}

// MongoMonitor counts every command the driver sends, which is also how
// tests count round trips per request.
func (m *Metrics) MongoMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			m.MongoCommands.WithLabelValues(e.CommandName).Inc()
			m.inflight.Store(e.RequestID, collectionOf(e))
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.took(e.CommandFinishedEvent)
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			m.MongoFailures.WithLabelValues(e.CommandName).Inc()
			m.took(e.CommandFinishedEvent)
		},
	}
}

func (m *Metrics) took(e event.CommandFinishedEvent) {
	coll, ok := m.inflight.LoadAndDelete(e.RequestID)
	if !ok {
		return
	}
	m.MongoSeconds.WithLabelValues(e.CommandName, coll.(string)).Add(e.Duration.Seconds())
}

// collectionOf is the collection a command names: the value of its first
// element for the collection commands (find, insert, update, delete,
// aggregate, count, findAndModify…), "" for the others (ping, hello,
// commitTransaction), whose first value is not a string.
func collectionOf(e *event.CommandStartedEvent) string {
	el, err := e.Command.IndexErr(0)
	if err != nil {
		return ""
	}
	s, ok := el.Value().StringValueOK()
	if !ok {
		return ""
	}
	return s
}

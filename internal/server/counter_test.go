package server_test

import (
	"context"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/event"
)

func testCounter(c prometheus.Counter) float64 { return testutil.ToFloat64(c) }

// commands is the total of todo_mongodb_commands_total over every command:
// the number of MongoDB round trips so far.
func (e *env) commands(t *testing.T) float64 {
	t.Helper()
	families, err := e.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() == "todo_mongodb_commands_total" {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// commandsInFlight counts the MongoDB commands under way, and the most
// there were at once since the last reset: how much of the pool a request
// took.
type commandsInFlight struct {
	mu        sync.Mutex
	now, peak int
}

func (c *commandsInFlight) monitor(inner *event.CommandMonitor) *event.CommandMonitor {
	end := func() {
		c.mu.Lock()
		c.now--
		c.mu.Unlock()
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if inner.Started != nil {
				inner.Started(ctx, e)
			}
			c.mu.Lock()
			c.now++
			c.peak = max(c.peak, c.now)
			c.mu.Unlock()
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			if inner.Succeeded != nil {
				inner.Succeeded(ctx, e)
			}
			end()
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			if inner.Failed != nil {
				inner.Failed(ctx, e)
			}
			end()
		},
	}
}

// peakDuring runs fn and says how many commands were under way at once.
func (c *commandsInFlight) peakDuring(fn func()) int {
	c.mu.Lock()
	c.peak = c.now
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

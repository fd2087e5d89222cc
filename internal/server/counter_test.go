package server_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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

package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// counters are a server's MongoDB command counters, read off /metrics:
// commands sent and seconds spent, by command and collection.
type counters struct {
	calls   map[string]float64 // by command
	seconds map[string]float64 // by "command collection"
}

func scrape(base string) (counters, error) {
	c := counters{calls: map[string]float64{}, seconds: map[string]float64{}}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var into map[string]float64
		switch {
		case strings.HasPrefix(line, "todo_mongodb_commands_total{"):
			into = c.calls
		case strings.HasPrefix(line, "todo_mongodb_command_seconds_total{"):
			into = c.seconds
		default:
			continue
		}
		open, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return c, fmt.Errorf("metrics: %q: %w", line, err)
		}
		into[labelKey(line[open+1:end])] += v
	}
	return c, sc.Err()
}

// labelKey turns `collection="tasks",command="find"` into "find tasks".
func labelKey(labels string) string {
	var command, collection string
	for _, kv := range strings.Split(labels, ",") {
		k, v, _ := strings.Cut(kv, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "command":
			command = v
		case "collection":
			collection = v
		}
	}
	return strings.TrimSpace(command + " " + collection)
}

func (c counters) minus(o counters, scale float64) counters {
	out := counters{calls: map[string]float64{}, seconds: map[string]float64{}}
	for k, v := range c.calls {
		out.calls[k] = v - scale*o.calls[k]
	}
	for k, v := range c.seconds {
		out.seconds[k] = v - scale*o.seconds[k]
	}
	return out
}

func (c counters) delta(before counters) counters { return c.minus(before, 1) }

// trips is what one operation costs in MongoDB commands, per request.
type trips struct {
	op, setup string
	perReq    float64            // commands per request
	byCmd     map[string]float64 // commands per request, by command
	msBy      map[string]float64 // milliseconds per request, by command and collection
}

// roundTrips runs fn n times from one client and counts the server's
// MongoDB commands per request. What the server sends by itself (the write
// probe, the lease, the worker's polls) is measured first, idle for as long,
// and taken off; settle waits for work the requests leave behind (the async
// worker's), which is counted as theirs.
func roundTrips(ctx context.Context, srv *process, op, setup string, n int, settle time.Duration, fn func(i int) error) (trips, error) {
	run := func(work func() error) (counters, time.Duration, error) {
		before, err := scrape(srv.base)
		if err != nil {
			return counters{}, 0, err
		}
		t := time.Now()
		if err := work(); err != nil {
			return counters{}, 0, err
		}
		if err := sleep(ctx, settle); err != nil {
			return counters{}, 0, err
		}
		el := time.Since(t)
		after, err := scrape(srv.base)
		return after.delta(before), el, err
	}
	busy, el, err := run(func() error {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return trips{}, fmt.Errorf("%s round trips: %w", op, err)
	}
	idle, idleEl, err := run(func() error { return sleep(ctx, el-settle) })
	if err != nil {
		return trips{}, err
	}
	net := busy.minus(idle, el.Seconds()/idleEl.Seconds())
	t := trips{op: op, setup: setup, byCmd: map[string]float64{}, msBy: map[string]float64{}}
	for k, v := range net.calls {
		if per := v / float64(n); per > 0.05 {
			t.byCmd[k] = per
			t.perReq += per
		}
	}
	for k, v := range net.seconds {
		if ms := v * 1000 / float64(n); ms > 0.05 {
			t.msBy[k] = ms
		}
	}
	return t, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// String lists the commands, most first: "9.0 (insert 4.0, find 2.0, …)".
func (t trips) String() string {
	keys := make([]string, 0, len(t.byCmd))
	for k := range t.byCmd {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if t.byCmd[a] != t.byCmd[b] {
			if t.byCmd[a] > t.byCmd[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.1f", k, t.byCmd[k])
	}
	return fmt.Sprintf("%.1f (%s)", t.perReq, strings.Join(parts, ", "))
}

// slowest lists the command and collection pairs that took the most time
// per request, with their milliseconds.
func (t trips) slowest(n int) string {
	keys := make([]string, 0, len(t.msBy))
	for k := range t.msBy {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case t.msBy[a] > t.msBy[b]:
			return -1
		case t.msBy[a] < t.msBy[b]:
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", k, t.msBy[k]))
	}
	return strings.Join(parts, ", ")
}

package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"
)

// sweepRow is one operation at one data size.
type sweepRow struct {
	setup string
	tasks int
	r     result
	t     trips
	// shadows says, for a shadowed row, how many of its reads were
	// compared on the other store and how many the budget skipped.
	shadows string
}

// shadowWindow is how long a shadowed row samples at least: the shadow
// budget (READ_SHADOW_BUDGET) spreads a slow candidate's runs over tens of
// seconds, and a window of a few requests would see only the first one.
const shadowWindow = 40 * time.Second

// samples per operation at each size of the sweep, from one client: the
// list is slow at the big sizes today (seconds), createTask fast, and a
// fixed count keeps createTask from growing the data between sizes.
var samples = map[string]int{"list": 15, "task": 30, "updateTask": 30, "createTask": 40}

// sweepRead is a read measured in the sweep: from one source, shadowed
// at a share.
type sweepRead struct {
	op, source string
	shadow     int
}

// name is the row's operation: "list" is from MongoDB unshadowed (the
// baseline the other rows are compared with), "list@pg" from PostgreSQL,
// "+shadow" with every read shadowed on the other store.
func (r sweepRead) name() string {
	n := r.op
	if r.source == "POSTGRES" {
		n += "@pg"
	}
	if r.shadow > 0 {
		n += "+shadow"
	}
	return n
}

// sweepReads are the reads of each size, in order; the writes follow with
// the tasks family back on MongoDB.
var sweepReads = []sweepRead{
	{"list", "MONGODB", 0}, {"task", "MONGODB", 0}, {"list", "POSTGRES", 0}, {"task", "POSTGRES", 0},
	{"list", "POSTGRES", 100}, {"list", "MONGODB", 100},
}

// sweep starts one server of sp and grows its viewer's tasks through each
// size, measuring each operation at each: latency, server CPU and MongoDB
// commands per request (with the commands that took longest). It returns
// the server's peak RSS.
func sweep(ctx context.Context, bin, name string, sp serverSpec, sizes []int, reads []sweepRead) ([]sweepRow, int64, error) {
	srv, err := start(ctx, bin, sp)
	if err != nil {
		return nil, 0, err
	}
	defer srv.stop()
	f, err := newFixture(srv)
	if err != nil {
		return nil, 0, err
	}
	var rows []sweepRow
	for _, size := range sizes {
		fmt.Fprintf(os.Stderr, "sweep %s: growing to %d tasks…\n", name, size)
		t0 := time.Now()
		if err := f.grow(ctx, size); err != nil {
			return nil, 0, err
		}
		fmt.Fprintf(os.Stderr, "  grown in %v\n", time.Since(t0).Round(time.Second))
		measure := func(op, label string, shadowed bool) error {
			fn := f.op(op, 1)
			var window time.Duration
			var compared0, skipped0 int64
			if shadowed {
				window = shadowWindow
				var err error
				if compared0, skipped0, err = f.shadowCounts(); err != nil {
					return err
				}
			}
			r := sample(ctx, label, name, samples[op], window, srv.cpuTime, fn)
			row := sweepRow{setup: name, tasks: size, r: r}
			if shadowed {
				time.Sleep(5 * time.Second) // let the last shadows finish
				compared, skipped, err := f.shadowCounts()
				if err != nil {
					return err
				}
				row.shadows = fmt.Sprintf("%d compared, %d skipped", compared-compared0, skipped-skipped0)
			}
			t, err := roundTrips(ctx, srv, label, name, 5, 0, func(i int) error { return fn(0, 200000+i) })
			if err != nil {
				return err
			}
			row.t = t
			fmt.Fprintf(os.Stderr, "  %-14s %5d tasks  p50 %v  p99 %v  n %d  cpu/req %v  round trips %s  %s\n    slowest: %s\n", label, size,
				r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.n, r.cpu.Round(10*time.Microsecond), t, row.shadows, t.slowest(4))
			rows = append(rows, row)
			return nil
		}
		flips := slices.ContainsFunc(reads, func(r sweepRead) bool { return r.source != "MONGODB" || r.shadow > 0 })
		for _, rd := range reads {
			if flips {
				if err := f.readFrom(rd.source, rd.shadow); err != nil {
					return nil, 0, fmt.Errorf("setReadSource: %w", err)
				}
			}
			if err := measure(rd.op, rd.name(), rd.shadow > 0); err != nil {
				return nil, 0, err
			}
		}
		if flips {
			if err := f.readFrom("MONGODB", 0); err != nil {
				return nil, 0, fmt.Errorf("setReadSource: %w", err)
			}
		}
		for _, op := range ops[1:] {
			if err := measure(op, op, false); err != nil {
				return nil, 0, err
			}
		}
	}
	return rows, srv.peakRSS(), nil
}

// sample runs fn n times from one client, and on for at least window,
// and measures it.
func sample(ctx context.Context, op, setup string, n int, window time.Duration, cpu func() time.Duration, fn func(client, i int) error) result {
	lat := make([]time.Duration, 0, n)
	errs := 0
	cpu0 := cpu()
	start := time.Now()
	for i := 0; (i < n || time.Since(start) < window) && ctx.Err() == nil; i++ {
		t := time.Now()
		if err := fn(0, 300000+i); err != nil {
			errs++
			if errs <= 3 {
				fmt.Fprintf(os.Stderr, "  %s: %v\n", op, err)
			}
			continue
		}
		lat = append(lat, time.Since(t))
	}
	wall := time.Since(start)
	used := cpu() - cpu0
	slices.Sort(lat)
	r := result{op: op, mode: setup, clients: 1, n: len(lat), errors: errs, lat: lat, wall: wall, rate: float64(len(lat)) / wall.Seconds()}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		r.cpu = used / time.Duration(len(lat))
	}
	return r
}

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
}

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
		measure := func(op, label string) error {
			fn := f.op(op, 1)
			r := sample(ctx, label, name, samples[op], srv.cpuTime, fn)
			t, err := roundTrips(ctx, srv, label, name, 5, 0, func(i int) error { return fn(0, 200000+i) })
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  %-14s %5d tasks  p50 %v  cpu/req %v  round trips %s\n    slowest: %s\n", label, size,
				r.p50.Round(100*time.Microsecond), r.cpu.Round(10*time.Microsecond), t, t.slowest(4))
			rows = append(rows, sweepRow{setup: name, tasks: size, r: r, t: t})
			return nil
		}
		flips := slices.ContainsFunc(reads, func(r sweepRead) bool { return r.source != "MONGODB" || r.shadow > 0 })
		for _, rd := range reads {
			if flips {
				if err := f.readFrom(rd.source, rd.shadow); err != nil {
					return nil, 0, fmt.Errorf("setReadSource: %w", err)
				}
			}
			if err := measure(rd.op, rd.name()); err != nil {
				return nil, 0, err
			}
		}
		if flips {
			if err := f.readFrom("MONGODB", 0); err != nil {
				return nil, 0, fmt.Errorf("setReadSource: %w", err)
			}
		}
		for _, op := range ops[1:] {
			if err := measure(op, op); err != nil {
				return nil, 0, err
			}
		}
	}
	return rows, srv.peakRSS(), nil
}

// sample runs fn n times from one client and measures it.
func sample(ctx context.Context, op, setup string, n int, cpu func() time.Duration, fn func(client, i int) error) result {
	lat := make([]time.Duration, 0, n)
	errs := 0
	cpu0 := cpu()
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
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

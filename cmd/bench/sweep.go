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
	// compared on the other store, how, and how many the budget skipped;
	// unshadowed is the same read without shadows, in the blocks that
	// alternated with the row's.
	shadows    string
	unshadowed *result
	// served says, for a row read from PostgreSQL, how many of the tasks
	// family's reads the mirror served and how many fell back to MongoDB
	// (then the row measured MongoDB); mirror is the mirror's backlog
	// after the row, which says why.
	served *tasksServed
	mirror string
}

// A shadowed row is measured against its own baseline: blocks of
// pairedBlock with the shadow on and off alternate over pairedWindow, so
// the two share the machine's drift (FerretDB's pace moves by more than
// the 10 % target over minutes); the first request of each block, which
// meets the previous block's last shadows, is not counted. The window is
// long because the shadow budget (READ_SHADOW_BUDGET) spreads a slow
// candidate's runs over tens of seconds.
const (
	pairedWindow = 96 * time.Second
	pairedBlock  = 8 * time.Second
)

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
	flips := slices.ContainsFunc(reads, func(r sweepRead) bool { return r.source != "MONGODB" || r.shadow > 0 })
	for _, size := range sizes {
		fmt.Fprintf(os.Stderr, "sweep %s: growing to %d tasks…\n", name, size)
		t0 := time.Now()
		if err := f.grow(ctx, size); err != nil {
			return nil, 0, err
		}
		fmt.Fprintf(os.Stderr, "  grown in %v\n", time.Since(t0).Round(time.Second))
		report := func(row sweepRow) {
			r := row.r
			fmt.Fprintf(os.Stderr, "  %-14s %5d tasks  p50 %v  p99 %v  n %d  cpu/req %v  round trips %s  %s\n    slowest: %s\n", r.op, size,
				r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.n, r.cpu.Round(10*time.Microsecond), row.t, row.shadows, row.t.slowest(4))
			if row.served != nil {
				fmt.Fprintf(os.Stderr, "    %s %s\n", row.served, row.mirror)
			}
			if u := row.unshadowed; u != nil {
				fmt.Fprintf(os.Stderr, "  %-14s %5d tasks  p50 %v  p99 %v  n %d  cpu/req %v  (the alternating blocks without shadows)\n", "", size,
					u.p50.Round(100*time.Microsecond), u.p99.Round(100*time.Microsecond), u.n, u.cpu.Round(10*time.Microsecond))
			}
		}
		measure := func(rd sweepRead) error {
			fn := f.op(rd.op, 1)
			row := sweepRow{setup: name, tasks: size}
			c0, s0, err := f.readCounts()
			if err != nil {
				return err
			}
			if rd.shadow > 0 {
				on, off, err := pairedSample(ctx, rd.name(), name, srv.cpuTime, fn, func(on bool) error {
					if on {
						return f.readFrom(rd.source, rd.shadow)
					}
					return f.readFrom(rd.source, 0)
				})
				if err != nil {
					return err
				}
				row.r, row.unshadowed = on, &off
				time.Sleep(5 * time.Second) // let the last shadows finish
			} else {
				if flips {
					if err := f.readFrom(rd.source, 0); err != nil {
						return fmt.Errorf("setReadSource: %w", err)
					}
				}
				row.r = sample(ctx, rd.name(), name, samples[rd.op], 0, srv.cpuTime, fn)
			}
			c1, s1, err := f.readCounts()
			if err != nil {
				return err
			}
			if rd.shadow > 0 {
				row.shadows = c1.minus(c0).String()
			}
			if rd.source == "POSTGRES" {
				d := s1.minus(s0)
				row.served, row.mirror = &d, f.mirrorState()
			}
			t, err := roundTrips(ctx, srv, rd.name(), name, 5, 0, func(i int) error { return fn(0, 200000+i) })
			if err != nil {
				return err
			}
			row.t = t
			report(row)
			rows = append(rows, row)
			return nil
		}
		for _, rd := range reads {
			if err := measure(rd); err != nil {
				return nil, 0, err
			}
		}
		if flips {
			if err := f.readFrom("MONGODB", 0); err != nil {
				return nil, 0, fmt.Errorf("setReadSource: %w", err)
			}
		}
		for _, op := range ops[1:] {
			if err := measure(sweepRead{op: op, source: "MONGODB"}); err != nil {
				return nil, 0, err
			}
		}
	}
	return rows, srv.peakRSS(), nil
}

// pairedSample measures fn with the shadow on and off in alternating
// blocks (see pairedWindow; longer for a read of seconds); set turns it on
// or off.
func pairedSample(ctx context.Context, op, setup string, cpu func() time.Duration, fn func(client, i int) error, set func(on bool) error) (on, off result, err error) {
	on, off = result{op: op, mode: setup, clients: 1}, result{op: op, mode: setup, clients: 1}
	block, window := pairedBlock, pairedWindow
	for start, k := time.Now(), 0; time.Since(start) < window && ctx.Err() == nil; k++ {
		shadowed := k%2 == 0
		if err := set(shadowed); err != nil {
			return on, off, fmt.Errorf("setReadSource: %w", err)
		}
		t := time.Now()
		_ = fn(0, 400000+k) // meets the last block's shadows: not counted
		if k == 0 {
			// A read of seconds gets blocks of a few requests and a window
			// of eight blocks.
			block = max(block, 3*time.Since(t))
			window = max(window, 8*block)
		}
		r := sample(ctx, op, setup, 1, block, cpu, fn)
		if shadowed {
			on = mergeResults(on, r)
		} else {
			off = mergeResults(off, r)
		}
	}
	return on, off, nil
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

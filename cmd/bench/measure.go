package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// listQuery is the nested selection of SPEC §7.
const listQuery = `{ tasks(first: 100) { totalCount nodes {
	id displayId title status priority inWatchlist labels { id name color }
	assignment { id team { id name } assignee { __typename ... on User { id name } ... on Team { id name } } }
	createdBy { id name } updatedBy { id name } deferredDetails { deferredTill deferredBy { id name } }
} } }`

// taskQuery is one task with the list's selection.
const taskQuery = `query($id: ID!) { task(id: $id) {
	id displayId title status priority inWatchlist labels { id name color }
	assignment { id team { id name } assignee { __typename ... on User { id name } ... on Team { id name } } }
	createdBy { id name } updatedBy { id name } deferredDetails { deferredTill deferredBy { id name } }
} }`

const createQuery = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`
const updateQuery = `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`

// fixture is a server with the bench's two users, the seeded labels and
// the viewer's tasks (ids), which the list reads and updateTask edits.
type fixture struct {
	srv             *process
	viewer, creator *client
	// admin sets the read sources; signed in on first use.
	admin  *client
	labels []string
	ids    []string
}

// newFixture signs the users in and waits for the start-up seeds.
func newFixture(srv *process) (*fixture, error) {
	viewer, creator, err := benchUsers(srv.base)
	if err != nil {
		return nil, err
	}
	var labels struct {
		Labels struct{ Nodes []struct{ ID string } }
	}
	// The server answers health before its start-up seeding (the labels)
	// is done: wait for it.
	for deadline := time.Now().Add(30 * time.Second); len(labels.Labels.Nodes) == 0; time.Sleep(200 * time.Millisecond) {
		if err := viewer.do("{ labels(first: 8) { nodes { id } } }", nil, &labels); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no labels seeded within 30 s")
		}
	}
	f := &fixture{srv: srv, viewer: viewer, creator: creator}
	for _, n := range labels.Labels.Nodes {
		f.labels = append(f.labels, n.ID)
	}
	return f, nil
}

func (f *fixture) labelPair(i int) []string {
	return []string{f.labels[i%len(f.labels)], f.labels[(i+3)%len(f.labels)]}
}

// grow creates tasks for the viewer (two labels each, every other one
// watched) until it has n, from 4 clients at once.
func (f *fixture) grow(ctx context.Context, n int) error {
	var mu sync.Mutex
	next := len(f.ids)
	var wg sync.WaitGroup
	var first error
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				var t struct{ CreateTask struct{ ID string } }
				in := map[string]any{"title": fmt.Sprintf("seed %d", i), "labelIds": f.labelPair(i), "assignee": map[string]any{"userId": f.viewer.id}}
				err := f.creator.do(createQuery, map[string]any{"in": in}, &t)
				if err == nil && i%2 == 0 {
					err = f.viewer.do(`mutation($id: ID!) { watchTask(taskId: $id) { id } }`, map[string]any{"id": t.CreateTask.ID}, nil)
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					f.ids = append(f.ids, t.CreateTask.ID)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func (f *fixture) list(int, int) error { return f.viewer.do(listQuery, nil, nil) }

// task reads one of the viewer's tasks by id, with the list's selection.
func (f *fixture) task(k, i int) error {
	return f.viewer.do(taskQuery, map[string]any{"id": f.ids[(k+i*7)%len(f.ids)]}, nil)
}

// readFrom sets the source and shadow share of every read family, as an
// admin does at run time; the instance that takes the mutation follows at
// once.
func (f *fixture) readFrom(source string, shadow int) error {
	admin, err := f.adminClient()
	if err != nil {
		return err
	}
	for _, family := range []string{"TASKS", "TEAMS", "USERS", "LABELS", "WATCHLIST", "AUDIT"} {
		if err := admin.do(`mutation($f: ReadFamily!, $s: ReadSource!, $p: Int!) { setReadSource(family: $f, source: $s, shadowPercent: $p) { families { family } } }`,
			map[string]any{"f": family, "s": source, "p": shadow}, nil); err != nil {
			return err
		}
	}
	return nil
}

// adminClient is the bench's admin, signed in on first use.
func (f *fixture) adminClient() (*client, error) {
	if f.admin == nil {
		a, err := login(f.srv.base, benchAdmin)
		if err != nil {
			return nil, err
		}
		f.admin = a
	}
	return f.admin, nil
}

// shadowTally is what an instance's shadow reads came to, over every
// read family.
type shadowTally struct{ matched, mismatched, lag, candidateErrors, skipped int64 }

func (t shadowTally) minus(u shadowTally) shadowTally {
	return shadowTally{t.matched - u.matched, t.mismatched - u.mismatched, t.lag - u.lag, t.candidateErrors - u.candidateErrors, t.skipped - u.skipped}
}

// String reads "N compared (…), M skipped": compared are the shadow reads
// run on the other store, skipped the sampled ones the slots or the budget
// did not run.
func (t shadowTally) String() string {
	return fmt.Sprintf("%d compared (%d matched, %d mismatched, %d lag, %d candidate errors), %d skipped",
		t.matched+t.mismatched+t.lag+t.candidateErrors, t.matched, t.mismatched, t.lag, t.candidateErrors, t.skipped)
}

// tasksServed is how many of the tasks family's reads the mirror served,
// and how many fell back to MongoDB, since the instance started.
type tasksServed struct{ served, fallbacks int64 }

func (t tasksServed) minus(u tasksServed) tasksServed {
	return tasksServed{t.served - u.served, t.fallbacks - u.fallbacks}
}

// String reads "tasks from PostgreSQL: N, fell back: M".
func (t tasksServed) String() string {
	return fmt.Sprintf("tasks from PostgreSQL: %d, fell back: %d", t.served, t.fallbacks)
}

// mirrorState is what syncMetrics says of the mirror's backlog: for a row
// whose reads fell back, why the mirror was not current.
func (f *fixture) mirrorState() string {
	var out struct {
		SyncMetrics struct {
			Pending, Failed      int64
			OldestPendingSeconds float64
			Unreachable          bool
			Collections          []struct {
				Collection      string
				Pending, Failed int64
			}
		}
	}
	admin, err := f.adminClient()
	if err != nil {
		return "syncMetrics: " + err.Error()
	}
	if err := admin.do(`{ syncMetrics { pending failed oldestPendingSeconds unreachable collections { collection pending failed } } }`, nil, &out); err != nil {
		return "syncMetrics: " + err.Error()
	}
	m := out.SyncMetrics
	s := fmt.Sprintf("mirror: %d pending (oldest %.0f s), %d failed, unreachable %v;", m.Pending, m.OldestPendingSeconds, m.Failed, m.Unreachable)
	for _, c := range m.Collections {
		if c.Pending+c.Failed > 0 {
			s += fmt.Sprintf(" %s %d/%d", c.Collection, c.Pending, c.Failed)
		}
	}
	return s
}

// readCounts reads the instance's shadow tally over every family, and the
// tasks family's served and fallback counts, in one readMigration query.
func (f *fixture) readCounts() (shadowTally, tasksServed, error) {
	var out struct {
		ReadMigration struct {
			Families []struct {
				Family                                                   string
				Matched, Mismatched, Lag, CandidateErrors, ShadowSkipped int64
				ServedFromPostgres, Fallbacks                            int64
			}
		}
	}
	var t shadowTally
	var served tasksServed
	admin, err := f.adminClient()
	if err != nil {
		return t, served, err
	}
	if err := admin.do(`{ readMigration { families { family matched mismatched lag candidateErrors shadowSkipped servedFromPostgres fallbacks } } }`, nil, &out); err != nil {
		return t, served, err
	}
	for _, x := range out.ReadMigration.Families {
		t.matched += x.Matched
		t.mismatched += x.Mismatched
		t.lag += x.Lag
		t.candidateErrors += x.CandidateErrors
		t.skipped += x.ShadowSkipped
		if x.Family == "TASKS" {
			served = tasksServed{x.ServedFromPostgres, x.Fallbacks}
		}
	}
	return t, served, nil
}

// create makes a task for the creator, so the viewer's list stays as seeded.
func (f *fixture) create(k, i int) error {
	in := map[string]any{"title": fmt.Sprintf("load %d-%d", k, i), "labelIds": f.labelPair(i), "assignee": map[string]any{"userId": f.creator.id}}
	return f.creator.do(createQuery, map[string]any{"in": in}, nil)
}

// update retitles one of the viewer's tasks; with c clients, each client
// has tasks of its own, so clients do not contend for one document.
func (f *fixture) update(c int) func(k, i int) error {
	return func(k, i int) error {
		id := f.ids[(k+i*c)%len(f.ids)]
		return f.creator.do(updateQuery, map[string]any{"id": id, "t": fmt.Sprintf("v %d-%d", k, i)}, nil)
	}
}

// ops are the operations measured, in order: the list, then updateTask,
// then createTask (which grows the data the others would read).
var ops = []string{"list", "updateTask", "createTask"}

func (f *fixture) op(name string, c int) func(k, i int) error {
	switch name {
	case "list":
		return f.list
	case "task":
		return f.task
	case "updateTask":
		return f.update(c)
	default:
		return f.create
	}
}

// modeRun is one dual-write mode's server, its data and (for the first
// mode) the raw-driver baseline on the same database.
type modeRun struct {
	mode, dbName, mirrorDB string
	srv                    *process
	f                      *fixture
	raw                    *rawTarget
	hwm                    int64
	stopped                bool
}

func (m *modeRun) stop() {
	if m.stopped || m.srv == nil {
		return
	}
	m.stopped = true
	m.raw.close()
	m.hwm = m.srv.peakRSS()
	m.srv.stop()
}

// seed signs the users in and grows the viewer's tasks; with raw, it
// prepares the raw-driver baseline on the same data.
func seed(ctx context.Context, srv *process, mode string, o benchOptions, raw *rawTarget) (*fixture, error) {
	f, err := newFixture(srv)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "dual-write %s: seeding %d tasks…\n", mode, o.tasks)
	if err := f.grow(ctx, o.tasks); err != nil {
		return nil, err
	}
	if raw != nil {
		if err := raw.prepare(ctx, f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// turns is how many slices each measurement is cut into, the modes taking
// turns slice by slice (each round starting with the next mode).
const turns = 3

// interleave measures each operation at each client count on every mode,
// and the raw-driver baseline after the first mode, the runs taking turns.
func interleave(ctx context.Context, runs []*modeRun, ferret *process, o benchOptions) []result {
	type turn struct {
		label string
		cpu   func() time.Duration
		fn    func(c int) func(k, i int) error
	}
	var out []result
	for _, name := range ops {
		var ts []turn
		for _, m := range runs {
			ts = append(ts, turn{m.mode, m.srv.cpuTime, func(c int) func(k, i int) error { return m.f.op(name, c) }})
			if m.raw != nil {
				raw := m.raw
				ts = append(ts, turn{"raw-driver", selfCPU, func(c int) func(k, i int) error { return raw.op(name, c) }})
			}
		}
		for _, c := range o.clients {
			merged := make([]*result, len(ts))
			for round := range turns {
				for j := range ts {
					k := (j + round) % len(ts)
					fn, off := ts[k].fn(c), (round+1)*1000000
					f0 := ferret.cpuTime()
					r := load(ctx, name, ts[k].label, c, o.duration/turns, ts[k].cpu, func(cl, i int) error { return fn(cl, i+off) })
					if r.n > 0 {
						r.ferret = (ferret.cpuTime() - f0) / time.Duration(r.n)
					}
					if merged[k] == nil {
						merged[k] = &r
					} else {
						*merged[k] = mergeResults(*merged[k], r)
					}
				}
			}
			for _, r := range merged {
				out = append(out, *r)
			}
		}
	}
	return out
}

// modeTrips counts a mode's MongoDB round trips per request.
func modeTrips(ctx context.Context, m *modeRun) ([]trips, error) {
	settle := time.Duration(0)
	if m.mode == "async" {
		settle = 2 * time.Second // the worker's share is the writes' cost too
	}
	var ts []trips
	for _, name := range ops {
		op := m.f.op(name, 1)
		t, err := roundTrips(ctx, m.srv, name, m.mode, 40, settle, func(i int) error { return op(0, 100000+i) })
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "  %-10s %-5s round trips/request %s\n", name, m.mode, t)
		ts = append(ts, t)
	}
	return ts, nil
}

func findAll(ctx context.Context, db *mongo.Database, coll string, filter bson.D, opts *options.FindOptionsBuilder, into any) error {
	var cur *mongo.Cursor
	var err error
	if opts != nil {
		cur, err = db.Collection(coll).Find(ctx, filter, opts)
	} else {
		cur, err = db.Collection(coll).Find(ctx, filter)
	}
	if err != nil {
		return err
	}
	return cur.All(ctx, into)
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveFerret is `bench ferretdb`: FerretDB v1 on PostgreSQL in this
// process until SIGTERM.
func serveFerret(args []string) error {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:27017", "address")
	pg := fs.String("pg", "", "PostgreSQL URL of FerretDB's database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *pg,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return f.Run(ctx)
}

package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
	"github.com/todo-backend/todo/storage/postgres"
)

// commitEnv is an engine on real stores whose committer the test starts
// (or drives) itself.
type commitEnv struct {
	e     *Engine
	mongo *mongo.Store
	m     *Mirror
	met   *Metrics
	// inserts counts the insert commands sent.
	inserts atomic.Int64
	// slowInserts delays each insert command that long before it is sent
	// (a loaded MongoDB).
	slowInserts atomic.Int64
}

func newCommitEnv(t *testing.T, async bool) *commitEnv {
	t.Helper()
	c := &commitEnv{}
	ms, err := mongo.Connect(testenv.MongoURI(t), testenv.MongoDatabase(t), mongo.Options{Monitor: &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName == "insert" {
				c.inserts.Add(1)
				time.Sleep(time.Duration(c.slowInserts.Load()))
			}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close(context.Background()) })
	db, err := postgres.Open(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	m := New(migrated(t, db))
	met := NewMetrics(prometheus.NewRegistry())
	e := NewEngine(ms, m, EngineOptions{Enabled: true, Async: async, Metrics: met, Delay: time.Hour})
	e.SetReady()
	c.e, c.mongo, c.m, c.met = e, ms, m, met
	return c
}

// write inserts a task into MongoDB the way the facade does (intent first)
// and returns its settling operation, not yet settled.
func (c *commitEnv) write(t *testing.T, title string, sync bool) (*settling, models.Task) {
	t.Helper()
	ctx := context.Background()
	op := c.e.Begin()
	op.PlanNew(Tasks, 1)
	if err := op.Record(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := op.Take(ctx, Tasks)
	if err != nil {
		t.Fatal(err)
	}
	task := models.Task{ID: id, DisplayID: "#" + id, Title: title, Status: models.StatusTodo, Priority: models.PriorityLow,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Version: 1}
	// FerretDB on PostgreSQL cannot hold a NUL either: the poisoned
	// document exists only as the operation wrote it (the committer
	// applies that copy; it does not read MongoDB).
	if !strings.ContainsRune(title, 0) {
		if err := c.mongo.InsertTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	op.Wrote(task)
	s := &settling{op: op, changes: op.wrote, recorded: len(op.recorded)}
	if sync {
		s.done = make(chan error, 1)
	}
	return s, task
}

func (c *commitEnv) intents(t *testing.T) []mongo.Intent {
	t.Helper()
	in, err := c.mongo.Intents(context.Background(), mongo.IntentFilter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// commits is how many transactions the engine applied.
func (c *commitEnv) commits(t *testing.T) uint64 {
	t.Helper()
	var m dto.Metric
	if err := c.met.Latency.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func (c *commitEnv) hasRow(t *testing.T, id string) bool {
	t.Helper()
	_, err := c.m.Row(context.Background(), Tasks, id)
	if errors.Is(err, ErrNoRow) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// Operations waiting together are applied in one transaction, and their
// intents cleared, before the waiting requests are answered.
func TestGroupCommitAppliesWaitingOperationsTogether(t *testing.T) {
	c := newCommitEnv(t, false)
	c.e.commit.running = true // queue before the committer starts: all six wait together
	var batch []*settling
	var tasks []models.Task
	for i := range 6 {
		s, task := c.write(t, fmt.Sprintf("grouped %d", i), true)
		if !c.e.queue(s) {
			t.Fatal("the committer's queue refused an operation")
		}
		batch, tasks = append(batch, s), append(tasks, task)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); c.e.RunCommitter(ctx) }()
	defer func() { cancel(); <-stopped }()
	for i, s := range batch {
		select {
		case err := <-s.done:
			if err != nil {
				t.Fatalf("operation %d: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("operation %d: no answer from the committer in 30 s", i)
		}
		// Answered only once its row is in and its intents are gone.
		if !c.hasRow(t, tasks[i].ID) {
			t.Errorf("operation %d answered before its row was written", i)
		}
	}
	if n := c.commits(t); n != 1 {
		t.Errorf("transactions for six waiting operations: got %d, want 1", n)
	}
	if in := c.intents(t); len(in) != 0 {
		t.Errorf("intents after the commit: got %d, want none", len(in))
	}
}

// A document the mirror cannot store fails its own operation only: the
// others of its batch are applied and cleared.
func TestGroupCommitIsolatesAPoisonedOperation(t *testing.T) {
	c := newCommitEnv(t, false)
	good1, t1 := c.write(t, "good one", true)
	bad, tb := c.write(t, "bad \x00 title", true)
	good2, t2 := c.write(t, "good two", true)
	c.e.commitBatch(context.Background(), []*settling{good1, bad, good2})
	for name, s := range map[string]*settling{"first": good1, "second": good2} {
		if err := <-s.done; err != nil {
			t.Errorf("%s good operation: %v", name, err)
		}
	}
	if err := <-bad.done; err == nil || classify(err) != permanent {
		t.Errorf("poisoned operation: got %v, want a permanent failure", err)
	}
	if !c.hasRow(t, t1.ID) || !c.hasRow(t, t2.ID) {
		t.Error("the good operations' rows are missing")
	}
	if c.hasRow(t, tb.ID) {
		t.Error("the poisoned row was written")
	}
	in := c.intents(t)
	if len(in) != 1 || in[0].DocID != tb.ID {
		t.Errorf("intents after the batch: got %+v, want the poisoned task's only", in)
	}
}

// An asynchronous operation is answered before the mirror is written; one
// still queued when the committer stops goes to the worker, which applies
// the document as MongoDB holds it.
func TestQueuedAsyncOperationsGoToTheWorkerAtStop(t *testing.T) {
	c := newCommitEnv(t, true)
	c.e.commit.running = true
	s, task := c.write(t, "queued", false)
	if !c.e.queue(s) {
		t.Fatal("the committer's queue refused an operation")
	}
	// Stopped before it took the operation (RunCommitter's ending).
	c.e.commit.running = false
	c.e.drainCommits(context.Background())
	if c.hasRow(t, task.ID) {
		t.Fatal("the row was written by the stopped committer")
	}
	n, err := c.e.RunOnce(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("worker pass: claimed %d, err %v; want the queued operation's intent", n, err)
	}
	if !c.hasRow(t, task.ID) {
		t.Error("the worker did not apply the handed-over operation")
	}
	if in := c.intents(t); len(in) != 0 {
		t.Errorf("intents after the worker: got %d, want none", len(in))
	}
}

// An asynchronous operation queued for longer than the worker leaves it
// alone is not applied from its old copy: the worker re-reads it.
func TestStaleQueuedOperationIsLeftToTheWorker(t *testing.T) {
	c := newCommitEnv(t, true)
	s, task := c.write(t, "stale", false)
	s.op.began = s.op.began.Add(-c.e.grace())
	c.e.commitBatch(context.Background(), []*settling{s})
	if c.hasRow(t, task.ID) {
		t.Error("a stale queued copy was applied")
	}
	in := c.intents(t)
	if len(in) != 1 || in[0].NextAttemptAt.After(time.Now()) {
		t.Errorf("intents: got %+v, want the operation's one, due now", in)
	}
}

// A hard delete settled before an older copy of the same document (the
// queue holds operations in the order they settled, not wrote) is not
// undone by that copy: in one batch, or applied earlier by anyone.
func TestQueuedCopyDoesNotBringADeletedRowBack(t *testing.T) {
	c := newCommitEnv(t, true)
	ctx := context.Background()
	deletion := func(id string) *settling {
		op := c.e.Begin()
		op.Plan(Ref{Tasks, id})
		if err := op.Record(ctx); err != nil {
			t.Fatal(err)
		}
		op.Deleted(Tasks, id)
		return &settling{op: op, changes: op.wrote, recorded: len(op.recorded)}
	}
	// In one batch: the delete settled first.
	older, task := c.write(t, "deleted while its writer was still writing", false)
	c.e.commitBatch(ctx, []*settling{deletion(task.ID), older})
	if c.hasRow(t, task.ID) {
		t.Error("one batch: the older copy brought the deleted row back")
	}
	// Across batches: the delete was applied before (the worker, another
	// commit), then the older copy comes.
	older2, task2 := c.write(t, "deleted by an earlier commit", false)
	c.e.commitBatch(ctx, []*settling{deletion(task2.ID)})
	c.e.commitBatch(ctx, []*settling{older2})
	if c.hasRow(t, task2.ID) {
		t.Error("two batches: the older copy brought the deleted row back")
	}
	if in := c.intents(t); len(in) != 0 {
		t.Errorf("intents after both: got %d, want none", len(in))
	}
}

// Requests that record intents while an insert is under way wait together,
// and one insert records all of theirs; each is answered once its own are
// in.
func TestIntentsOfWaitingRequestsShareOneInsert(t *testing.T) {
	c := newCommitEnv(t, false)
	ctx := context.Background()
	c.e.rec.busy = true // an insert is under way
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			op := c.e.Begin()
			op.PlanNew(Tasks, 2)
			errs <- op.Record(ctx)
		})
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		c.e.rec.mu.Lock()
		n := len(c.e.rec.waiting)
		c.e.rec.mu.Unlock()
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 5 requests waiting after 30 s", n)
		}
	}
	before := c.inserts.Load()
	// The insert under way ends: it hands the turn to the first waiting.
	me := &recording{done: make(chan error, 1), lead: make(chan []*recording, 1)}
	if err := c.e.insertBatch(ctx, []*recording{me}, me); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a waiting request: %v", err)
		}
	}
	if n := c.inserts.Load() - before; n != 1 {
		t.Errorf("inserts for five waiting requests: got %d, want 1", n)
	}
	if in := c.intents(t); len(in) != 10 {
		t.Errorf("intents recorded: got %d, want 10", len(in))
	}
	if c.e.rec.busy {
		t.Error("the recorder is still busy with nobody waiting")
	}
}

// Recording intents is a MongoDB write of the request: bounded by the
// request's deadline, not by the mirror's apply timeout. (Bounded by twice
// that, a loaded MongoDB failed the request's write.)
func TestRecordingIsBoundedByTheRequestNotTheMirror(t *testing.T) {
	c := newCommitEnv(t, false)
	c.e.o.Timeout = 20 * time.Millisecond
	c.slowInserts.Store(int64(150 * time.Millisecond))
	record := func(bound time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		op := c.e.Begin()
		op.PlanNew(Tasks, 1)
		return op.Record(ctx)
	}
	if err := record(10 * time.Second); err != nil {
		t.Errorf("recording within a 10 s request, MongoDB answering in 150 ms, mirror timeout 20 ms: got %v, want success", err)
	}
	if err := record(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("recording within a 50 ms request, MongoDB answering in 150 ms: got %v, want the request's deadline exceeded", err)
	}
}

package mirror

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/storage/mongo"
)

// The write protocol (SPEC §6.3), as the storage facade drives it:
//
//  1. Begin records an intent for every document the operation is about to
//     write, in one insert into a small collection, before the first write:
//     a crash at any instant leaves an intent for every write that may have
//     happened. (An intent for a write that never happened is harmless:
//     applying re-reads the document.)
//  2. The facade writes MongoDB, bumping each document's version, and tells
//     the Op what it wrote.
//  3. Settle applies the written documents to PostgreSQL in one transaction,
//     each upsert guarded by version, bounded by a timeout; then it deletes
//     the operation's intents. If PostgreSQL fails or is slow, the mutation
//     still succeeds: the intents stay, and the worker retries them.
//
// The worker claims due intents under a lease (many instances may run it),
// re-reads each document and applies its current state, or deletes the row
// of a document that no longer exists (hard deletes). Failed attempts back
// off exponentially with jitter; after the configured attempts an intent is
// FAILED, kept and listed until an admin retries it.

// Ref names a document.
type Ref struct {
	Collection string
	ID         string
}

// EngineOptions configure the engine (DUAL_WRITE_* in SPEC §2.2).
type EngineOptions struct {
	// Enabled applies intents; when off they are still recorded, so turning
	// it back on catches up.
	Enabled bool
	// Async leaves applying to the worker, woken at once.
	Async    bool
	Attempts int
	// Delay is the wait before the first background retry.
	Delay time.Duration
	// Timeout bounds one apply.
	Timeout time.Duration
	// Poll is how often the worker looks for due intents when not woken.
	Poll     time.Duration
	Log      *slog.Logger
	Now      func() time.Time
	Instance string
	Metrics  *Metrics
}

// Engine runs the protocol.
type Engine struct {
	mongo  *mongo.Store
	mirror *Mirror
	o      EngineOptions
	ready  atomic.Bool
	wake   chan struct{}
	// crashAfterWrite is a test hook: Settle does nothing, as if the process
	// died between the MongoDB write and the mirror write.
	crashAfterWrite atomic.Bool
	lat             latencies
}

// NewEngine builds the engine. The mirror database must be migrated before
// intents are applied: call SetReady then.
func NewEngine(m *mongo.Store, mir *Mirror, o EngineOptions) *Engine {
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Delay <= 0 {
		o.Delay = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Instance == "" {
		o.Instance = bson.NewObjectID().Hex()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return &Engine{mongo: m, mirror: mir, o: o, wake: make(chan struct{}, 1)}
}

// SetReady marks the mirror database migrated: intents may be applied.
func (e *Engine) SetReady() {
	e.ready.Store(true)
	e.nudge()
}

// Ready reports whether the mirror database is migrated.
func (e *Engine) Ready() bool { return e.ready.Load() }

// SimulateCrashAfterWrite makes Settle skip its work, as a process killed
// between the MongoDB write and the mirror write would. Tests only.
func (e *Engine) SimulateCrashAfterWrite(on bool) { e.crashAfterWrite.Store(on) }

func (e *Engine) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) now() time.Time { return e.o.Now().UTC() }

// Op is one operation's share of the protocol. A nil *Op (no engine) does
// nothing, so the facade runs the same code with and without a mirror.
type Op struct {
	e     *Engine
	token string
	mu    sync.Mutex
	// recorded are the documents with an intent; planned wait for Record;
	// fresh are ids planned for documents the operation will insert.
	recorded map[Ref]bool
	planned  []Ref
	fresh    map[string][]string
	wrote    []Change
	// failed: a write returned an error, so it may or may not have
	// happened; the intents are left to the worker, which re-reads.
	failed bool
}

// Begin starts an operation; nothing is written until Record or Need.
func (e *Engine) Begin() *Op {
	if e == nil {
		return nil
	}
	return &Op{e: e, token: bson.NewObjectID().Hex(), recorded: map[Ref]bool{}, fresh: map[string][]string{}}
}

// Plan adds existing documents the operation will write.
func (op *Op) Plan(refs ...Ref) {
	if op == nil {
		return
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	for _, r := range refs {
		if !op.recorded[r] && !slices.Contains(op.planned, r) {
			op.planned = append(op.planned, r)
		}
	}
}

// PlanNew reserves ids for n documents the operation will insert into coll;
// Take hands them out.
func (op *Op) PlanNew(coll string, n int) {
	if op == nil {
		return
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	for range n {
		id := bson.NewObjectID().Hex()
		op.fresh[coll] = append(op.fresh[coll], id)
		op.planned = append(op.planned, Ref{coll, id})
	}
}

// Record writes the intents of everything planned, in one round trip, before
// the operation's first write.
func (op *Op) Record(ctx context.Context) error {
	if op == nil {
		return nil
	}
	op.mu.Lock()
	refs := op.planned
	op.planned = nil
	op.mu.Unlock()
	// The worker leaves an operation's intents alone until the operation
	// had its chance to write: Settle makes them due (async) or clears them
	// (sync); only a crash or a failure leaves them to come due by time.
	if err := op.e.record(ctx, op.token, refs, op.e.now().Add(op.e.grace())); err != nil {
		return err
	}
	op.mu.Lock()
	for _, r := range refs {
		op.recorded[r] = true
	}
	op.mu.Unlock()
	return nil
}

// Need makes sure ref has an intent before it is written: free when it was
// planned and recorded, one round trip otherwise.
func (op *Op) Need(ctx context.Context, ref Ref) error {
	if op == nil {
		return nil
	}
	op.mu.Lock()
	done := op.recorded[ref]
	op.mu.Unlock()
	if done {
		return nil
	}
	op.Plan(ref)
	return op.Record(ctx)
}

// Take returns an id for a new document of coll: a planned one, or a fresh
// one recorded now.
func (op *Op) Take(ctx context.Context, coll string) (string, error) {
	if op == nil {
		return bson.NewObjectID().Hex(), nil
	}
	op.mu.Lock()
	if ids := op.fresh[coll]; len(ids) > 0 {
		op.fresh[coll] = ids[1:]
		planned := !op.recorded[Ref{coll, ids[0]}]
		op.mu.Unlock()
		if planned {
			return ids[0], op.Record(ctx)
		}
		return ids[0], nil
	}
	op.mu.Unlock()
	id := bson.NewObjectID().Hex()
	return id, op.Need(ctx, Ref{coll, id})
}

// record inserts intents for refs, due at due.
func (e *Engine) record(ctx context.Context, token string, refs []Ref, due time.Time) error {
	if len(refs) == 0 {
		return nil
	}
	now := e.now()
	intents := make([]mongo.Intent, len(refs))
	for i, r := range refs {
		intents[i] = mongo.Intent{ID: bson.NewObjectID(), Coll: r.Collection, DocID: r.ID, Token: token,
			State: mongo.IntentPending, CreatedAt: now, NextAttemptAt: due}
	}
	return e.mongo.InsertIntents(ctx, intents)
}

// Wrote records a document as MongoDB stored it.
func (op *Op) Wrote(doc any) {
	if op == nil {
		return
	}
	c := Change{Collection: Collection(doc), Doc: deref(doc)}
	if rec, err := Map(doc); err == nil {
		c.ID = rec.sync().MongoID
	}
	op.mu.Lock()
	op.wrote = append(op.wrote, c)
	op.mu.Unlock()
}

// Deleted records a hard delete.
func (op *Op) Deleted(collection, id string) {
	if op == nil {
		return
	}
	op.mu.Lock()
	op.wrote = append(op.wrote, Change{Collection: collection, ID: id})
	op.mu.Unlock()
}

// Failed marks the operation as having a write of unknown outcome.
func (op *Op) Failed() {
	if op == nil {
		return
	}
	op.mu.Lock()
	op.failed = true
	op.mu.Unlock()
}

// grace is how long the worker leaves a fresh intent to its operation.
func (e *Engine) grace() time.Duration { return max(e.o.Delay, 2*e.o.Timeout) }

// Settle finishes the operation: applies what it wrote and clears its
// intents (sync mode), or wakes the worker (async). Nothing here fails the
// caller: a mirror problem is logged and left to the worker.
func (e *Engine) Settle(ctx context.Context, op *Op) {
	if e == nil || op == nil || e.crashAfterWrite.Load() {
		return
	}
	op.mu.Lock()
	changes, failed, recorded := op.wrote, op.failed, len(op.recorded)
	op.mu.Unlock()
	if recorded == 0 {
		return
	}
	// Detached from the request: a client that hangs up must not cancel the
	// copy of a write that already happened. Each step has a bound of its
	// own: handing over after an apply that ran out of time must not run
	// on that apply's expired context.
	ctx = context.WithoutCancel(ctx)
	if !e.o.Enabled || !e.Ready() || e.o.Async || failed {
		// The worker applies them: now in async mode, after the usual delay
		// otherwise (a failed write may still be landing).
		due := e.now()
		if !e.o.Async {
			due = due.Add(e.o.Delay)
		}
		e.handOver(ctx, op, changes, recorded, due)
		return
	}
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	err := e.mirror.ApplyAll(actx, changes)
	cancel()
	if err != nil {
		e.o.Metrics.failure(changes)
		e.o.Log.WarnContext(ctx, "mirror write failed; the worker will retry", "changes", len(changes), "err", err)
		e.handOver(ctx, op, changes, recorded, e.now().Add(e.o.Delay))
		return
	}
	e.lat.add(time.Since(start))
	e.o.Metrics.applied(changes, time.Since(start))
	cctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	if err := e.mongo.ClearIntents(cctx, op.token, e.now()); err != nil {
		// The rows are written; the worker will find them up to date.
		e.o.Log.WarnContext(ctx, "clearing mirror intents failed", "err", err)
	}
}

// handOver leaves an operation's documents to the worker, due at due. Its
// intents normally still wait; if a worker pass took some before the
// writes landed (a write slower than the grace period), they are recorded
// again, so no write goes without an intent.
func (e *Engine) handOver(ctx context.Context, op *Op, changes []Change, recorded int, due time.Time) {
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	n, err := e.mongo.RescheduleIntents(ctx, op.token, due)
	if err == nil && int(n) < recorded {
		refs := make([]Ref, len(changes))
		for i, c := range changes {
			refs[i] = Ref{c.Collection, c.ID}
		}
		err = e.record(ctx, op.token+":again", refs, due)
	}
	if err != nil {
		e.o.Log.ErrorContext(ctx, "handing mirror writes to the worker failed", "err", err)
	}
	e.nudge()
}

// Run is the retry worker: it applies due intents until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	for {
		if e.o.Enabled && e.Ready() {
			for {
				n, err := e.RunOnce(ctx)
				if err != nil && ctx.Err() == nil {
					e.o.Log.WarnContext(ctx, "mirror worker pass failed", "err", err)
				}
				if n == 0 || err != nil {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
	}
}

// batch is how many intents one worker pass claims.
const batch = 100

// RunOnce claims and applies one batch of due intents and reports how many
// it claimed.
func (e *Engine) RunOnce(ctx context.Context) (int, error) {
	now := e.now()
	owner := e.o.Instance + ":" + bson.NewObjectID().Hex()
	lease := now.Add(max(30*time.Second, 4*e.o.Timeout))
	intents, err := e.mongo.ClaimIntents(ctx, owner, now, lease, batch)
	if err != nil || len(intents) == 0 {
		return 0, err
	}
	byColl := map[string][]string{}
	for _, in := range intents {
		byColl[in.Coll] = append(byColl[in.Coll], in.DocID)
	}
	docs := map[Ref]any{}
	readErr := map[string]error{}
	for coll, ids := range byColl {
		got, err := e.mongo.DocsByIDs(ctx, coll, ids)
		if err != nil {
			readErr[coll] = err
			continue
		}
		for id, d := range got {
			docs[Ref{coll, id}] = d
		}
	}
	results := map[Ref]error{}
	for _, in := range intents {
		ref := Ref{in.Coll, in.DocID}
		if _, done := results[ref]; done {
			continue
		}
		if err := readErr[in.Coll]; err != nil {
			results[ref] = err
			continue
		}
		actx, cancel := context.WithTimeout(ctx, e.o.Timeout)
		start := time.Now()
		change := []Change{{Collection: in.Coll, ID: in.DocID, Doc: docs[ref]}}
		err := e.mirror.ApplyAll(actx, change)
		cancel()
		results[ref] = err
		if err == nil {
			e.lat.add(time.Since(start))
			e.o.Metrics.applied(change, time.Since(start))
		} else {
			e.o.Metrics.failure(change)
		}
	}
	var finished []bson.ObjectID
	for _, in := range intents {
		err := results[Ref{in.Coll, in.DocID}]
		if err == nil {
			finished = append(finished, in.ID)
			continue
		}
		e.o.Metrics.retry(in.Coll)
		attempts := in.Attempts + 1
		failed := attempts >= e.o.Attempts
		next := now.Add(backoff(e.o.Delay, attempts))
		if ferr := e.mongo.FailIntent(ctx, in, owner, err.Error(), now, next, failed); ferr != nil {
			return len(intents), ferr
		}
		if failed {
			e.o.Log.ErrorContext(ctx, "mirror write FAILED after retries", "collection", in.Coll, "id", in.DocID,
				"attempts", attempts, "err", err)
		}
	}
	if err := e.mongo.FinishIntents(ctx, finished, owner); err != nil {
		return len(intents), err
	}
	return len(intents), nil
}

// backoff is delay·2^(attempt-1), at most an hour, with ±50 % jitter so
// instances retrying together spread out.
func backoff(delay time.Duration, attempt int) time.Duration {
	d := delay << min(attempt-1, 20)
	if d > time.Hour || d <= 0 {
		d = time.Hour
	}
	return d/2 + rand.N(d) //nolint:gosec // G404: jitter needs no cryptographic randomness
}

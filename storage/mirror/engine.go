package mirror

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
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
// whole operations at a time (every intent of a token), re-reads the
// documents and applies each operation's current state in one transaction,
// or deletes the rows of documents that no longer exist (hard deletes).
//
// Faults (faults.go): a transient failure is retried for as long as it
// lasts, backing off exponentially with jitter up to MaxBackoff; after the
// configured attempts the intent is flagged FAILED for visibility and still
// retried. A permanent failure (the mirror cannot store a value) is isolated
// to its document, parked FAILED with its reason, and waits for an admin's
// retry or a later write of the document. A mirror that stops answering
// opens a circuit breaker: requests hand their writes to the worker at
// once, the worker probes, and the first answer closes it and makes every
// waiting retry due.

// Ref names a document.
type Ref struct {
	Collection string
	ID         string
}

// EngineOptions configure the engine (DUAL_WRITE_* in SPEC §2.2).
type EngineOptions struct {
	// Enabled mirrors writes. Off, nothing is recorded (no cost); turning
	// it on again catches up by a guarded backfill (CatchUp).
	Enabled bool
	// Async leaves applying to the worker, woken at once.
	Async    bool
	Attempts int
	// Delay is the wait before the first background retry.
	Delay time.Duration
	// Timeout bounds one apply.
	Timeout time.Duration
	// Poll is how often the worker looks for due intents when not woken.
	Poll time.Duration
	// MaxBackoff caps the wait between retries of a transient failure.
	MaxBackoff time.Duration
	// VerifyInterval is the time between background verification passes
	// (0: none); VerifyRate caps the documents a pass compares per second
	// (0: no cap); VerifyRepair makes it repair the drift it finds.
	VerifyInterval time.Duration
	VerifyRate     int
	VerifyRepair   bool
	// OffBeat is how often an instance with mirroring off notes it (see
	// KeepOff); 30 s by default.
	OffBeat  time.Duration
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
	brk             breaker
	catch           catchUp
	recent          recentRefs
	commit          committer
	rec             recorder
	off             offCache
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
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.OffBeat <= 0 {
		o.OffBeat = 30 * time.Second
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
	return &Engine{mongo: m, mirror: mir, o: o, wake: make(chan struct{}, 1), commit: committer{q: make(chan *settling, commitQueue)}}
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
	// began precedes every write of the operation: a permanent failure
	// of one of its documents older than that saw an older version.
	began time.Time
	mu    sync.Mutex
	// recorded are the documents with an intent; planned wait for Record;
	// fresh are ids planned for documents the operation will insert, not
	// handed out yet; made are all the ids it chose for new documents.
	recorded map[Ref]bool
	planned  []Ref
	fresh    map[string][]string
	made     map[Ref]bool
	wrote    []Change
	// failed: a write returned an error, so it may or may not have
	// happened; the intents are left to the worker, which re-reads.
	failed bool
}

// Begin starts an operation; nothing is written until Record or Need.
// With mirroring off it returns nil: nothing is recorded.
func (e *Engine) Begin() *Op {
	if e == nil || !e.o.Enabled {
		return nil
	}
	return &Op{e: e, token: bson.NewObjectID().Hex(), began: e.now(), recorded: map[Ref]bool{}, fresh: map[string][]string{},
		made: map[Ref]bool{}}
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
		op.made[Ref{coll, id}] = true
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
	id := bson.NewObjectID().Hex()
	op.made[Ref{coll, id}] = true
	op.mu.Unlock()
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
	return e.insertIntents(ctx, intents)
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

// asyncLag is how many operations may wait for the committer before
// asynchronous requests wait for theirs too.
const asyncLag = 64

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
	switch {
	case failed:
		// A write of unknown outcome may still be landing: the worker
		// applies after the usual delay, re-reading.
		e.handOver(ctx, op, changes, recorded, e.now().Add(e.o.Delay))
		return
	case e.brk.isOpen() && !e.o.Async && e.now().Sub(op.began) < e.grace()/2:
		// The mirror stopped answering: the request does not wait for it,
		// and costs nothing more. Its intents come due by themselves at
		// the end of their grace, well after its writes (it is young), and
		// the worker applies them once the mirror answers again.
		return
	case !e.Ready() || e.brk.isOpen():
		// The worker applies them now.
		e.handOver(ctx, op, changes, recorded, e.now())
		return
	case e.o.Async && len(e.commit.q) < asyncLag:
		// The committer applies them with whatever else is waiting (see
		// commit.go); the worker if it cannot take them.
		if !e.queue(&settling{op: op, changes: changes, recorded: recorded}) {
			e.handOver(ctx, op, changes, recorded, e.now())
		}
		return
	}
	// Synchronous, or asynchronous behind a committer that lags: the
	// request waits for its commit, so writers cannot outrun the mirror
	// (their queued copies would go stale and fall to the worker, which
	// re-reads each one: the slow path, just when it is busy).
	queued, err := e.awaitCommit(op, changes, recorded)
	if errors.Is(err, errBreakerOpen) {
		if e.now().Sub(op.began) < e.grace()/2 {
			return // as above: its intents come due by themselves
		}
		e.handOver(ctx, op, changes, recorded, e.now())
		return
	}
	if !queued {
		// No committer (a command, a test driving the engine by hand) or a
		// full queue: the request applies its own.
		if err = e.apply(ctx, changes); err == nil {
			cctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
			defer cancel()
			if err := e.mongo.ClearIntents(cctx, op.token, e.now(), op.existing(changes), op.began); err != nil {
				// The rows are written; the worker will find them up to date.
				e.o.Log.WarnContext(ctx, "clearing mirror intents failed", "err", err)
			}
			return
		}
	}
	if err != nil {
		e.o.Log.WarnContext(ctx, "mirror write failed; the worker will retry", "changes", len(changes), "err", err)
		e.handOver(ctx, op, changes, recorded, e.now().Add(e.o.Delay))
	}
}

// apply writes one operation's documents in one transaction, bounded by
// the apply timeout, and feeds the outcome to the metrics and the breaker.
func (e *Engine) apply(ctx context.Context, changes []Change) error {
	return e.applyWithin(ctx, changes, e.o.Timeout)
}

// applyWithin is apply with a bound of its own.
func (e *Engine) applyWithin(ctx context.Context, changes []Change, bound time.Duration) error {
	return e.applyFor(ctx, changes, bound, 1)
}

// applyFor is applyWithin for ops operations applied together: an
// unreachable mirror counts as a failure for each of them, so the breaker
// opens after as many failed operations whether they were applied alone
// or in one commit.
func (e *Engine) applyFor(ctx context.Context, changes []Change, bound time.Duration, ops int) error {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, bound)
	err := e.mirror.ApplyAll(actx, changes)
	cancel()
	if err == nil {
		e.lat.add(time.Since(start))
		e.o.Metrics.applied(changes, time.Since(start))
		e.recent.add(changes)
		e.commit.gone.add(e.now(), changes)
		e.reached(ctx)
		return nil
	}
	e.o.Metrics.failure(changes)
	switch {
	case ctx.Err() != nil:
		return err // the caller's time ran out (or it stopped), not the mirror's
	case classify(err) != unreachable:
		if fromDatabase(err) {
			e.reached(ctx) // it answered, with a refusal
		}
		return err
	}
	for range max(ops, 1) {
		if e.brk.failed(e.now()) {
			e.o.Metrics.Breaker.Set(1)
			e.o.Log.WarnContext(ctx, "mirror unreachable: writes go to the worker until it answers", "err", err)
		}
	}
	return err
}

// reached notes that the mirror answered. If that closes the breaker,
// every retry waiting out its backoff is made due now: an outage ends with
// one catch-up, not with each write's own timer.
func (e *Engine) reached(ctx context.Context) {
	closed, was := e.brk.reached(e.now())
	if !closed {
		return
	}
	e.o.Metrics.Breaker.Set(0)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.Timeout)
	defer cancel()
	n, err := e.mongo.WakeRetrying(wctx, e.now())
	if err != nil {
		e.o.Log.WarnContext(ctx, "waking mirror retries failed; they run at their time", "err", err)
	}
	e.o.Log.InfoContext(ctx, "mirror reachable again", "unreachable_for", was.Round(time.Millisecond), "retries_woken", n)
	e.nudge()
}

// Unreachable reports whether the breaker is not closed: the mirror
// stopped answering and writes wait for the worker.
func (e *Engine) Unreachable() bool { return e.brk.isOpen() }

// existing are the documents of changes the operation did not create: only
// those can have failed before it (a new document's id is its own), so only
// those are looked up for failures it supersedes when its intents go.
func (op *Op) existing(changes []Change) []mongo.DocRef {
	op.mu.Lock()
	defer op.mu.Unlock()
	out := make([]mongo.DocRef, 0, len(changes))
	for _, c := range changes {
		if !op.made[Ref{c.Collection, c.ID}] {
			out = append(out, mongo.DocRef{Coll: c.Collection, DocID: c.ID})
		}
	}
	return out
}

func docRefs(changes []Change) []mongo.DocRef {
	out := make([]mongo.DocRef, len(changes))
	for i, c := range changes {
		out[i] = mongo.DocRef{Coll: c.Collection, DocID: c.ID}
	}
	return out
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
		// Every document the operation recorded, not only those it saw
		// written: a write that failed may still have landed.
		op.mu.Lock()
		refs := make([]Ref, 0, len(op.recorded))
		for r := range op.recorded {
			refs = append(refs, r)
		}
		op.mu.Unlock()
		slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.Collection+a.ID, b.Collection+b.ID) })
		err = e.record(ctx, op.token+":again", refs, due)
	}
	if err != nil {
		e.o.Log.ErrorContext(ctx, "handing mirror writes to the worker failed", "err", err)
	}
	e.nudge()
}

// Run is the retry worker: it applies due intents until ctx ends. While
// the breaker is open it only probes the mirror, once per poll.
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
				if n == 0 || err != nil || e.brk.stalled() {
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

// probe asks an unreachable mirror, at most once a poll, whether it
// answers again, and reports whether the worker may try its writes (the
// breaker is closed or half-open).
func (e *Engine) probe(ctx context.Context) bool {
	probe, open := e.brk.needsProbe(e.now(), e.o.Poll)
	if !open {
		return true
	}
	if !probe {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	err := e.mirror.Ping(pctx)
	cancel()
	if err != nil {
		return false
	}
	e.brk.answered()
	return true
}

// batch is how many intents one worker pass claims (and the other intents
// of their operations). A pass costs a few queries of the intent collection
// and one read per collection whatever its size (on FerretDB each is a
// scan), so after an outage bigger passes catch up sooner: a 6,000-intent
// backlog took 36 s in passes of 500 and 20 s in passes of 2,000 (most of
// it FerretDB leasing each intent, about 3.5 ms apiece under -race).
const batch = 1000

// leaseFor is how long a pass holds its intents: longer than claiming,
// reading and applying a whole batch takes.
func (e *Engine) leaseFor() time.Duration { return max(time.Minute, 4*e.o.Timeout) }

// RunOnce claims and applies one batch of due intents and reports how many
// it claimed. While the breaker is open it only probes the mirror, and
// claims nothing unless it answers.
func (e *Engine) RunOnce(ctx context.Context) (int, error) {
	if !e.probe(ctx) {
		return 0, nil
	}
	now := e.now()
	owner := e.o.Instance + ":" + bson.NewObjectID().Hex()
	lease := now.Add(e.leaseFor())
	intents, err := e.mongo.ClaimIntents(ctx, owner, now, lease, batch)
	if err != nil {
		return 0, err
	}
	if len(intents) == 0 {
		if e.brk.isOpen() {
			// Half-open with nothing to try: the probe's answer is all
			// there is to go by. A request's apply tests it next (probes
			// back off if it keeps failing, see breaker).
			e.reached(ctx)
		}
		return 0, nil
	}
	groups, early := byToken(intents, now, e.grace())
	if len(early) > 0 {
		// An operation some of whose intents were recorded within the
		// grace may still be writing: it is left whole to its grace.
		if err := e.booked(ctx, func(c context.Context) error { return e.mongo.ReleaseIntents(c, early, owner, time.Time{}) }); err != nil {
			return 0, err
		}
	}
	worked := len(intents) - len(early)
	readAt := e.now()
	docs, readErr := e.read(ctx, groups)
	var w passWork
	// Operations share transactions, in the order they were recorded (each
	// still whole), a chunk at a time: after an outage the backlog is
	// thousands of operations, and a transaction each made catching up
	// take half a minute; chunks keep each transaction's row locks short
	// for the requests' own applies. A chunk that fails goes one operation
	// at a time.
	for start := 0; start < len(groups); {
		end, all := chunkOf(groups, start, docs, readErr)
		if all != nil && end-start > 1 && !e.brk.stalled() && ctx.Err() == nil {
			if err := e.applyWithin(ctx, all, e.o.Timeout+time.Duration(len(all))*10*time.Millisecond); err == nil {
				for _, g := range groups[start:end] {
					w.finished = append(w.finished, intentIDs(g)...)
				}
				w.applied = append(w.applied, docRefs(all)...)
				start = end
				continue
			}
		}
		for gi := start; gi < end; gi++ {
			if e.brk.stalled() || ctx.Err() != nil {
				// The mirror stopped answering, or the worker is stopping:
				// the rest go back untried, their attempts unchanged.
				var rest []bson.ObjectID
				for _, g := range groups[gi:] {
					rest = append(rest, intentIDs(g)...)
				}
				next := e.now().Add(e.o.Delay)
				if ctx.Err() != nil {
					next = time.Time{}
				}
				if err := e.booked(ctx, func(c context.Context) error { return e.mongo.ReleaseIntents(c, rest, owner, next) }); err != nil {
					return worked, err
				}
				start = len(groups)
				break
			}
			if err := e.applyOne(ctx, groups[gi], owner, docs, readErr, &w); err != nil {
				return worked, err
			}
		}
		start = max(start, end)
	}
	// A document deleted while the pass ran (its own operation removed the
	// row) must not come back from the copy read before.
	if err := e.booked(ctx, func(c context.Context) error { return e.dropGone(c, w.applied) }); err != nil {
		return worked, err
	}
	if err := e.booked(ctx, func(c context.Context) error { return e.mongo.FinishIntents(c, w.finished, owner, w.applied, readAt) }); err != nil {
		return worked, err
	}
	return worked, nil
}

// booked runs one step of a pass's bookkeeping: to its end even when the
// caller's time ran out (a claim left behind waits out its lease), within
// a bound of its own.
func (e *Engine) booked(ctx context.Context, step func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.Timeout+5*time.Second)
	defer cancel()
	return step(c)
}

// dropGone deletes the rows of applied documents that no longer exist.
func (e *Engine) dropGone(ctx context.Context, applied []mongo.DocRef) error {
	byColl := map[string][]string{}
	for _, d := range applied {
		byColl[d.Coll] = append(byColl[d.Coll], d.DocID)
	}
	for coll, ids := range byColl {
		if err := e.dropDeleted(ctx, coll, ids); err != nil {
			return err
		}
	}
	return nil
}

// passWork is what a pass applied: the intents to delete, and their
// documents.
type passWork struct {
	finished []bson.ObjectID
	applied  []mongo.DocRef
}

// applyOne applies one operation's documents in one transaction. If one of
// them cannot be stored, the operation cannot be applied whole: each
// document goes alone, so the poison fails by itself and the others flow.
// An attempt cut short by the worker stopping is given back untried.
func (e *Engine) applyOne(ctx context.Context, g []mongo.Intent, owner string, docs map[Ref]any, readErr map[string]error, w *passWork) error {
	refs := groupRefs(g)
	changes, err := changesOf(refs, docs, readErr)
	if err != nil {
		// MongoDB did not answer the read: retry later.
		return e.failOrRelease(ctx, g, nil, owner, err, transient)
	}
	err = e.apply(ctx, changes)
	if err == nil {
		w.finished = append(w.finished, intentIDs(g)...)
		w.applied = append(w.applied, docRefs(changes)...)
		return nil
	}
	if f := classify(err); f != permanent || len(refs) == 1 {
		return e.failOrRelease(ctx, g, changes, owner, err, f)
	}
	for i, ref := range refs {
		mine := intentsOf(g, ref)
		if err := e.apply(ctx, changes[i:i+1]); err != nil {
			if err := e.failOrRelease(ctx, mine, changes[i:i+1], owner, err, classify(err)); err != nil {
				return err
			}
			continue
		}
		w.finished = append(w.finished, intentIDs(mine)...)
		w.applied = append(w.applied, docRefs(changes[i:i+1])...)
	}
	return nil
}

// failOrRelease records a failed attempt, or, when the worker's own
// context ended (shutdown, a command's bound), gives the intents back
// untried: that is no fault of the mirror's.
func (e *Engine) failOrRelease(ctx context.Context, g []mongo.Intent, changes []Change, owner string, err error, f fault) error {
	if ctx.Err() != nil {
		return e.booked(ctx, func(c context.Context) error { return e.mongo.ReleaseIntents(c, intentIDs(g), owner, time.Time{}) })
	}
	return e.booked(ctx, func(c context.Context) error { return e.fail(c, g, changes, owner, err, f) })
}

// chunkChanges is about how many documents one shared transaction of a
// pass holds.
const chunkChanges = 200

// chunkOf takes operations from start until they hold about chunkChanges
// documents, and returns where the chunk ends and its documents, each once,
// in order; nil when a read failed.
func chunkOf(groups [][]mongo.Intent, start int, docs map[Ref]any, readErr map[string]error) (int, []Change) {
	seen := map[Ref]bool{}
	var all []Change
	end := start
	for ; end < len(groups) && (end == start || len(all) < chunkChanges); end++ {
		for _, r := range groupRefs(groups[end]) {
			if readErr[r.Collection] != nil {
				if end > start {
					return end, nil // the chunk ends before the unreadable operation
				}
				return start + 1, nil
			}
			if !seen[r] {
				seen[r] = true
				all = append(all, Change{Collection: r.Collection, ID: r.ID, Doc: docs[r]})
			}
		}
	}
	return end, all
}

// read fetches the current documents of the operations, per collection.
func (e *Engine) read(ctx context.Context, groups [][]mongo.Intent) (map[Ref]any, map[string]error) {
	byColl := map[string][]string{}
	for _, g := range groups {
		for _, in := range g {
			byColl[in.Coll] = append(byColl[in.Coll], in.DocID)
		}
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
	return docs, readErr
}

// byToken splits claimed intents (in _id order) into operations, in the
// order each operation's first intent was recorded. Operations with an
// intent recorded within grace of now and never tried (the operation may
// still be writing) are left out, their intents returned in early.
func byToken(intents []mongo.Intent, now time.Time, grace time.Duration) (groups [][]mongo.Intent, early []bson.ObjectID) {
	var order []string
	byTok := map[string][]mongo.Intent{}
	waiting := map[string]bool{}
	for _, in := range intents {
		if _, ok := byTok[in.Token]; !ok {
			order = append(order, in.Token)
		}
		byTok[in.Token] = append(byTok[in.Token], in)
		if in.Attempts == 0 && in.NextAttemptAt.After(now) && now.Sub(in.CreatedAt) < grace {
			waiting[in.Token] = true
		}
	}
	for _, t := range order {
		if waiting[t] {
			early = append(early, intentIDs(byTok[t])...)
			continue
		}
		groups = append(groups, byTok[t])
	}
	return groups, early
}

// groupRefs lists the distinct documents of an operation, in order.
func groupRefs(g []mongo.Intent) []Ref {
	var refs []Ref
	for _, in := range g {
		if r := (Ref{in.Coll, in.DocID}); !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	return refs
}

func changesOf(refs []Ref, docs map[Ref]any, readErr map[string]error) ([]Change, error) {
	changes := make([]Change, len(refs))
	for i, r := range refs {
		if err := readErr[r.Collection]; err != nil {
			return nil, err
		}
		changes[i] = Change{Collection: r.Collection, ID: r.ID, Doc: docs[r]}
	}
	return changes, nil
}

func intentsOf(g []mongo.Intent, ref Ref) []mongo.Intent {
	var out []mongo.Intent
	for _, in := range g {
		if in.Coll == ref.Collection && in.DocID == ref.ID {
			out = append(out, in)
		}
	}
	return out
}

func intentIDs(g []mongo.Intent) []bson.ObjectID {
	ids := make([]bson.ObjectID, len(g))
	for i, in := range g {
		ids[i] = in.ID
	}
	return ids
}

// rewritten reports whether any of changes' documents has another version
// in MongoDB now than when it was read (true too when that cannot be read).
func (e *Engine) rewritten(ctx context.Context, changes []Change) bool {
	for _, c := range changes {
		now, err := e.mongo.DocsByIDs(ctx, c.Collection, []string{c.ID})
		if err != nil || version(now[c.ID]) != version(c.Doc) {
			return true
		}
	}
	return false
}

// maxErrorLen bounds the reason kept with a failed intent.
const maxErrorLen = 500

// fail records a failed attempt of intents (one operation's, or one
// document's): a transient or unreachable one backs off and is retried
// whatever its count, flagged FAILED once it reached the configured
// attempts; a permanent one is parked FAILED with its reason.
func (e *Engine) fail(ctx context.Context, g []mongo.Intent, changes []Change, owner string, err error, f fault) error {
	if f == permanent && e.rewritten(ctx, changes) {
		// A later write landed since the read: its own apply (or the next
		// attempt) decides, not this version's refusal.
		f = transient
	}
	attempts := 0
	for _, in := range g {
		attempts = max(attempts, in.Attempts+1)
		e.o.Metrics.retry(in.Coll)
	}
	now := e.now()
	msg := err.Error()
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen] + "…"
	}
	rec := mongo.Failure{Msg: msg, Now: now, Next: now.Add(backoff(e.o.Delay, e.o.MaxBackoff, attempts)),
		Failed: attempts >= e.o.Attempts, Permanent: f == permanent}
	if ferr := e.mongo.FailIntents(ctx, intentIDs(g), owner, rec); ferr != nil {
		return ferr
	}
	switch {
	case rec.Permanent:
		e.o.Log.ErrorContext(ctx, "mirror cannot store this document: FAILED until it is written again or an admin retries it",
			"collection", g[0].Coll, "id", g[0].DocID, "err", msg)
	case attempts == e.o.Attempts:
		e.o.Log.ErrorContext(ctx, "mirror write FAILED after its attempts; still retrying", "collection", g[0].Coll,
			"id", g[0].DocID, "attempts", attempts, "fault", f.String(), "err", msg)
	}
	return nil
}

// backoff is delay·2^(attempt-1), at most ceiling, less up to half of it
// at random, so instances retrying together spread out.
func backoff(delay, ceiling time.Duration, attempt int) time.Duration {
	d := delay << min(attempt-1, 20)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // G404: jitter needs no cryptographic randomness
}

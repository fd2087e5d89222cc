package mirror

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Group commit. Settled operations are applied by one committer goroutine,
// as many as are waiting in one PostgreSQL transaction, and their intents
// cleared in one MongoDB round trip. Under load that makes the mirror's
// cost per write a share of one commit (one WAL flush) and one delete,
// where an operation alone pays for both; alone it costs what it did.
//
// A synchronous operation waits for its commit (its PostgreSQL write still
// happens in the request); an asynchronous one is queued and returns at
// once, so the request costs one round trip (its intents) over a service
// with no mirror. The queue is in memory and the intents are what makes it
// crash-safe: an operation lost in a crash is applied by the worker once
// its intents come due, re-read from MongoDB.

var (
	errStopping   = errors.New("mirror: the committer is stopping")
	errCommitSlow = errors.New("mirror: the committer did not answer in time")
	// errBreakerOpen: the mirror is unreachable; the operation was not tried.
	errBreakerOpen = errors.New("mirror: unreachable, not tried")
)

// settling is an operation waiting for the committer.
type settling struct {
	op       *Op
	changes  []Change
	recorded int
	// done receives the commit's outcome; nil for an asynchronous
	// operation, whose failures the committer hands to the worker.
	done chan error
}

// committer is the queue of settled operations and whether its goroutine
// runs (without it, Settle applies in the request as before). mu makes
// "it runs" and "queued" one step, so nothing is queued after it stopped.
type committer struct {
	q       chan *settling
	mu      sync.Mutex
	running bool
	gone    tombstones
}

// tombstones are the documents whose rows were deleted (hard deletes)
// lately. A copy held in the queue is older than the delete that removed
// its row whenever it names one of them (ids are never reused), so it is
// not applied: applied after the delete, it would bring the row back.
type tombstones struct {
	mu   sync.Mutex
	at   map[Ref]time.Time
	keep time.Duration
}

// maxTombstones bounds the set: past it, those older than keep go, then
// any (a queued copy lives at most grace/2; keep is twice the grace).
const maxTombstones = 10000

func (t *tombstones) add(now time.Time, changes []Change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		if c.Doc != nil {
			continue
		}
		if t.at == nil {
			t.at = map[Ref]time.Time{}
		}
		t.at[Ref{c.Collection, c.ID}] = now
	}
	if len(t.at) > maxTombstones {
		for r, when := range t.at {
			if now.Sub(when) > t.keep || len(t.at) > maxTombstones {
				delete(t.at, r)
			}
		}
	}
}

// live drops from changes the copies of documents deleted since.
func (t *tombstones) live(changes []Change) []Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.at) == 0 {
		return changes
	}
	out := changes[:0:0]
	for _, c := range changes {
		if _, gone := t.at[Ref{c.Collection, c.ID}]; gone && c.Doc != nil {
			continue
		}
		out = append(out, c)
	}
	return out
}

// commitQueue is how many operations may wait; a full queue sends more to
// the worker (async) or applies them in the request (sync).
const commitQueue = 4096

// RunCommitter applies settled operations until ctx ends, then hands what
// is still queued to the worker. Without it (the commands, which write
// little), each operation applies its own in Settle.
func (e *Engine) RunCommitter(ctx context.Context) {
	e.commit.mu.Lock()
	e.commit.running = true
	e.commit.gone.keep = 2 * e.grace()
	e.commit.mu.Unlock()
	// The bookkeeping of a batch (clearing, handing over) runs to its end
	// when the committer is stopped in the middle.
	bctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			e.commit.mu.Lock()
			e.commit.running = false
			e.commit.mu.Unlock()
			e.drainCommits(bctx)
			return
		case s := <-e.commit.q:
			e.commitBatch(bctx, e.gather(s))
		}
	}
}

// gather takes s and the operations queued behind it, up to about
// chunkChanges documents: whatever arrived while the last commit ran.
func (e *Engine) gather(s *settling) []*settling {
	batch := []*settling{s}
	n := len(s.changes)
	for n < chunkChanges {
		select {
		case more := <-e.commit.q:
			batch = append(batch, more)
			n += len(more.changes)
		default:
			return batch
		}
	}
	return batch
}

// drainCommits answers what the committer will no longer apply: a waiting
// request hands its writes to the worker, and so do queued async ones.
func (e *Engine) drainCommits(ctx context.Context) {
	for {
		select {
		case s := <-e.commit.q:
			if s.done != nil {
				s.done <- errStopping
			} else {
				e.handOver(ctx, s.op, s.changes, s.recorded, e.now())
			}
		default:
			return
		}
	}
}

// queue gives s to the committer; false if it does not run or its queue is
// full.
func (e *Engine) queue(s *settling) bool {
	e.commit.mu.Lock()
	defer e.commit.mu.Unlock()
	if !e.commit.running {
		return false
	}
	select {
	case e.commit.q <- s:
		return true
	default:
		return false
	}
}

// commitBatch applies the operations in one transaction. If that fails for
// a reason other than an unreachable mirror, each operation is applied
// alone, so one that cannot be stored fails by itself. The intents of
// those applied go in one round trip, before their requests are answered.
func (e *Engine) commitBatch(ctx context.Context, batch []*settling) {
	now := e.now()
	live := batch[:0:0]
	for _, s := range batch {
		if s.done == nil && now.Sub(s.op.began) > e.grace()/2 {
			// Queued for so long that the worker may take its intents: the
			// worker applies it, re-reading, instead of this old copy.
			e.handOver(ctx, s.op, s.changes, s.recorded, now)
			continue
		}
		live = append(live, s)
	}
	if len(live) == 0 {
		return
	}
	if e.brk.isOpen() {
		// The mirror stopped answering while these waited (the commit
		// before them found out): none of them waits for it.
		for _, s := range live {
			if s.done != nil {
				s.done <- errBreakerOpen
			} else {
				e.handOver(ctx, s.op, s.changes, s.recorded, now)
			}
		}
		return
	}
	errs := make([]error, len(live))
	// A document one operation of the batch deletes is not written by
	// another: the queue is in the order operations settled, not the order
	// they wrote, and ids are never reused, so the other's copy is older.
	deletedBy := map[Ref]*settling{}
	for _, s := range live {
		for _, c := range s.changes {
			if c.Doc == nil {
				deletedBy[Ref{c.Collection, c.ID}] = s
			}
		}
	}
	var all []Change
	for _, s := range live {
		kept := s.changes[:0:0]
		for _, c := range e.commit.gone.live(s.changes) {
			if by, ok := deletedBy[Ref{c.Collection, c.ID}]; ok && by != s && c.Doc != nil {
				continue
			}
			kept = append(kept, c)
		}
		s.changes = kept
		all = append(all, s.changes...)
	}
	// As the worker bounds a shared transaction: a big batch is not an
	// unreachable mirror.
	if err := e.applyFor(ctx, all, e.o.Timeout+time.Duration(len(all))*10*time.Millisecond, len(live)); err != nil {
		for i, s := range live {
			switch {
			case len(live) == 1 || classify(err) == unreachable:
				errs[i] = err
			case e.brk.isOpen():
				errs[i] = errBreakerOpen // it went dark meanwhile: the rest are not tried
			default:
				errs[i] = e.apply(ctx, s.changes)
			}
		}
	}
	var done []mongo.Settled
	for i, s := range live {
		if errs[i] == nil {
			done = append(done, mongo.Settled{Token: s.op.token, Docs: s.op.existing(s.changes), Began: s.op.began})
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.Timeout)
	if err := e.mongo.ClearSettled(cctx, done, e.now()); err != nil {
		// The rows are written; the worker will find them up to date.
		e.o.Log.WarnContext(ctx, "clearing mirror intents failed", "operations", len(done), "err", err)
	}
	cancel()
	for i, s := range live {
		switch {
		case s.done != nil:
			s.done <- errs[i]
		case errs[i] != nil:
			e.o.Log.WarnContext(ctx, "mirror write failed; the worker will retry", "changes", len(s.changes), "err", errs[i])
			e.handOver(ctx, s.op, s.changes, s.recorded, e.now().Add(e.o.Delay))
		}
	}
}

// awaitCommit queues a synchronous operation and waits for its commit,
// bounded: a committer that does not answer in time leaves the operation
// to the worker. queued is false if the committer does not take it.
func (e *Engine) awaitCommit(op *Op, changes []Change, recorded int) (queued bool, err error) {
	s := &settling{op: op, changes: changes, recorded: recorded, done: make(chan error, 1)}
	if !e.queue(s) {
		return false, nil
	}
	t := time.NewTimer(3 * e.o.Timeout)
	defer t.Stop()
	select {
	case err := <-s.done:
		return true, err
	case <-t.C:
		return true, errCommitSlow
	}
}

package mirror

import (
	"context"
	"sync"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Intents are recorded by group commit too. An operation's intents must be
// in MongoDB before its first write, so each request waits for its insert;
// the requests that arrive while an insert is under way wait together, and
// the first of them inserts all their intents in one round trip. Under load
// that makes recording a share of one insert; alone it is one insert, as
// before. No goroutine of its own: the waiting requests take turns.
type recorder struct {
	mu      sync.Mutex
	busy    bool
	waiting []*recording
}

// recording is one request's intents and where its outcome goes; lead
// receives the batch it is to insert when its turn comes.
type recording struct {
	intents []mongo.Intent
	done    chan error
	lead    chan []*recording
	// deadline is the request's (zero if it has none): the insert is a
	// MongoDB write of the request, bounded as its others are.
	deadline time.Time
}

// insertIntents records intents, with those of concurrent requests.
func (e *Engine) insertIntents(ctx context.Context, intents []mongo.Intent) error {
	r := &recording{intents: intents, done: make(chan error, 1), lead: make(chan []*recording, 1)}
	r.deadline, _ = ctx.Deadline()
	e.rec.mu.Lock()
	if e.rec.busy {
		e.rec.waiting = append(e.rec.waiting, r)
		e.rec.mu.Unlock()
		select {
		case err := <-r.done:
			return err
		case batch := <-r.lead:
			return e.insertBatch(ctx, batch, r)
		}
	}
	e.rec.busy = true
	e.rec.mu.Unlock()
	return e.insertBatch(ctx, []*recording{r}, r)
}

// insertBatch inserts batch (which holds me), answers the others, and hands
// the turn to the first of those who came meanwhile. The insert is detached
// from the caller's cancellation (the others' requests depend on it too)
// and bounded by the latest of their deadlines: it is their MongoDB write,
// not the mirror's, so the mirror's apply timeout has no say in it (under
// load a bound of twice that failed writes MongoDB would have taken).
func (e *Engine) insertBatch(ctx context.Context, batch []*recording, me *recording) error {
	var all []mongo.Intent
	var last time.Time
	bounded := true
	for _, r := range batch {
		all = append(all, r.intents...)
		if r.deadline.IsZero() {
			bounded = false // the driver's own operation timeout bounds it
		} else if r.deadline.After(last) {
			last = r.deadline
		}
	}
	ictx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if bounded {
		ictx, cancel = context.WithDeadline(ictx, last)
	}
	err := e.mongo.InsertIntents(ictx, all)
	cancel()
	for _, r := range batch {
		if r != me {
			r.done <- err
		}
	}
	e.rec.mu.Lock()
	next := e.rec.waiting
	e.rec.waiting = nil
	if len(next) == 0 {
		e.rec.busy = false
	}
	e.rec.mu.Unlock()
	if len(next) > 0 {
		next[0].lead <- next
	}
	return err
}

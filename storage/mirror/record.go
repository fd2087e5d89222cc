package mirror

import (
	"context"
	"sync"

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
}

// insertIntents records intents, with those of concurrent requests.
func (e *Engine) insertIntents(ctx context.Context, intents []mongo.Intent) error {
	r := &recording{intents: intents, done: make(chan error, 1), lead: make(chan []*recording, 1)}
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
// from the caller: the others' requests depend on it too.
func (e *Engine) insertBatch(ctx context.Context, batch []*recording, me *recording) error {
	var all []mongo.Intent
	for _, r := range batch {
		all = append(all, r.intents...)
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.Timeout+e.o.Timeout)
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

package mirror

import (
	"context"
	"sync"
	"time"
)

// Reads served from the mirror must read what MongoDB would: the storage
// facade asks Current before each one and reads MongoDB when the answer is
// no. It is no while mirroring is off or not migrated yet, while a
// catch-up is due (an instance wrote with mirroring off: its writes left no
// intents), while the breaker is open (PostgreSQL stopped answering), and
// while an intent for one of the documents (or, for a list, any document of
// the collections) is pending or failed. A write a client saw succeed has
// either reached the mirror or left an intent until it does, so reads after
// it see it either way.

// offCheckEvery is how long the answer to "is a catch-up due" is reused:
// the note is read at most that often.
const offCheckEvery = 2 * time.Second

type offCache struct {
	mu    sync.Mutex
	at    time.Time
	noted bool
}

// Mirror returns the mirror the engine writes, for reads served from it.
func (e *Engine) Mirror() *Mirror { return e.mirror }

// Current reports whether the mirror holds what MongoDB holds for the
// documents of colls (for ids only, when ids is not nil).
func (e *Engine) Current(ctx context.Context, colls, ids []string) (bool, error) {
	if behind, err := e.behindEverywhere(ctx); err != nil || behind {
		return false, err
	}
	if ids != nil && len(ids) == 0 {
		return true, nil
	}
	has, err := e.mongo.IntentsFor(ctx, colls, ids)
	return !has && err == nil, err
}

// Lagging reports whether a difference between the mirror and MongoDB
// over the documents ids of colls may be a write on its way rather than a
// fault: the mirror may be behind everywhere, one of the documents has an
// intent, or a write to colls is in flight. The last covers differences
// that name none of the written documents: a count, a page's end, a list
// that another document's change reshaped.
func (e *Engine) Lagging(ctx context.Context, colls, ids []string) (bool, error) {
	if behind, err := e.behindEverywhere(ctx); err != nil || behind {
		return true, err
	}
	return e.mongo.Unsettled(ctx, colls, ids)
}

// Lag is what Behind found.
type Lag struct {
	// Everywhere: the mirror may be behind in every collection (mirroring
	// off or not migrated, a catch-up due, the breaker open).
	Everywhere bool
	// Colls have intents; when Complete is false there are more intents
	// than Behind read, and a collection not in Colls may have some too:
	// ask Current about it.
	Colls    []string
	Complete bool
}

// Behind returns the collections the mirror may not hold as MongoDB does,
// reading at most behindScan intents.
func (e *Engine) Behind(ctx context.Context) (Lag, error) {
	if behind, err := e.behindEverywhere(ctx); err != nil || behind {
		return Lag{Everywhere: true}, err
	}
	colls, complete, err := e.mongo.IntentCollections(ctx, behindScan)
	return Lag{Colls: colls, Complete: complete}, err
}

// behindScan is how many intents Behind reads. With more (a backlog, or
// failures parked for good), a collection it did not meet is asked about
// on its own: one collection's backlog must not send every read back.
const behindScan = 256

// behindEverywhere reports whether the mirror may be behind in every
// collection: mirroring off or not migrated, the breaker open, or a
// catch-up running or due.
func (e *Engine) behindEverywhere(ctx context.Context) (bool, error) {
	if !e.o.Enabled || !e.Ready() || e.Unreachable() {
		return true, nil
	}
	if _, running := e.CatchingUp(); running {
		return true, nil
	}
	return e.offNoted(ctx)
}

// offNoted reports whether the note that mirroring was off exists, read at
// most every offCheckEvery.
func (e *Engine) offNoted(ctx context.Context) (bool, error) {
	c := &e.off
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && e.now().Sub(c.at) < offCheckEvery {
		return c.noted, nil
	}
	var n offNote
	found, err := e.mongo.LoadState(ctx, offKey, &n)
	if err != nil {
		return false, err
	}
	c.at, c.noted = e.now(), found
	return found, nil
}

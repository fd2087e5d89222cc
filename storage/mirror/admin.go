package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Sync states of one document (SPEC §6.5).
const (
	StateSynced  = "SYNCED"
	StatePending = "PENDING"
	StateFailed  = "FAILED"
	StateMissing = "MISSING"
)

// ErrNotMirrored is returned for a collection the mirror does not copy.
var ErrNotMirrored = errors.New("mirror: not a mirrored collection")

func checkCollection(c string) error {
	if _, ok := rowTypes[c]; !ok {
		return fmt.Errorf("%w: %q", ErrNotMirrored, c)
	}
	return nil
}

// Status is where one document stands.
type Status struct {
	Collection string
	ID         string
	State      string
	// DocVersion is nil when the document does not exist; RowVersion when
	// the mirror has no row.
	DocVersion *int64
	RowVersion *int64
	Error      string
}

// Status compares a document with its row and looks for its intents:
// FAILED or PENDING while an intent waits; otherwise SYNCED when the row
// holds the document's version (or both are gone), MISSING when not.
func (e *Engine) Status(ctx context.Context, coll, id string) (Status, error) {
	st := Status{Collection: coll, ID: id}
	if err := checkCollection(coll); err != nil {
		return st, err
	}
	docs, err := e.mongo.DocsByIDs(ctx, coll, []string{id})
	if err != nil {
		return st, err
	}
	if doc, ok := docs[id]; ok {
		rec, err := Map(doc)
		if err != nil {
			return st, err
		}
		v := rec.sync().Version
		st.DocVersion = &v
	}
	// Intents first: while PostgreSQL is down they are all there is to say.
	intents, err := e.mongo.Intents(ctx, mongo.IntentFilter{Coll: coll, DocID: id}, 0)
	if err != nil {
		return st, err
	}
	for _, in := range intents {
		if in.State == mongo.IntentFailed {
			st.State, st.Error = StateFailed, in.LastError
			break
		}
		st.State, st.Error = StatePending, in.LastError
	}
	row, err := e.mirror.Row(ctx, coll, id)
	switch {
	case errors.Is(err, ErrNoRow):
	case err != nil && st.State != "":
		return st, nil // the row is unreadable, but the intent tells the state
	case err != nil:
		return st, err
	default:
		if v, ok := row["version"].(int64); ok {
			st.RowVersion = &v
		}
	}
	if st.State != "" {
		return st, nil
	}
	switch {
	case st.DocVersion == nil && st.RowVersion == nil,
		st.DocVersion != nil && st.RowVersion != nil && *st.DocVersion == *st.RowVersion:
		st.State = StateSynced
	default:
		st.State = StateMissing
	}
	return st, nil
}

// Retry makes the document's intents due now with a fresh attempt budget,
// creating one when it has none, and wakes the worker.
func (e *Engine) Retry(ctx context.Context, coll, id string) error {
	if err := checkCollection(coll); err != nil {
		return err
	}
	n, err := e.mongo.RetryIntents(ctx, mongo.IntentFilter{Coll: coll, DocID: id}, e.now())
	if err != nil {
		return err
	}
	if n == 0 {
		if err := e.record(ctx, "retry", []Ref{{coll, id}}, e.now()); err != nil {
			return err
		}
	}
	e.nudge()
	return nil
}

// RetryAllFailed makes every FAILED intent (of one collection when coll is
// set) due now and returns how many.
func (e *Engine) RetryAllFailed(ctx context.Context, coll string) (int, error) {
	if coll != "" {
		if err := checkCollection(coll); err != nil {
			return 0, err
		}
	}
	n, err := e.mongo.RetryIntents(ctx, mongo.IntentFilter{Coll: coll, State: mongo.IntentFailed}, e.now())
	e.nudge()
	return int(n), err
}

// Resync copies one document into the mirror now, overwriting its row
// whatever its version (an admin's repair), and clears its intents.
func (e *Engine) Resync(ctx context.Context, coll, id string) error {
	if err := checkCollection(coll); err != nil {
		return err
	}
	token := "resync:" + id
	if err := e.record(ctx, token, []Ref{{coll, id}}, e.now().Add(max(e.o.Delay, 2*e.o.Timeout))); err != nil {
		return err
	}
	docs, err := e.mongo.DocsByIDs(ctx, coll, []string{id})
	if err != nil {
		return err
	}
	change := Change{Collection: coll, ID: id, Doc: docs[id]}
	if err := e.mirror.Replace(ctx, change); err != nil {
		return err
	}
	return e.mongo.ClearIntentsOf(ctx, coll, id)
}

// Failure is an intent that has failed at least once, for syncFailures.
type Failure = mongo.Intent

// Failures lists intents that failed at least once (PENDING retries and
// FAILED ones), oldest first.
func (e *Engine) Failures(ctx context.Context, coll, state string) ([]Failure, error) {
	all, err := e.mongo.Intents(ctx, mongo.IntentFilter{Coll: coll, State: state}, 0)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, in := range all {
		if in.Attempts > 0 || in.State == mongo.IntentFailed {
			out = append(out, in)
		}
	}
	return out, nil
}

// TableStats are a mirror table's row count and latest sync.
type TableStats struct {
	Rows       int
	LastSyncAt *time.Time
}

// Stats reads each mirrored table's row count and latest sync time.
func (e *Engine) Stats(ctx context.Context) (map[string]TableStats, error) {
	return e.mirror.Stats(ctx)
}

// Enabled reports whether intents are applied, and Async the mode.
func (e *Engine) Enabled() bool { return e.o.Enabled }

// Async reports whether the worker applies writes (DUAL_WRITE_SYNC_MODE).
func (e *Engine) Async() bool { return e.o.Async }

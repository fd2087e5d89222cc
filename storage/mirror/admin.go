package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/storage/mongo"
)

// Sync states of one document (SPEC §6.5).
const (
	StateSynced  = "SYNCED"
	StatePending = "PENDING"
	StateFailed  = "FAILED"
	StateMissing = "MISSING"
	// StateDifferent: the row holds the document's version but other
	// values (drift a version check cannot see).
	StateDifferent = "DIFFERENT"
	// StateUnknown: a store could not be read in time (Status.Unavailable).
	StateUnknown = "UNKNOWN"
)

// AdminBound bounds each store's part of an admin answer: during a
// partition syncStatus, syncMetrics and the CLI answer with what they could
// read, and say which store did not answer.
const AdminBound = 1500 * time.Millisecond

// Store names, for Status.Unavailable and the like.
const (
	StoreMongoDB  = "mongodb"
	StorePostgres = "postgres"
)

// ErrNotMirrored is returned for a collection the mirror does not copy.
var ErrNotMirrored = errors.New("mirror: not a mirrored collection")

func checkCollection(c string) error {
	if _, ok := rowType(c); !ok {
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
	// Differences lists the fields a DIFFERENT row holds otherwise.
	Differences []string
	// Unavailable names the store that did not answer in time, if any.
	Unavailable string
}

// Status compares a document with its row and looks for its intents:
// FAILED or PENDING while an intent waits; otherwise SYNCED when the row
// holds the document (or both are gone), DIFFERENT when it holds its
// version with other values, MISSING when not. Each store is asked within
// AdminBound; one that does not answer makes the state UNKNOWN (or what
// the intents tell) with Unavailable naming it.
func (e *Engine) Status(ctx context.Context, coll, id string) (Status, error) {
	st := Status{Collection: coll, ID: id}
	if err := checkCollection(coll); err != nil {
		return st, err
	}
	mctx, cancel := context.WithTimeout(ctx, AdminBound)
	defer cancel()
	docs, err := e.mongo.DocsByIDs(mctx, coll, []string{id})
	if err != nil {
		return st, fmt.Errorf("%w: %s: %w", ErrUnavailable, StoreMongoDB, err)
	}
	doc, exists := docs[id]
	if exists {
		rec, err := Map(doc)
		if err != nil {
			return st, err
		}
		v := rec.sync().Version
		st.DocVersion = &v
	}
	// Intents first: while PostgreSQL is down they are all there is to say.
	intents, err := e.mongo.Intents(mctx, mongo.IntentFilter{Coll: coll, DocID: id}, 0)
	if err != nil {
		return st, fmt.Errorf("%w: %s: %w", ErrUnavailable, StoreMongoDB, err)
	}
	for _, in := range intents {
		if in.State == mongo.IntentFailed {
			st.State, st.Error = StateFailed, in.LastError
			break
		}
		st.State, st.Error = StatePending, in.LastError
	}
	pctx, cancel := context.WithTimeout(ctx, AdminBound)
	defer cancel()
	row, err := e.mirror.Row(pctx, coll, id)
	switch {
	case errors.Is(err, ErrNoRow):
	case err != nil:
		// The row is unreadable; an intent still tells the state.
		st.Unavailable = StorePostgres
		if st.State == "" {
			st.State, st.Error = StateUnknown, err.Error()
		}
		return st, nil
	default:
		if v, ok := row["version"].(int64); ok {
			st.RowVersion = &v
		}
	}
	if st.State != "" {
		return st, nil
	}
	switch {
	case st.DocVersion == nil && st.RowVersion == nil:
		st.State = StateSynced
	case st.DocVersion != nil && st.RowVersion != nil && *st.DocVersion == *st.RowVersion:
		diffs, err := Diff(doc, row)
		if err != nil {
			return st, err
		}
		st.State, st.Differences = StateSynced, diffs
		if len(diffs) > 0 {
			st.State = StateDifferent
		}
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
		if err := e.record(ctx, "retry:"+bson.NewObjectID().Hex(), []Ref{{coll, id}}, e.now()); err != nil {
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

// ErrUnavailable wraps a store's error when an admin command could not
// reach it in time.
var ErrUnavailable = errors.New("mirror: store unavailable")

// Resync copies one document into the mirror now (an admin's repair): it
// records an intent of its own first (a crash midway leaves the repair to
// the worker), reads the document, and writes it with the repair guard
// (also over a row of the same version, never over a newer one); then it
// clears its own intent, and permanent failures of the document older than
// its read (which that read supersedes). Other operations' intents stay.
func (e *Engine) Resync(ctx context.Context, coll, id string) error {
	if err := checkCollection(coll); err != nil {
		return err
	}
	token := "resync:" + bson.NewObjectID().Hex()
	began := e.now()
	mctx, cancel := context.WithTimeout(ctx, AdminBound)
	defer cancel()
	if err := e.record(mctx, token, []Ref{{coll, id}}, began.Add(e.grace())); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, StoreMongoDB, err)
	}
	docs, err := e.mongo.DocsByIDs(mctx, coll, []string{id})
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, StoreMongoDB, err)
	}
	pctx, cancel := context.WithTimeout(ctx, AdminBound)
	defer cancel()
	if _, err := e.mirror.Replace(pctx, Change{Collection: coll, ID: id, Doc: docs[id]}); err != nil {
		if classify(err) == unreachable {
			return fmt.Errorf("%w: %s: %w (the worker will apply it)", ErrUnavailable, StorePostgres, err)
		}
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AdminBound)
	defer cancel()
	return e.mongo.ClearIntents(cctx, token, e.now(), []mongo.DocRef{{Coll: coll, DocID: id}}, began)
}

// Failure is an intent that has failed at least once, for syncFailures.
type Failure = mongo.Intent

// Failures lists up to limit intents that failed at least once (PENDING
// retries and FAILED ones) after the intent after (zero: from the start),
// oldest first, paged in MongoDB.
func (e *Engine) Failures(ctx context.Context, coll, state string, after bson.ObjectID, limit int) ([]Failure, error) {
	return e.mongo.Intents(ctx, mongo.IntentFilter{Coll: coll, State: state, Failures: true, After: after}, limit)
}

// CountFailures counts what Failures lists.
func (e *Engine) CountFailures(ctx context.Context, coll, state string) (int, error) {
	n, err := e.mongo.CountIntents(ctx, mongo.IntentFilter{Coll: coll, State: state, Failures: true})
	return int(n), err
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

// Overview is the mirror's figures for syncMetrics and `todo sync status`:
// MongoDB's (intents, retries, the last verify) and PostgreSQL's (each
// table's rows and last sync). Each store is asked within AdminBound, the
// two at once; one that does not answer leaves its figures out, its error
// set, so the answer comes within the bound during a partition.
type Overview struct {
	Counts     IntentCounts
	Retries    int
	LastVerify *VerifyResult
	Tables     map[string]TableStats
	MongoErr   error
	PGErr      error
}

// Overview gathers the figures.
func (e *Engine) Overview(ctx context.Context) Overview {
	var o Overview
	var wg sync.WaitGroup
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, AdminBound)
		defer cancel()
		o.Tables, o.PGErr = e.Stats(ctx)
	})
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, AdminBound)
		defer cancel()
		if o.Counts, o.MongoErr = e.Counts(ctx); o.MongoErr != nil {
			return
		}
		if o.Retries, o.MongoErr = e.Retries(ctx); o.MongoErr != nil {
			return
		}
		v, ok, err := e.LastVerify(ctx)
		if o.MongoErr = err; ok {
			o.LastVerify = &v
		}
	})
	wg.Wait()
	if o.PGErr != nil {
		o.Tables = map[string]TableStats{}
	}
	return o
}

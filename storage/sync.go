package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// ErrNoMirror: the process runs without a mirror engine.
var ErrNoMirror = errors.New("no mirror configured")

func (s *Store) syncEngine() (*mirror.Engine, error) {
	if s.engine == nil {
		return nil, ErrNoMirror
	}
	return s.engine, nil
}

func syncErr(err error) error {
	switch {
	case errors.Is(err, mirror.ErrNotMirrored):
		return invalid("collection", "%s", err.Error())
	case errors.Is(err, mirror.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: a store did not answer within %s: %w", ErrUnavailable, mirror.AdminBound, err)
	}
	return translate(err)
}

// adminAnswer bounds a sync command as a whole (each store's part is
// bounded by mirror.AdminBound within it): during a partition it answers
// within about 3 s.
const adminAnswer = 2800 * time.Millisecond

// deadline is ctx's deadline (there always is one here).
func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// SyncStatus reports where one document stands in the mirror.
func (s *Store) SyncStatus(ctx context.Context, coll, id string) (SyncStatus, error) {
	e, err := s.syncEngine()
	if err != nil {
		return SyncStatus{}, err
	}
	if !models.ValidID(id) {
		return SyncStatus{}, invalid("id", "not a valid id")
	}
	st, err := e.Status(ctx, coll, id)
	return syncStatusOf(st), syncErr(err)
}

// RetrySync retries one document's mirror write now.
func (s *Store) RetrySync(ctx context.Context, coll, id string) (SyncStatus, error) {
	e, err := s.syncEngine()
	if err != nil {
		return SyncStatus{}, err
	}
	if !models.ValidID(id) {
		return SyncStatus{}, invalid("id", "not a valid id")
	}
	ctx, cancel := context.WithTimeout(ctx, adminAnswer)
	defer cancel()
	mctx, cancel := context.WithTimeout(ctx, mirror.AdminBound)
	defer cancel()
	if err := e.Retry(mctx, coll, id); err != nil {
		return SyncStatus{}, syncErr(err)
	}
	// The worker (woken) applies it; the answer shows the outcome if it
	// comes within the bound, PENDING otherwise.
	for {
		st, err := s.SyncStatus(ctx, coll, id)
		if err != nil || st.State != SyncPending || ctx.Err() != nil {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, nil
		case <-time.After(100 * time.Millisecond):
		}
		if time.Until(deadline(ctx)) < 700*time.Millisecond {
			return st, nil // another look might not answer in time
		}
	}
}

// RetryAllFailedSyncs makes every FAILED write due now.
func (s *Store) RetryAllFailedSyncs(ctx context.Context, coll string) (int, error) {
	e, err := s.syncEngine()
	if err != nil {
		return 0, err
	}
	mctx, cancel := context.WithTimeout(ctx, mirror.AdminBound)
	defer cancel()
	n, err := e.RetryAllFailed(mctx, coll)
	return n, syncErr(err)
}

// ResyncDocument copies one document into the mirror now, whatever the
// row's version.
func (s *Store) ResyncDocument(ctx context.Context, coll, id string) (SyncStatus, error) {
	e, err := s.syncEngine()
	if err != nil {
		return SyncStatus{}, err
	}
	if !models.ValidID(id) {
		return SyncStatus{}, invalid("id", "not a valid id")
	}
	ctx, cancel := context.WithTimeout(ctx, adminAnswer)
	defer cancel()
	if err := e.Resync(ctx, coll, id); err != nil {
		return SyncStatus{}, syncErr(err)
	}
	return s.SyncStatus(ctx, coll, id)
}

// SyncFailures lists mirror writes that failed at least once, oldest
// first, a page at a time from MongoDB.
func (s *Store) SyncFailures(ctx context.Context, coll, state string, args PageArgs) (Page[SyncFailure], func(context.Context) (int, error), error) {
	var page Page[SyncFailure]
	e, err := s.syncEngine()
	if err != nil {
		return page, nil, err
	}
	limit, err := args.limit()
	if err != nil {
		return page, nil, err
	}
	var after bson.ObjectID
	if args.After != nil {
		c, err := decodeCursor(*args.After, 0)
		if err != nil {
			return page, nil, err
		}
		if after, err = bson.ObjectIDFromHex(c.ID); err != nil {
			return page, nil, invalid("after", "not a cursor of this list")
		}
	}
	mctx, cancel := context.WithTimeout(ctx, mirror.AdminBound)
	defer cancel()
	rest, err := e.Failures(mctx, coll, state, after, limit+1)
	if err != nil {
		return page, nil, syncErr(err)
	}
	count := func(ctx context.Context) (int, error) {
		ctx, cancel := context.WithTimeout(ctx, mirror.AdminBound)
		defer cancel()
		n, err := e.CountFailures(ctx, coll, state)
		return n, syncErr(err)
	}
	rest, page.HasNextPage = trim(rest, limit)
	byColl := map[string][]string{}
	for _, f := range rest {
		byColl[f.Coll] = append(byColl[f.Coll], f.DocID)
	}
	versions := map[mirror.Ref]int64{}
	for c, ids := range byColl {
		docs, err := s.mongo.DocsByIDs(mctx, c, ids)
		if err != nil {
			return page, nil, syncErr(err)
		}
		for id, d := range docs {
			if rec, err := mirror.Map(d); err == nil {
				versions[mirror.Ref{Collection: c, ID: id}] = rec.Version()
			}
		}
	}
	for _, f := range rest {
		sf := syncFailureOf(f)
		if v, ok := versions[mirror.Ref{Collection: f.Coll, ID: f.DocID}]; ok {
			sf.Version = &v
		}
		page.Edges = append(page.Edges, Edge[SyncFailure]{Cursor: encodeCursor(f.ID.Hex()), Node: sf})
	}
	return page, count, nil
}

// SyncMetrics are the figures of syncMetrics.
type SyncMetrics struct {
	Enabled, Async bool
	// Unreachable: the breaker is open (PostgreSQL stopped answering).
	Unreachable bool
	// Unavailable names the stores that did not answer in time; their
	// figures are left out.
	Unavailable []string
	Tables      map[string]TableStats
	Counts      IntentCounts
	P50, P99    time.Duration
	Retries     int
	LastVerify  *VerifySummary
}

// SyncMetrics gathers the mirror's state. Each store is asked within
// mirror.AdminBound, the two at once: one that does not answer is named in
// Unavailable and its figures are left out, so the answer comes within the
// bound during a partition.
func (s *Store) SyncMetrics(ctx context.Context) (SyncMetrics, error) {
	e, err := s.syncEngine()
	if err != nil {
		return SyncMetrics{}, err
	}
	o := e.Overview(ctx)
	m := SyncMetrics{Enabled: e.Enabled(), Async: e.Async(), Unreachable: e.Unreachable(),
		Tables: map[string]TableStats{}, Counts: intentCountsOf(o.Counts), Retries: o.Retries}
	for c, t := range o.Tables {
		m.Tables[c] = TableStats{Rows: t.Rows, LastSyncAt: t.LastSyncAt}
	}
	if o.LastVerify != nil {
		v := verifySummaryOf(*o.LastVerify)
		m.LastVerify = &v
	}
	m.P50, m.P99 = e.ApplyLatency()
	if o.MongoErr != nil {
		s.log.WarnContext(ctx, "mirror figures of MongoDB unavailable", "err", o.MongoErr)
		m.Unavailable = append(m.Unavailable, mirror.StoreMongoDB)
	}
	if o.PGErr != nil {
		s.log.WarnContext(ctx, "mirror stats unavailable", "err", o.PGErr)
		m.Unavailable = append(m.Unavailable, mirror.StorePostgres)
	}
	return m, nil
}

// MirroredCollections lists the collections the mirror copies.
func MirroredCollections() []string { return mongo.MirroredCollections }

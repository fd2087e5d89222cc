package storage

import (
	"context"
	"errors"

	"time"

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
	if errors.Is(err, mirror.ErrNotMirrored) {
		return invalid("collection", "%s", err.Error())
	}
	return translate(err)
}

// SyncStatus reports where one document stands in the mirror.
func (s *Store) SyncStatus(ctx context.Context, coll, id string) (mirror.Status, error) {
	e, err := s.syncEngine()
	if err != nil {
		return mirror.Status{}, err
	}
	if !models.ValidID(id) {
		return mirror.Status{}, invalid("id", "not a valid id")
	}
	st, err := e.Status(ctx, coll, id)
	return st, syncErr(err)
}

// RetrySync retries one document's mirror write now.
func (s *Store) RetrySync(ctx context.Context, coll, id string) (mirror.Status, error) {
	e, err := s.syncEngine()
	if err != nil {
		return mirror.Status{}, err
	}
	if !models.ValidID(id) {
		return mirror.Status{}, invalid("id", "not a valid id")
	}
	if err := e.Retry(ctx, coll, id); err != nil {
		return mirror.Status{}, syncErr(err)
	}
	if _, err := e.RunOnce(ctx); err != nil {
		s.log.WarnContext(ctx, "retry pass failed", "err", err)
	}
	return s.SyncStatus(ctx, coll, id)
}

// RetryAllFailedSyncs makes every FAILED write due now.
func (s *Store) RetryAllFailedSyncs(ctx context.Context, coll string) (int, error) {
	e, err := s.syncEngine()
	if err != nil {
		return 0, err
	}
	n, err := e.RetryAllFailed(ctx, coll)
	return n, syncErr(err)
}

// ResyncDocument copies one document into the mirror now, whatever the
// row's version.
func (s *Store) ResyncDocument(ctx context.Context, coll, id string) (mirror.Status, error) {
	e, err := s.syncEngine()
	if err != nil {
		return mirror.Status{}, err
	}
	if !models.ValidID(id) {
		return mirror.Status{}, invalid("id", "not a valid id")
	}
	if err := e.Resync(ctx, coll, id); err != nil {
		return mirror.Status{}, syncErr(err)
	}
	return s.SyncStatus(ctx, coll, id)
}

// SyncFailure is a failed mirror write with its document's version.
type SyncFailure struct {
	mirror.Failure
	// Version is the document's current version; nil when it is gone.
	Version *int64
}

// SyncFailures lists mirror writes that failed at least once, oldest first.
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
	all, err := e.Failures(ctx, coll, state)
	if err != nil {
		return page, nil, syncErr(err)
	}
	count := func(context.Context) (int, error) { return len(all), nil }
	start := 0
	if args.After != nil {
		c, err := decodeCursor(*args.After, 0)
		if err != nil {
			return page, nil, err
		}
		start = len(all)
		for i, f := range all {
			if f.ID.Hex() == c.ID {
				start = i + 1
				break
			}
		}
	}
	rest := all[start:]
	rest, page.HasNextPage = trim(rest, limit)
	byColl := map[string][]string{}
	for _, f := range rest {
		byColl[f.Coll] = append(byColl[f.Coll], f.DocID)
	}
	versions := map[mirror.Ref]int64{}
	for c, ids := range byColl {
		docs, err := s.mongo.DocsByIDs(ctx, c, ids)
		if err != nil {
			return page, nil, translate(err)
		}
		for id, d := range docs {
			if rec, err := mirror.Map(d); err == nil {
				versions[mirror.Ref{Collection: c, ID: id}] = rec.Version()
			}
		}
	}
	for _, f := range rest {
		sf := SyncFailure{Failure: f}
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
	Tables         map[string]mirror.TableStats
	Counts         mirror.IntentCounts
	P50, P99       time.Duration
	Retries        int
	LastVerify     *mirror.VerifyResult
}

// SyncMetrics gathers the mirror's state.
func (s *Store) SyncMetrics(ctx context.Context) (SyncMetrics, error) {
	e, err := s.syncEngine()
	if err != nil {
		return SyncMetrics{}, err
	}
	m := SyncMetrics{Enabled: e.Enabled(), Async: e.Async()}
	if m.Counts, err = e.Counts(ctx); err != nil {
		return m, translate(err)
	}
	if m.Tables, err = e.Stats(ctx); err != nil {
		// PostgreSQL down: the MongoDB-side figures still help.
		s.log.WarnContext(ctx, "mirror stats unavailable", "err", err)
		m.Tables = map[string]mirror.TableStats{}
	}
	m.P50, m.P99 = e.ApplyLatency()
	failures, err := e.Failures(ctx, "", "")
	if err != nil {
		return m, translate(err)
	}
	for _, f := range failures {
		m.Retries += f.Attempts
	}
	if v, ok, err := e.LastVerify(ctx); err != nil {
		return m, translate(err)
	} else if ok {
		m.LastVerify = &v
	}
	return m, nil
}

// MirroredCollections lists the collections the mirror copies.
func MirroredCollections() []string { return mongo.MirroredCollections }

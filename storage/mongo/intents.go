package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollMirrorIntents holds the mirror's pending work: one small document per
// (write, document) that may not have reached PostgreSQL yet. It stays small
// (rows leave as soon as they are applied), which matters on FerretDB, where
// every write by _id scans its collection.
const CollMirrorIntents = "mirror_intents"

// Intent states.
const (
	IntentPending = "PENDING"
	IntentFailed  = "FAILED"
)

// Intent says: the document (Coll, DocID) may differ from its mirror row;
// re-read it and apply its current state (or its absence).
type Intent struct {
	ID    bson.ObjectID `bson:"_id"`
	Coll  string        `bson:"coll"`
	DocID string        `bson:"doc_id"`
	// Token is shared by the intents of one operation, so the operation can
	// clear exactly its own.
	Token         string    `bson:"token"`
	State         string    `bson:"state"`
	CreatedAt     time.Time `bson:"created_at"`
	NextAttemptAt time.Time `bson:"next_attempt_at"`
	Attempts      int       `bson:"attempts"`
	LastError     string    `bson:"last_error,omitempty"`
	FirstFailedAt time.Time `bson:"first_failed_at,omitempty"`
	LastFailedAt  time.Time `bson:"last_failed_at,omitempty"`
	LeaseOwner    string    `bson:"lease_owner,omitempty"`
	LeaseUntil    time.Time `bson:"lease_until"`
	// Permanent: the last attempt failed in a way retrying cannot fix (the
	// mirror cannot store a value). The worker leaves it until an admin
	// retries it or a later write of the document is applied.
	Permanent bool `bson:"permanent,omitempty"`
}

// DocRef names a document an intent is about.
type DocRef struct {
	Coll, DocID string
}

// retired matches the permanently FAILED intents of docs that failed
// before since: a later apply of the same document (read after they
// failed) supersedes them.
func retired(docs []DocRef, since time.Time) bson.D {
	or := make(bson.A, len(docs))
	for i, d := range docs {
		or[i] = bson.D{{Key: "coll", Value: d.Coll}, {Key: "doc_id", Value: d.DocID}}
	}
	return bson.D{{Key: "permanent", Value: true}, {Key: "last_failed_at", Value: bson.D{{Key: "$lt", Value: since}}},
		{Key: "$or", Value: or}}
}

// retiredOf is retired for one document, as equalities a store can look
// up (FerretDB filters an $or or an $in in its own process, reading every
// intent; it hands plain equalities to PostgreSQL).
func retiredOf(d DocRef, since time.Time) bson.D {
	return bson.D{{Key: "coll", Value: d.Coll}, {Key: "doc_id", Value: d.DocID}, {Key: "permanent", Value: true},
		{Key: "last_failed_at", Value: bson.D{{Key: "$lt", Value: since}}}}
}

// InsertIntents records intents in one round trip.
func (s *Store) InsertIntents(ctx context.Context, intents []Intent) error {
	if len(intents) == 0 {
		return nil
	}
	if err := s.fence(); err != nil {
		return err // the operation's first write: a process that may not write stops here
	}
	docs := make([]any, len(intents))
	for i := range intents {
		docs[i] = intents[i]
	}
	if _, err := s.coll(CollMirrorIntents).InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("mongo: record mirror intents: %w", err)
	}
	return nil
}

// ClearIntents deletes the intents of token that nobody has leased since
// (a worker holding one keeps it until it is done), and, in the same round
// trip, the permanently FAILED intents of docs that failed before since:
// the operation applied those documents after they failed.
func (s *Store) ClearIntents(ctx context.Context, token string, now time.Time, docs []DocRef, since time.Time) error {
	return s.ClearSettled(ctx, []Settled{{Token: token, Docs: docs, Began: since}}, now)
}

// Settled is one operation whose documents the mirror now holds: its
// intents go, and so do the permanently FAILED intents of its documents
// that failed before the operation began (see ClearIntents).
type Settled struct {
	Token string
	Docs  []DocRef
	Began time.Time
}

// ClearSettled is ClearIntents for several operations, in one round trip:
// one delete command whose statements are each an equality the store can
// look up, each existing document's failures or an operation's token (one
// filter with $in and $or made FerretDB read and filter every intent: 8 ms
// of the machine per clear on the bench, 2 ms as equalities).
//
// The statements run in order and stop at the first that fails, the
// failures first: a clear cut short keeps its operations' intents, so the
// worker comes back to them, re-applies, and retires the failures then (a
// token cleared before its failures would leave them for good).
func (s *Store) ClearSettled(ctx context.Context, ops []Settled, now time.Time) error {
	if len(ops) == 0 {
		return nil
	}
	// A document in several operations: its failures before the latest
	// of their beginnings (each one's were read after those failed).
	since := map[DocRef]time.Time{}
	var docs []DocRef
	for _, op := range ops {
		for _, d := range op.Docs {
			t, seen := since[d]
			if !seen {
				docs = append(docs, d)
			}
			if !seen || op.Began.After(t) {
				since[d] = op.Began
			}
		}
	}
	models := make([]mongo.WriteModel, 0, len(docs)+len(ops))
	for _, d := range docs {
		models = append(models, mongo.NewDeleteManyModel().SetFilter(retiredOf(d, since[d])))
	}
	for _, op := range ops {
		// Those nobody has leased since (a worker holding one keeps it
		// until it is done).
		models = append(models, mongo.NewDeleteManyModel().SetFilter(bson.D{{Key: "token", Value: op.Token},
			{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}}))
	}
	if _, err := s.coll(CollMirrorIntents).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true)); err != nil {
		return fmt.Errorf("mongo: clear mirror intents: %w", err)
	}
	return nil
}

// ClaimIntents leases up to limit due intents to owner (unique per call)
// until leaseUntil and returns them. The lease is taken by one conditional
// updateMany: the condition (no live lease) is checked per document as it is
// updated, so two workers never hold the same intent; one that dies loses its
// lease when it expires, and the intent is claimed again.
func (s *Store) ClaimIntents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Intent, error) {
	if err := s.fence(); err != nil {
		return nil, err // a process that may not write claims nothing
	}
	free := bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}},
		{Key: "permanent", Value: bson.D{{Key: "$ne", Value: true}}}}
	// FAILED ones too: the state is for visibility; a transient failure is
	// retried for as long as it lasts.
	due := append(bson.D{{Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}}}, free...)
	cur, err := s.coll(CollMirrorIntents).Find(ctx, due, options.Find().
		SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "token", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: due intents: %w", err)
	}
	var found []struct {
		Token string `bson:"token"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("mongo: due intents: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	// Whole operations: every unleased intent of each due intent's token,
	// so the worker applies an operation's documents together.
	seen := map[string]bool{}
	tokens := bson.A{}
	for _, f := range found {
		if !seen[f.Token] {
			seen[f.Token] = true
			tokens = append(tokens, f.Token)
		}
	}
	if _, err := s.coll(CollMirrorIntents).UpdateMany(ctx,
		append(bson.D{{Key: "token", Value: bson.D{{Key: "$in", Value: tokens}}}}, free...),
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_owner", Value: owner}, {Key: "lease_until", Value: leaseUntil}}}}); err != nil {
		return nil, fmt.Errorf("mongo: claim intents: %w", err)
	}
	return s.Intents(ctx, IntentFilter{LeaseOwner: owner}, 0)
}

// FinishIntents deletes the intents the owner applied, and the
// permanently FAILED intents of the applied docs that failed before since
// (their documents were read and applied after they failed), in one round
// trip.
func (s *Store) FinishIntents(ctx context.Context, ids []bson.ObjectID, owner string, docs []DocRef, since time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "lease_owner", Value: owner}}
	if len(docs) > 0 {
		filter = bson.D{{Key: "$or", Value: bson.A{filter, retired(docs, since)}}}
	}
	if _, err := s.coll(CollMirrorIntents).DeleteMany(ctx, filter); err != nil {
		return fmt.Errorf("mongo: finish intents: %w", err)
	}
	return nil
}

// Failure is what FailIntents records about a failed attempt.
type Failure struct {
	Msg       string
	Now, Next time.Time
	// Failed flags the intents FAILED, for visibility: transient ones are
	// still retried at Next. Permanent parks them until an admin retries or
	// a later write of the document is applied.
	Failed, Permanent bool
}

// FailIntents records a failed attempt of the owner's intents ids in one
// round trip: each waits until f.Next, its attempts go up by one, its lease
// ends.
func (s *Store) FailIntents(ctx context.Context, ids []bson.ObjectID, owner string, f Failure) error {
	if len(ids) == 0 {
		return nil
	}
	state := IntentPending
	if f.Failed || f.Permanent {
		state = IntentFailed
	}
	set := bson.D{{Key: "state", Value: state}, {Key: "last_error", Value: f.Msg}, {Key: "last_failed_at", Value: f.Now},
		{Key: "next_attempt_at", Value: f.Next}, {Key: "permanent", Value: f.Permanent},
		{Key: "lease_owner", Value: ""}, {Key: "lease_until", Value: time.Time{}}}
	_, err := s.coll(CollMirrorIntents).UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "lease_owner", Value: owner}},
		bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
			{Key: "$min", Value: bson.D{{Key: "first_failed_at", Value: f.Now}}}})
	if err != nil {
		return fmt.Errorf("mongo: fail intents: %w", err)
	}
	return nil
}

// ReleaseIntents gives the owner's leased intents back untried, their
// attempts unchanged, due at next (or when they were, if next is zero):
// the worker found the mirror unreachable before it got to them, or their
// operation still writing.
func (s *Store) ReleaseIntents(ctx context.Context, ids []bson.ObjectID, owner string, next time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	set := bson.D{{Key: "lease_owner", Value: ""}, {Key: "lease_until", Value: time.Time{}}}
	if !next.IsZero() {
		set = append(set, bson.E{Key: "next_attempt_at", Value: next})
	}
	_, err := s.coll(CollMirrorIntents).UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "lease_owner", Value: owner}},
		bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("mongo: release intents: %w", err)
	}
	return nil
}

// WakeRetrying makes every intent waiting out a transient failure's
// backoff due now (the mirror is reachable again), and reports how many.
func (s *Store) WakeRetrying(ctx context.Context, now time.Time) (int64, error) {
	r, err := s.coll(CollMirrorIntents).UpdateMany(ctx, bson.D{
		{Key: "attempts", Value: bson.D{{Key: "$gt", Value: 0}}},
		{Key: "permanent", Value: bson.D{{Key: "$ne", Value: true}}},
		{Key: "next_attempt_at", Value: bson.D{{Key: "$gt", Value: now}}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "next_attempt_at", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: wake intents: %w", err)
	}
	return r.ModifiedCount, nil
}

// IntentFilter selects intents for the admin surface.
type IntentFilter struct {
	Coll       string
	DocID      string
	State      string
	LeaseOwner string
	// Failures keeps intents that failed at least once; After starts after
	// that intent (keyset paging in _id order).
	Failures bool
	After    bson.ObjectID
}

func (f IntentFilter) bson() bson.D {
	d := bson.D{}
	if f.Coll != "" {
		d = append(d, bson.E{Key: "coll", Value: f.Coll})
	}
	if f.DocID != "" {
		d = append(d, bson.E{Key: "doc_id", Value: f.DocID})
	}
	if f.State != "" {
		d = append(d, bson.E{Key: "state", Value: f.State})
	}
	if f.LeaseOwner != "" {
		d = append(d, bson.E{Key: "lease_owner", Value: f.LeaseOwner})
	}
	if f.Failures {
		d = append(d, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "attempts", Value: bson.D{{Key: "$gt", Value: 0}}}},
			bson.D{{Key: "state", Value: IntentFailed}},
		}})
	}
	if !f.After.IsZero() {
		d = append(d, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}})
	}
	return d
}

// CountIntents counts the intents f selects (After ignored).
func (s *Store) CountIntents(ctx context.Context, f IntentFilter) (int64, error) {
	f.After = bson.ObjectID{}
	n, err := s.coll(CollMirrorIntents).CountDocuments(ctx, f.bson())
	if err != nil {
		return 0, fmt.Errorf("mongo: count intents: %w", err)
	}
	return n, nil
}

// Intents lists up to limit intents (0: all), oldest first: in _id order,
// which is creation order and the keyset of f.After.
func (s *Store) Intents(ctx context.Context, f IntentFilter, limit int) ([]Intent, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.coll(CollMirrorIntents).Find(ctx, f.bson(), opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: intents: %w", err)
	}
	var out []Intent
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("mongo: intents: %w", err)
	}
	return out, nil
}

// RetryIntents makes matching FAILED (or waiting) intents due now with a
// fresh attempt budget, and returns how many it changed.
func (s *Store) RetryIntents(ctx context.Context, f IntentFilter, now time.Time) (int64, error) {
	r, err := s.coll(CollMirrorIntents).UpdateMany(ctx, f.bson(), bson.D{{Key: "$set", Value: bson.D{
		{Key: "state", Value: IntentPending}, {Key: "next_attempt_at", Value: now}, {Key: "attempts", Value: 0},
		{Key: "permanent", Value: false}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: retry intents: %w", err)
	}
	return r.ModifiedCount, nil
}

// RescheduleIntents makes the unleased intents of token due at due and
// reports how many it found.
func (s *Store) RescheduleIntents(ctx context.Context, token string, due time.Time) (int64, error) {
	r, err := s.coll(CollMirrorIntents).UpdateMany(ctx, bson.D{{Key: "token", Value: token},
		{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: time.Now()}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_attempt_at", Value: due}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: reschedule intents: %w", err)
	}
	return r.MatchedCount, nil
}

// IntentTally counts intents per collection and state, and dates the
// oldest pending one (zero when none), by querying: health, the metrics
// scrape and syncMetrics ask it often, and the collection is largest
// exactly when they are needed (an outage), so it is never read whole.
type IntentTally struct {
	Pending, Failed map[string]int
	OldestPending   time.Time
}

// TallyIntents runs two queries: a group by collection and state, and the
// oldest pending intent.
func (s *Store) TallyIntents(ctx context.Context) (IntentTally, error) {
	t := IntentTally{Pending: map[string]int{}, Failed: map[string]int{}}
	cur, err := s.coll(CollMirrorIntents).Aggregate(ctx, bson.A{
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "coll", Value: "$coll"}, {Key: "state", Value: "$state"}}},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	})
	if err != nil {
		return t, fmt.Errorf("mongo: count intents: %w", err)
	}
	var groups []struct {
		ID struct {
			Coll  string `bson:"coll"`
			State string `bson:"state"`
		} `bson:"_id"`
		N int `bson:"n"`
	}
	if err := cur.All(ctx, &groups); err != nil {
		return t, fmt.Errorf("mongo: count intents: %w", err)
	}
	for _, g := range groups {
		if g.ID.State == IntentFailed {
			t.Failed[g.ID.Coll] += g.N
		} else {
			t.Pending[g.ID.Coll] += g.N
		}
	}
	var oldest struct {
		CreatedAt time.Time `bson:"created_at"`
	}
	err = s.coll(CollMirrorIntents).FindOne(ctx, bson.D{{Key: "state", Value: bson.D{{Key: "$ne", Value: IntentFailed}}}},
		options.FindOne().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetProjection(bson.D{{Key: "created_at", Value: 1}})).Decode(&oldest)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
	case err != nil:
		return t, fmt.Errorf("mongo: oldest intent: %w", err)
	default:
		t.OldestPending = oldest.CreatedAt
	}
	return t, nil
}

// SumAttempts adds up the failed attempts of the intents still there. It
// is a query of its own: FerretDB v1 computes only the first accumulator
// of a $group.
func (s *Store) SumAttempts(ctx context.Context) (int, error) {
	cur, err := s.coll(CollMirrorIntents).Aggregate(ctx, bson.A{
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil},
			{Key: "attempts", Value: bson.D{{Key: "$sum", Value: "$attempts"}}}}}},
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: sum attempts: %w", err)
	}
	var out []struct {
		Attempts int `bson:"attempts"`
	}
	if err := cur.All(ctx, &out); err != nil || len(out) == 0 {
		return 0, err
	}
	return out[0].Attempts, nil
}

package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// CollIdempotencyKeys holds, per viewer and Idempotency-Key, the first
// answer to a request sent with that key. It is ours (the original had no
// such keys) and is not mirrored: it is request bookkeeping with a life of
// a day, not product data.
const CollIdempotencyKeys = "idempotency_keys"

// States of an idempotency record.
const (
	// IdempotencyRunning: an attempt owns the key and runs the request.
	IdempotencyRunning = "running"
	// IdempotencyDone: the answer is stored and is replayed.
	IdempotencyDone = "done"
)

// IdempotencyKey is the record of one key of one viewer. Every change of it
// is a single-document write filtered on the owner that read it (FerretDB
// v1 has no transactions), so of two attempts that race for a key exactly
// one owns it.
type IdempotencyKey struct {
	ID string `bson:"_id"`
	// Fingerprint identifies the request the key was first used with.
	Fingerprint string `bson:"fingerprint"`
	State       string `bson:"state"`
	// Owner is the token of the attempt that runs (or ran) the request.
	Owner string `bson:"owner"`
	// LeaseUntil: a running record past it was left by an attempt that
	// crashed or never finished, and may be taken over.
	LeaseUntil  time.Time `bson:"lease_until"`
	Status      int       `bson:"status,omitempty"`
	ContentType string    `bson:"content_type,omitempty"`
	Body        []byte    `bson:"body,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	// ExpiresAt: past it the record counts as absent; the server purges it.
	ExpiresAt time.Time `bson:"expires_at"`
}

// BeginIdempotencyKey inserts k, a running record. The unique _id makes it
// atomic: when a record with k's id exists, that one is returned with
// inserted false, and ErrNotFound when it vanished before it could be read
// (released or purged in between: the caller tries again).
func (s *Store) BeginIdempotencyKey(ctx context.Context, k IdempotencyKey) (_ IdempotencyKey, inserted bool, err error) {
	if err := s.fence(); err != nil {
		return IdempotencyKey{}, false, err
	}
	_, err = s.coll(CollIdempotencyKeys).InsertOne(ctx, k)
	if err == nil {
		return k, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return IdempotencyKey{}, false, fmt.Errorf("mongo: begin idempotency key: %w", err)
	}
	var got IdempotencyKey
	err = s.coll(CollIdempotencyKeys).FindOne(ctx, bson.D{{Key: "_id", Value: k.ID}}).Decode(&got)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return IdempotencyKey{}, false, fmt.Errorf("%w: idempotency key", ErrNotFound)
	case err != nil:
		return IdempotencyKey{}, false, fmt.Errorf("mongo: read idempotency key: %w", err)
	}
	return got, false, nil
}

// TakeOverIdempotencyKey replaces prev, as it was read, with next (a
// running record of a new owner): compare-and-set on prev's owner and
// state, so that an owner that finished meanwhile, or another attempt that
// took it first, wins and taken is false.
func (s *Store) TakeOverIdempotencyKey(ctx context.Context, prev, next IdempotencyKey) (taken bool, err error) {
	unlock, err := s.serialize(CollIdempotencyKeys + ":" + prev.ID)
	if err != nil {
		return false, err
	}
	defer unlock()
	next.ID = prev.ID
	r, err := s.coll(CollIdempotencyKeys).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: prev.ID}, {Key: "owner", Value: prev.Owner}, {Key: "state", Value: prev.State}}, next)
	if err != nil {
		return false, fmt.Errorf("mongo: take over idempotency key: %w", err)
	}
	return r.MatchedCount == 1, nil
}

// FinishIdempotencyKey stores the answer of owner's attempt; stored is
// false when the attempt no longer owns the key (it was taken over).
func (s *Store) FinishIdempotencyKey(ctx context.Context, id, owner string, status int, contentType string, body []byte) (stored bool, err error) {
	unlock, err := s.serialize(CollIdempotencyKeys + ":" + id)
	if err != nil {
		return false, err
	}
	defer unlock()
	r, err := s.coll(CollIdempotencyKeys).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: owner}, {Key: "state", Value: IdempotencyRunning}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: IdempotencyDone}, {Key: "status", Value: status},
			{Key: "content_type", Value: contentType}, {Key: "body", Value: body}}}})
	if err != nil {
		return false, fmt.Errorf("mongo: finish idempotency key: %w", err)
	}
	return r.MatchedCount == 1, nil
}

// ReleaseIdempotencyKey deletes owner's running record, so that the next
// request with the key runs; released is false when the attempt no longer
// owns it.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, id, owner string) (released bool, err error) {
	unlock, err := s.serialize(CollIdempotencyKeys + ":" + id)
	if err != nil {
		return false, err
	}
	defer unlock()
	r, err := s.coll(CollIdempotencyKeys).DeleteOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: owner}, {Key: "state", Value: IdempotencyRunning}})
	if err != nil {
		return false, fmt.Errorf("mongo: release idempotency key: %w", err)
	}
	return r.DeletedCount == 1, nil
}

// PurgeIdempotencyKeys deletes records that expired before cutoff. FerretDB
// has no TTL indexes, so the server calls this now and then.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	r, err := s.coll(CollIdempotencyKeys).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: purge idempotency keys: %w", err)
	}
	return r.DeletedCount, nil
}

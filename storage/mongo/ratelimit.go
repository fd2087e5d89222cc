package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// CollRateLimits holds rate-limit counters. They live in MongoDB, not in
// memory, so every instance behind a load balancer counts the same
// attempts.
const CollRateLimits = "rate_limits"

// TakeAttempt reserves one attempt for key before the caller evaluates it:
// ok only if fewer than limit were taken in the window that started at or
// after since; a stale or missing window restarts at now. Each step is one
// single-document operation whose filter carries the condition (no
// transaction, no pipeline update: FerretDB v1 has neither), so of any
// number of concurrent requests, on any number of instances, at most limit
// get ok in one window. A race it cannot settle is answered "limited", the
// safe side, and never as an error.
func (s *Store) TakeAttempt(ctx context.Context, key string, limit int64, since, now time.Time) (ok bool, err error) {
	if ok, err = s.takeOrRestart(ctx, key, limit, since, now); ok || err != nil {
		return ok, err
	}
	// Neither matched: the window is full, or there is no counter yet.
	if ok, err = s.startWindow(ctx, key, now); ok || err != nil {
		return ok, err
	}
	// The counter exists: it was full, or another request created or
	// restarted it since our first look. Counters are never deleted, so one
	// more look settles it without inserting again.
	return s.takeOrRestart(ctx, key, limit, since, now)
}

// takeOrRestart takes an attempt in the current window if it has room, or
// restarts a stale window with this attempt.
func (s *Store) takeOrRestart(ctx context.Context, key string, limit int64, since, now time.Time) (bool, error) {
	if ok, err := s.takeInWindow(ctx, key, limit, since); ok || err != nil {
		return ok, err
	}
	return s.restartStaleWindow(ctx, key, since, now)
}

// GiveBackAttempt returns one attempt taken by TakeAttempt, for an attempt
// that turned out not to count (a right code). The count never goes below 0.
func (s *Store) GiveBackAttempt(ctx context.Context, key string) error {
	unlock, err := s.lockRateLimit(key)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = s.coll(CollRateLimits).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "count", Value: bson.D{{Key: "$gt", Value: int64(0)}}}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: int64(-1)}}}})
	if err != nil {
		return fmt.Errorf("mongo: rate limit %s: give back: %w", key, err)
	}
	return nil
}

// takeInWindow counts one attempt in the current window if it has room.
func (s *Store) takeInWindow(ctx context.Context, key string, limit int64, since time.Time) (bool, error) {
	unlock, err := s.lockRateLimit(key)
	if err != nil {
		return false, err
	}
	defer unlock()
	err = s.coll(CollRateLimits).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "window_start", Value: bson.D{{Key: "$gte", Value: since}}},
			{Key: "count", Value: bson.D{{Key: "$lt", Value: limit}}}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: int64(1)}}}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: rate limit %s: take: %w", key, err)
	}
	return true, nil
}

// restartStaleWindow starts a new window at now, holding this attempt, if
// the current one began before since.
func (s *Store) restartStaleWindow(ctx context.Context, key string, since, now time.Time) (bool, error) {
	unlock, err := s.lockRateLimit(key)
	if err != nil {
		return false, err
	}
	defer unlock()
	r, err := s.coll(CollRateLimits).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "window_start", Value: bson.D{{Key: "$lt", Value: since}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: int64(1)}, {Key: "window_start", Value: now}}}})
	if err != nil {
		return false, fmt.Errorf("mongo: rate limit %s: restart window: %w", key, err)
	}
	return r.MatchedCount > 0, nil
}

// startWindow creates key's counter holding this attempt; false when it
// exists already, which the unique _id tells atomically on any server.
func (s *Store) startWindow(ctx context.Context, key string, now time.Time) (bool, error) {
	if err := s.fence(); err != nil {
		return false, err
	}
	_, err := s.coll(CollRateLimits).InsertOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "count", Value: int64(1)}, {Key: "window_start", Value: now}})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: rate limit %s: start window: %w", key, err)
	}
	return true, nil
}

// lockRateLimit serialises this process's updates of key's counter on
// FerretDB, which does not make one update atomic (see serialize). On
// MongoDB the filters alone make the counter correct across instances.
func (s *Store) lockRateLimit(key string) (unlock func(), err error) {
	return s.serialize(CollRateLimits + ":" + key)
}

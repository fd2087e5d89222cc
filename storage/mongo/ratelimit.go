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

// CollRateLimits holds rate-limit counters. They live in MongoDB, not in
// memory, so every instance behind a load balancer counts the same
// attempts.
const CollRateLimits = "rate_limits"

// Attempts returns how many attempts key made in the window that started
// at or after since.
func (s *Store) Attempts(ctx context.Context, key string, since time.Time) (int64, error) {
	var d struct {
		Count int64     `bson:"count"`
		Start time.Time `bson:"window_start"`
	}
	err := s.coll(CollRateLimits).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongo: rate limit: %w", err)
	}
	if d.Start.Before(since) {
		return 0, nil
	}
	return d.Count, nil
}

// CountAttempt adds one attempt for key, starting a new window when the
// current one began before since.
func (s *Store) CountAttempt(ctx context.Context, key string, since, now time.Time) error {
	// Two steps without a pipeline update (FerretDB has none): reset a stale
	// window, then count. A race between them loses at most one attempt.
	if _, err := s.coll(CollRateLimits).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "window_start", Value: bson.D{{Key: "$lt", Value: since}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: int64(0)}, {Key: "window_start", Value: now}}}}); err != nil {
		return fmt.Errorf("mongo: rate limit: %w", err)
	}
	_, err := s.coll(CollRateLimits).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: int64(1)}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "window_start", Value: now}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: rate limit: %w", err)
	}
	return nil
}

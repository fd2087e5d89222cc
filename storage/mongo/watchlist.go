package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// WatchEntries returns the user's watch rows (active or not) of the tasks.
func (s *Store) WatchEntries(ctx context.Context, userID string, taskIDs []string) ([]models.WatchlistEntry, error) {
	filter := bson.D{{Key: "userId", Value: bson.D{{Key: "$in", Value: refIn([]string{userID})}}}}
	if taskIDs != nil {
		filter = append(filter, bson.E{Key: "taskId", Value: bson.D{{Key: "$in", Value: refIn(taskIDs)}}})
	}
	return s.findWatch(ctx, filter, nil)
}

// ActiveWatchEntries returns the user's active watch rows, most recently
// watched first.
func (s *Store) ActiveWatchEntries(ctx context.Context, userID string) ([]models.WatchlistEntry, error) {
	return s.findWatch(ctx, bson.D{{Key: "userId", Value: bson.D{{Key: "$in", Value: refIn([]string{userID})}}},
		{Key: "isActive", Value: true}},
		options.Find().SetSort(bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}))
}

func (s *Store) findWatch(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]models.WatchlistEntry, error) {
	var cur *mongo.Cursor
	var err error
	if opts != nil {
		cur, err = s.coll(CollWatchlist).Find(ctx, filter, opts)
	} else {
		cur, err = s.coll(CollWatchlist).Find(ctx, filter)
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: watchlist: %w", err)
	}
	var docs []watchlistDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: watchlist: %w", err)
	}
	out := make([]models.WatchlistEntry, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// SetWatch makes the user's watch row of the task active or inactive,
// creating it with newID when there is none. The unique (userId, taskId)
// index keeps one row per pair, so watching twice changes nothing and
// re-watching after unwatching reactivates the row. It returns the row as
// stored and whether it changed.
func (s *Store) SetWatch(ctx context.Context, newID, userID, taskID string, active bool, now time.Time) (models.WatchlistEntry, bool, error) {
	rows, err := s.WatchEntries(ctx, userID, []string{taskID})
	if err != nil {
		return models.WatchlistEntry{}, false, err
	}
	if len(rows) > 0 {
		before := rows[0]
		if before.IsActive == active {
			return before, false, nil
		}
		after := before
		after.IsActive, after.UpdatedAt, after.UpdatedBy = active, &now, userID
		var out watchlistDoc
		b := watchlistDocOf(before)
		if _, err := s.patch(ctx, CollWatchlist, b.ID, b, watchlistDocOf(after), &out); err != nil {
			return models.WatchlistEntry{}, false, err
		}
		return out.model(), true, nil
	}
	if !active {
		return models.WatchlistEntry{}, false, nil
	}
	e := models.WatchlistEntry{ID: newID, TaskID: taskID, UserID: userID, IsActive: true, CreatedAt: now,
		CreatedBy: userID, UpdatedAt: &now, UpdatedBy: userID, Version: 1}
	err = s.insert(ctx, CollWatchlist, watchlistDocOf(e))
	if errors.Is(err, ErrDuplicate) {
		return models.WatchlistEntry{}, false, nil // a concurrent watch of the same task won: same result
	}
	return e, err == nil, err
}

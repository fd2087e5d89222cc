package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// CodeQuery pages team-creation codes newest first, after a keyset position.
type CodeQuery struct {
	AfterCreatedAt time.Time
	AfterID        string // empty: from the start
	Limit          int
}

// ListCreationCodes returns up to q.Limit codes in (created_at, _id)
// descending order.
func (s *Store) ListCreationCodes(ctx context.Context, q CodeQuery) ([]models.TeamCreationInviteCode, error) {
	f := bson.D{}
	if q.AfterID != "" {
		id, err := objectID(q.AfterID)
		if err != nil {
			return nil, err
		}
		f = bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: q.AfterCreatedAt}}}},
			bson.D{{Key: "created_at", Value: q.AfterCreatedAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}}}
	}
	cur, err := s.coll(CollTeamCreationCode).Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: list creation codes: %w", err)
	}
	var docs []creationCodeDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list creation codes: %w", err)
	}
	out := make([]models.TeamCreationInviteCode, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// CountCreationCodes counts every team-creation code.
func (s *Store) CountCreationCodes(ctx context.Context) (int64, error) {
	n, err := s.coll(CollTeamCreationCode).CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("mongo: count creation codes: %w", err)
	}
	return n, nil
}

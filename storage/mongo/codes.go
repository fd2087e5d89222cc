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

// InsertCreationCode stores a new team-creation code.
func (s *Store) InsertCreationCode(ctx context.Context, c models.TeamCreationInviteCode) error {
	return s.insert(ctx, CollTeamCreationCode, creationCodeDocOf(c))
}

// CreationCode finds a code by its text.
func (s *Store) CreationCode(ctx context.Context, code string) (models.TeamCreationInviteCode, error) {
	var d creationCodeDoc
	err := s.coll(CollTeamCreationCode).FindOne(ctx, bson.D{{Key: "code", Value: code}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return models.TeamCreationInviteCode{}, fmt.Errorf("%w: creation code", ErrNotFound)
	}
	if err != nil {
		return models.TeamCreationInviteCode{}, fmt.Errorf("mongo: creation code: %w", err)
	}
	return d.model(), nil
}

// ConsumeCreationCode marks the unused code c used by userID, atomically:
// of two concurrent uses one wins, the other gets ErrNotFound.
func (s *Store) ConsumeCreationCode(ctx context.Context, c models.TeamCreationInviteCode, userID string, now time.Time) (models.TeamCreationInviteCode, error) {
	id, err := objectID(c.ID)
	if err != nil {
		return models.TeamCreationInviteCode{}, err
	}
	unlock, err := s.serialize(CollTeamCreationCode + ":" + c.ID) // as patch locks it (ReleaseCreationCode)
	if err != nil {
		return models.TeamCreationInviteCode{}, err
	}
	defer unlock()
	var d creationCodeDoc
	err = s.coll(CollTeamCreationCode).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "is_used", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "is_used", Value: true}, {Key: "used_by", Value: ref(userID)},
			{Key: "used_at", Value: now}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return models.TeamCreationInviteCode{}, fmt.Errorf("%w: unused creation code", ErrNotFound)
	}
	if err != nil {
		return models.TeamCreationInviteCode{}, fmt.Errorf("mongo: consume creation code: %w", err)
	}
	return d.model(), nil
}

// ReleaseCreationCode undoes ConsumeCreationCode when creating the team
// failed after it, so a failure does not burn the code.
func (s *Store) ReleaseCreationCode(ctx context.Context, c models.TeamCreationInviteCode) (models.TeamCreationInviteCode, error) {
	after := c
	after.IsUsed, after.UsedBy, after.UsedAt = false, "", nil
	var out creationCodeDoc
	b := creationCodeDocOf(c)
	if _, err := s.patch(ctx, CollTeamCreationCode, b.ID, b, creationCodeDocOf(after), &out); err != nil {
		return c, err
	}
	return out.model(), nil
}

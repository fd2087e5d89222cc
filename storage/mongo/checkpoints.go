package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollMirrorState holds the mirror tools' bookkeeping: backfill checkpoints
// and the last verify result. Keeping it in MongoDB lets a backfill resume
// on any instance and every instance report the same verify result.
const CollMirrorState = "mirror_state"

// SaveState stores v under key, replacing what was there.
func (s *Store) SaveState(ctx context.Context, key string, v any) error {
	raw, err := bson.Marshal(v)
	if err != nil {
		return fmt.Errorf("mongo: encode state: %w", err)
	}
	doc := bson.D{{Key: "_id", Value: key}, {Key: "v", Value: bson.Raw(raw)}}
	_, err = s.coll(CollMirrorState).ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: save state %s: %w", key, err)
	}
	return nil
}

// LoadState reads the value under key into v; found is false when none.
func (s *Store) LoadState(ctx context.Context, key string, v any) (found bool, err error) {
	var d struct {
		V bson.Raw `bson:"v"`
	}
	err = s.coll(CollMirrorState).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: load state %s: %w", key, err)
	}
	if err := bson.Unmarshal(d.V, v); err != nil {
		return false, fmt.Errorf("mongo: decode state %s: %w", key, err)
	}
	return true, nil
}

// DeleteState removes the value under key.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	if _, err := s.coll(CollMirrorState).DeleteOne(ctx, bson.D{{Key: "_id", Value: key}}); err != nil {
		return fmt.Errorf("mongo: delete state %s: %w", key, err)
	}
	return nil
}

package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The deletes below undo a creation when a later step of it failed
// (FerretDB v1 has no transactions to roll back): the task or team is new,
// so whatever refers to it was written by that same operation. Tasks and
// teams are otherwise only ever deleted softly.

// DeleteByID removes one document of coll for good; one that is not there
// is no error (the insert being undone may never have landed).
func (s *Store) DeleteByID(ctx context.Context, coll, id string) error {
	o, err := objectID(id)
	if err != nil {
		return err
	}
	if err := s.fence(); err != nil {
		return err
	}
	if _, err := s.coll(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: o}}); err != nil {
		return fmt.Errorf("mongo: delete from %s: %w", coll, err)
	}
	return nil
}

// DeleteReferring deletes the documents of coll whose field refers to id
// (stored as an ObjectId or as the original's hex string), by the ids it
// found first, and returns those, so the caller can name each to the
// mirror.
func (s *Store) DeleteReferring(ctx context.Context, coll, field, id string) ([]string, error) {
	if err := s.fence(); err != nil {
		return nil, err
	}
	cur, err := s.coll(coll).Find(ctx, bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: refIn([]string{id})}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: find %s of %s: %w", coll, id, err)
	}
	var docs []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: find %s of %s: %w", coll, id, err)
	}
	if len(docs) == 0 {
		return nil, nil
	}
	oids := make(bson.A, len(docs))
	ids := make([]string, len(docs))
	for i, d := range docs {
		oids[i], ids[i] = d.ID, d.ID.Hex()
	}
	if _, err := s.coll(coll).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}}); err != nil {
		return nil, fmt.Errorf("mongo: delete %s of %s: %w", coll, id, err)
	}
	return ids, nil
}

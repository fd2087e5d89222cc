package mongo

import (
	"context"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// LabelQuery selects labels by a case-insensitive substring of their name,
// in (name, _id) order, starting after a keyset position.
type LabelQuery struct {
	Search string
	// AfterName and AfterID are the position of the last label already seen;
	// AfterID empty means from the start.
	AfterName string
	AfterID   string
	Limit     int
}

func (q LabelQuery) filter() (bson.D, error) {
	f := bson.D{{Key: "isDeleted", Value: bson.D{{Key: "$ne", Value: true}}}}
	if q.Search != "" {
		// QuoteMeta: user input is matched literally, never as a pattern.
		f = append(f, bson.E{Key: "name", Value: bson.Regex{Pattern: regexp.QuoteMeta(q.Search), Options: "i"}})
	}
	if q.AfterID != "" {
		id, err := objectID(q.AfterID)
		if err != nil {
			return nil, err
		}
		f = append(f, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: bson.D{{Key: "$gt", Value: q.AfterName}}}},
			bson.D{{Key: "name", Value: q.AfterName}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}},
		}})
	}
	return f, nil
}

// ListLabels returns up to q.Limit labels after the keyset position.
func (s *Store) ListLabels(ctx context.Context, q LabelQuery) ([]models.Label, error) {
	f, err := q.filter()
	if err != nil {
		return nil, err
	}
	cur, err := s.coll(CollLabels).Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: list labels: %w", err)
	}
	var docs []labelDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list labels: %w", err)
	}
	out := make([]models.Label, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// CountLabels counts the labels matching search, ignoring any position.
func (s *Store) CountLabels(ctx context.Context, search string) (int64, error) {
	f, err := LabelQuery{Search: search}.filter()
	if err != nil {
		return 0, err
	}
	n, err := s.coll(CollLabels).CountDocuments(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("mongo: count labels: %w", err)
	}
	return n, nil
}

// InsertLabel stores a new label; a taken name gives ErrDuplicate.
func (s *Store) InsertLabel(ctx context.Context, l models.Label) error {
	return s.insert(ctx, CollLabels, labelDocOf(l))
}

// UpdateLabel writes the changes from before to after.
func (s *Store) UpdateLabel(ctx context.Context, before, after models.Label) (models.Label, error) {
	var out labelDoc
	b := labelDocOf(before)
	changed, err := s.patch(ctx, CollLabels, b.ID, b, labelDocOf(after), &out)
	if err != nil || !changed {
		return before, err
	}
	return out.model(), nil
}

// LabelsByIDs returns the labels with these ids, deleted ones included.
func (s *Store) LabelsByIDs(ctx context.Context, ids []string) ([]models.Label, error) {
	var docs []labelDoc
	if err := s.findByIDs(ctx, CollLabels, ids, &docs); err != nil {
		return nil, fmt.Errorf("mongo: labels by id: %w", err)
	}
	out := make([]models.Label, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

package storage

import (
	"context"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// LabelFilter selects labels.
type LabelFilter struct {
	// Search is a case-insensitive substring of the name, matched literally.
	Search string
}

// Labels lists labels in name order.
func (s *Store) Labels(ctx context.Context, f LabelFilter, args PageArgs) (Page[models.Label], error) {
	limit, err := args.limit()
	if err != nil {
		return Page[models.Label]{}, err
	}
	q := mongo.LabelQuery{Search: f.Search, Limit: limit + 1}
	if args.After != nil {
		c, err := decodeCursor(*args.After, 1)
		if err != nil {
			return Page[models.Label]{}, err
		}
		name, err := c.key(0)
		if err != nil {
			return Page[models.Label]{}, err
		}
		q.AfterName, q.AfterID = name, c.ID
	}
	labels, err := s.mongo.ListLabels(ctx, q)
	if err != nil {
		return Page[models.Label]{}, translate(err)
	}
	labels, more := trim(labels, limit)
	page := Page[models.Label]{HasNextPage: more, Edges: make([]Edge[models.Label], len(labels))}
	for i, l := range labels {
		page.Edges[i] = Edge[models.Label]{Cursor: encodeCursor(l.ID, strp(l.Name)), Node: l}
	}
	return page, nil
}

// CountLabels counts what Labels lists for f, over all pages.
func (s *Store) CountLabels(ctx context.Context, f LabelFilter) (int, error) {
	n, err := s.mongo.CountLabels(ctx, f.Search)
	return int(n), translate(err)
}

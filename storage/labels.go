package storage

import (
	"context"
	"fmt"

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
	return readFamily(ctx, s, FamilyLabels, fmt.Sprintf("labels search=%q after=%s/%s first=%d", f.Search, q.AfterName, q.AfterID, limit), nil,
		func(ctx context.Context, r mirrorReads) (Page[models.Label], error) {
			labels, err := r.ListLabels(ctx, q)
			if err != nil {
				return Page[models.Label]{}, err
			}
			labels, more := trim(labels, limit)
			page := Page[models.Label]{HasNextPage: more, Edges: make([]Edge[models.Label], len(labels))}
			for i, l := range labels {
				page.Edges[i] = Edge[models.Label]{Cursor: encodeCursor(l.ID, strp(l.Name)), Node: l}
			}
			return page, nil
		}, comparePage(func(l models.Label) string { return l.ID }))
}

// CountLabels counts what Labels lists for f, over all pages.
func (s *Store) CountLabels(ctx context.Context, f LabelFilter) (int, error) {
	n, err := readFamily(ctx, s, FamilyLabels, fmt.Sprintf("countLabels search=%q", f.Search), nil,
		func(ctx context.Context, r mirrorReads) (int64, error) { return r.CountLabels(ctx, f.Search) },
		func(a, b int64) []Difference { return diffValues("(count)", a, b) })
	return int(n), err
}

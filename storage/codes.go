package storage

import (
	"context"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// TeamCreationCodes lists the team-creation codes, newest first.
func (s *Store) TeamCreationCodes(ctx context.Context, args PageArgs) (Page[models.TeamCreationInviteCode], error) {
	var page Page[models.TeamCreationInviteCode]
	limit, err := args.limit()
	if err != nil {
		return page, err
	}
	q := mongo.CodeQuery{Limit: limit + 1}
	if args.After != nil {
		c, err := decodeCursor(*args.After, 1)
		if err != nil {
			return page, err
		}
		k, err := c.key(0)
		if err != nil {
			return page, err
		}
		t, err := time.Parse(time.RFC3339Nano, k)
		if err != nil {
			return page, invalid("after", "not a cursor of this list")
		}
		q.AfterCreatedAt, q.AfterID = t, c.ID
	}
	codes, err := s.mongo.ListCreationCodes(ctx, q)
	if err != nil {
		return page, translate(err)
	}
	codes, page.HasNextPage = trim(codes, limit)
	page.Edges = make([]Edge[models.TeamCreationInviteCode], len(codes))
	for i, c := range codes {
		page.Edges[i] = Edge[models.TeamCreationInviteCode]{Cursor: encodeCursor(c.ID, strp(c.CreatedAt.Format(time.RFC3339Nano))), Node: c}
	}
	return page, nil
}

// CountTeamCreationCodes counts every team-creation code.
func (s *Store) CountTeamCreationCodes(ctx context.Context) (int, error) {
	n, err := s.mongo.CountCreationCodes(ctx)
	return int(n), translate(err)
}

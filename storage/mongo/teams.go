package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

// TeamsByIDs returns the teams with the given ids; unknown ids are left out.
func (s *Store) TeamsByIDs(ctx context.Context, ids []string) ([]models.Team, error) {
	var docs []teamDoc
	if err := s.findByIDs(ctx, CollTeams, ids, &docs); err != nil {
		return nil, fmt.Errorf("mongo: teams by id: %w", err)
	}
	out := make([]models.Team, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// MembershipsOfUsers returns the active memberships of the given users.
func (s *Store) MembershipsOfUsers(ctx context.Context, userIDs []string) ([]models.TeamMembership, error) {
	filter := bson.D{{Key: "user_id", Value: bson.D{{Key: "$in", Value: refIn(userIDs)}}}, {Key: "is_active", Value: true}}
	cur, err := s.coll(CollUserTeamDetails).Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: memberships: %w", err)
	}
	var docs []membershipDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: memberships: %w", err)
	}
	out := make([]models.TeamMembership, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

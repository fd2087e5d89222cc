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

// InsertTeam stores a new team; a taken invite code gives ErrDuplicate.
func (s *Store) InsertTeam(ctx context.Context, t models.Team) error {
	return s.insert(ctx, CollTeams, teamDocOf(t))
}

// UpdateTeam writes the changes from before to after.
func (s *Store) UpdateTeam(ctx context.Context, before, after models.Team) (models.Team, error) {
	var out teamDoc
	b := teamDocOf(before)
	changed, err := s.patch(ctx, CollTeams, b.ID, b, teamDocOf(after), &out)
	if err != nil || !changed {
		return before, err
	}
	return out.model(), nil
}

// TeamByInviteCode finds the team a join code opens.
func (s *Store) TeamByInviteCode(ctx context.Context, code string) (models.Team, error) {
	var d teamDoc
	err := s.coll(CollTeams).FindOne(ctx, bson.D{{Key: "invite_code", Value: code}, {Key: "is_deleted", Value: bson.D{{Key: "$ne", Value: true}}}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return models.Team{}, fmt.Errorf("%w: team with that code", ErrNotFound)
	}
	if err != nil {
		return models.Team{}, fmt.Errorf("mongo: team by code: %w", err)
	}
	return d.model(), nil
}

// TeamsWithPOC returns the teams whose point of contact is one of users.
func (s *Store) TeamsWithPOC(ctx context.Context, userIDs []string) ([]models.Team, error) {
	cur, err := s.coll(CollTeams).Find(ctx, bson.D{{Key: "poc_id", Value: bson.D{{Key: "$in", Value: refIn(userIDs)}}},
		{Key: "is_deleted", Value: bson.D{{Key: "$ne", Value: true}}}})
	if err != nil {
		return nil, fmt.Errorf("mongo: teams by poc: %w", err)
	}
	var docs []teamDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: teams by poc: %w", err)
	}
	out := make([]models.Team, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// InsertMembership adds a user to a team; ErrDuplicate if already in it.
func (s *Store) InsertMembership(ctx context.Context, m models.TeamMembership) error {
	return s.insert(ctx, CollUserTeamDetails, membershipDocOf(m))
}

// DeleteMembership removes a membership for good, as the original did.
func (s *Store) DeleteMembership(ctx context.Context, id string) error {
	o, err := objectID(id)
	if err != nil {
		return err
	}
	if err := s.fence(); err != nil {
		return err
	}
	if _, err := s.coll(CollUserTeamDetails).DeleteOne(ctx, bson.D{{Key: "_id", Value: o}}); err != nil {
		return fmt.Errorf("mongo: delete membership: %w", err)
	}
	return nil
}

// MembersQuery pages a team's members in join order.
type MembersQuery struct {
	TeamID         string
	AfterCreatedAt time.Time
	AfterID        string
	Limit          int
}

// MembershipsOfTeams returns the active memberships of the teams, in join
// order (created_at, _id), after a keyset position when q has one.
func (s *Store) MembershipsOfTeams(ctx context.Context, teamIDs []string, q *MembersQuery) ([]models.TeamMembership, error) {
	filter := bson.D{{Key: "team_id", Value: bson.D{{Key: "$in", Value: refIn(teamIDs)}}}, {Key: "is_active", Value: true}}
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}})
	if q != nil {
		if q.AfterID != "" {
			id, err := objectID(q.AfterID)
			if err != nil {
				return nil, err
			}
			filter = append(filter, bson.E{Key: "$or", Value: bson.A{
				bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: q.AfterCreatedAt}}}},
				bson.D{{Key: "created_at", Value: q.AfterCreatedAt}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}},
			}})
		}
		opts.SetLimit(int64(q.Limit))
	}
	cur, err := s.coll(CollUserTeamDetails).Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: members: %w", err)
	}
	var docs []membershipDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: members: %w", err)
	}
	out := make([]models.TeamMembership, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// CountMembers counts a team's active members.
func (s *Store) CountMembers(ctx context.Context, teamID string) (int64, error) {
	n, err := s.coll(CollUserTeamDetails).CountDocuments(ctx, bson.D{
		{Key: "team_id", Value: bson.D{{Key: "$in", Value: refIn([]string{teamID})}}}, {Key: "is_active", Value: true}})
	if err != nil {
		return 0, fmt.Errorf("mongo: count members: %w", err)
	}
	return n, nil
}

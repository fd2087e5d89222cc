package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

// InsertAssignment stores a new assignment. The unique sparse index on
// active_task_id turns a second active assignment of one task into
// ErrDuplicate.
func (s *Store) InsertAssignment(ctx context.Context, a models.TaskAssignment) error {
	return s.insert(ctx, CollTaskDetails, assignmentDocOf(a))
}

// UpdateAssignment writes the changes from before to after.
func (s *Store) UpdateAssignment(ctx context.Context, before, after models.TaskAssignment) (models.TaskAssignment, error) {
	var out assignmentDoc
	b := assignmentDocOf(before)
	changed, err := s.patch(ctx, CollTaskDetails, b.ID, b, assignmentDocOf(after), &out)
	if err != nil || !changed {
		return before, err
	}
	return out.model(), nil
}

func (s *Store) findAssignments(ctx context.Context, filter bson.D) ([]models.TaskAssignment, error) {
	cur, err := s.coll(CollTaskDetails).Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: assignments: %w", err)
	}
	var docs []assignmentDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: assignments: %w", err)
	}
	out := make([]models.TaskAssignment, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// ActiveAssignmentsOfTasks returns the active assignment of each task that
// has one.
func (s *Store) ActiveAssignmentsOfTasks(ctx context.Context, taskIDs []string) ([]models.TaskAssignment, error) {
	return s.findAssignments(ctx, bson.D{{Key: "task_id", Value: bson.D{{Key: "$in", Value: refIn(taskIDs)}}},
		{Key: "is_active", Value: true}})
}

// ActiveAssignmentsTo returns the active assignments whose assignee is one
// of the given users or teams.
func (s *Store) ActiveAssignmentsTo(ctx context.Context, userIDs, teamIDs []string) ([]models.TaskAssignment, error) {
	or := bson.A{}
	if len(userIDs) > 0 {
		or = append(or, bson.D{{Key: "assignee_id", Value: bson.D{{Key: "$in", Value: refIn(userIDs)}}},
			{Key: "user_type", Value: string(models.AssigneeUser)}})
	}
	if len(teamIDs) > 0 {
		or = append(or, bson.D{{Key: "assignee_id", Value: bson.D{{Key: "$in", Value: refIn(teamIDs)}}},
			{Key: "user_type", Value: string(models.AssigneeTeam)}})
	}
	if len(or) == 0 {
		return nil, nil
	}
	return s.findAssignments(ctx, bson.D{{Key: "is_active", Value: true}, {Key: "$or", Value: or}})
}

// ActiveAssignmentsInTeams returns the active assignments whose team
// context is one of the teams: tasks assigned to them or handed to members.
func (s *Store) ActiveAssignmentsInTeams(ctx context.Context, teamIDs []string) ([]models.TaskAssignment, error) {
	return s.findAssignments(ctx, bson.D{{Key: "team_id", Value: bson.D{{Key: "$in", Value: refIn(teamIDs)}}},
		{Key: "is_active", Value: true}})
}

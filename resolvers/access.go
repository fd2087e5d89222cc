package resolvers

import (
	"context"
	"fmt"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/internal/policy"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// The gates of id arguments. The rules live in internal/policy; here they
// meet the arguments: an object that does not exist and one the viewer may
// not read get the same answer, word for word, and only then do the
// business rules (deleted, not a team task) and the action rules speak. The
// gates decide on the state of now (policy.Checker.Now).

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{storage.ErrForbidden}, args...)...)
}

// notFound is the one answer for a missing or unreadable object.
func notFound(kind, id string) error {
	return fmt.Errorf("%w: %s %s", storage.ErrNotFound, kind, id)
}

// readTask loads a task the viewer may read.
func (r *Resolver) readTask(ctx context.Context, field, id string) (*auth.Viewer, models.Task, error) {
	v, err := viewer(ctx)
	if err != nil {
		return nil, models.Task{}, err
	}
	if !models.ValidID(id) {
		return nil, models.Task{}, badInput(field, "not a valid id")
	}
	t, err := loaders.For(ctx).Tasks.Load(ctx, id)()
	if err != nil {
		return nil, models.Task{}, orNotFound(err, "task", id)
	}
	if ok, err := policy.For(ctx).Now().CanReadTask(ctx, t); err != nil || !ok {
		return nil, models.Task{}, orNotFound(err, "task", id)
	}
	return v, t, nil
}

// editTask loads a task the viewer may read and change; readers who may not
// change it get FORBIDDEN.
func (r *Resolver) editTask(ctx context.Context, field, id string) (*auth.Viewer, models.Task, error) {
	v, t, err := r.readTask(ctx, field, id)
	if err != nil {
		return nil, models.Task{}, err
	}
	if ok, err := policy.For(ctx).CanEditTask(ctx, t); err != nil || !ok {
		return nil, models.Task{}, orForbidden(err, "only the creator, the assignee, the assigned team's POC and admins may change a task")
	}
	return v, t, nil
}

// readTeam loads a team the viewer may read (its members).
func (r *Resolver) readTeam(ctx context.Context, field, id string) (models.Team, error) {
	if _, err := viewer(ctx); err != nil {
		return models.Team{}, err
	}
	if !models.ValidID(id) {
		return models.Team{}, badInput(field, "not a valid id")
	}
	t, err := loaders.For(ctx).Teams.Load(ctx, id)()
	if err != nil {
		return models.Team{}, orNotFound(err, "team", id)
	}
	if ok, err := policy.For(ctx).Now().CanReadTeam(ctx, t); err != nil || !ok {
		return models.Team{}, orNotFound(err, "team", id)
	}
	return t, nil
}

// manageTeam loads a team the viewer owns or administers.
func (r *Resolver) manageTeam(ctx context.Context, field, id string) (*auth.Viewer, models.Team, error) {
	t, err := r.readTeam(ctx, field, id)
	if err != nil {
		return nil, models.Team{}, err
	}
	if ok, err := policy.For(ctx).CanManageTeam(ctx, t.ID); err != nil || !ok {
		return nil, models.Team{}, orForbidden(err, "only the team's owner and admins may do this")
	}
	return auth.ViewerFrom(ctx), t, nil
}

// orNotFound turns a missing object, or no error at all (a refusal), into
// the one not-found answer; other errors pass.
func orNotFound(err error, kind, id string) error {
	if err == nil || isNotFound(err) {
		return notFound(kind, id)
	}
	return err
}

// isMember reports whether userID is an active member of teamID: data the
// business rules read about other users (an assignee, a new POC).
func isMember(ctx context.Context, userID, teamID string) (bool, error) {
	return policy.For(ctx).IsMember(ctx, userID, teamID)
}

// assignmentOf returns the task's active assignment, or nil.
func assignmentOf(ctx context.Context, taskID string) (*models.TaskAssignment, error) {
	as, err := loaders.For(ctx).AssignmentByTask.Load(ctx, taskID)()
	if err != nil || len(as) == 0 {
		return nil, err
	}
	return &as[0], nil
}

// readableTasks keeps, of tasks, those the viewer may read: the watch lists
// list only those.
func readableTasks(ctx context.Context, tasks []models.Task) ([]bool, error) {
	return policy.All(ctx, tasks, policy.For(ctx).CanReadTask)
}

func ignoreNotFound(err error) error {
	if err != nil && isNotFound(err) {
		return nil
	}
	return err
}

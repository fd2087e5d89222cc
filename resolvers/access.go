package resolvers

import (
	"context"
	"fmt"
	"slices"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// The permission rules of SPEC §5.3, in one place. Each reads through the
// request's loaders, so checking a hundred tasks costs a few batched
// queries, not a hundred.

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{storage.ErrForbidden}, args...)...)
}

// teamRoles returns the viewer's roles in a team: MEMBER for a member, plus
// the OWNER and ADMIN grants; nil for outsiders.
func (r *Resolver) teamRoles(ctx context.Context, userID, teamID string) ([]models.RoleName, error) {
	l := loaders.For(ctx)
	ms, err := l.MembershipsByUser.Load(ctx, userID)()
	if err != nil {
		return nil, err
	}
	member := slices.ContainsFunc(ms, func(m models.TeamMembership) bool { return m.TeamID == teamID })
	if !member {
		return nil, nil
	}
	roles := []models.RoleName{}
	grants, err := l.RolesByUser.Load(ctx, userID)()
	if err != nil {
		return nil, err
	}
	for _, want := range []models.RoleName{models.RoleOwner, models.RoleAdmin} {
		if slices.ContainsFunc(grants, func(g models.UserRole) bool {
			return g.Scope == models.ScopeTeam && g.TeamID == teamID && g.RoleName == want
		}) {
			roles = append(roles, want)
		}
	}
	return append(roles, models.RoleMember), nil
}

func hasRole(roles []models.RoleName, want ...models.RoleName) bool {
	for _, w := range want {
		if slices.Contains(roles, w) {
			return true
		}
	}
	return false
}

// isMember reports whether userID is an active member of teamID.
func (r *Resolver) isMember(ctx context.Context, userID, teamID string) (bool, error) {
	roles, err := r.teamRoles(ctx, userID, teamID)
	return len(roles) > 0, err
}

// isTeamManager: the team's owner or one of its admins.
func (r *Resolver) isTeamManager(ctx context.Context, v *auth.Viewer, teamID string) (bool, error) {
	roles, err := r.teamRoles(ctx, v.UserID, teamID)
	return hasRole(roles, models.RoleOwner, models.RoleAdmin), err
}

// isPOC reports whether the viewer is the team's point of contact.
func (r *Resolver) isPOC(ctx context.Context, v *auth.Viewer, teamID string) (bool, error) {
	if teamID == "" {
		return false, nil
	}
	t, err := loaders.For(ctx).Teams.Load(ctx, teamID)()
	if err != nil {
		return false, ignoreNotFound(err)
	}
	return t.POCID == v.UserID, nil
}

// assignmentOf returns the task's active assignment, or nil.
func assignmentOf(ctx context.Context, taskID string) (*models.TaskAssignment, error) {
	as, err := loaders.For(ctx).AssignmentByTask.Load(ctx, taskID)()
	if err != nil || len(as) == 0 {
		return nil, err
	}
	return &as[0], nil
}

// canReadTask: creator, current assignee, members of the task's team
// context, watchers and admins.
func (r *Resolver) canReadTask(ctx context.Context, v *auth.Viewer, t models.Task) (bool, error) {
	own, a, err := ownTask(ctx, v, t)
	if err != nil || own {
		return own, err
	}
	if a != nil {
		for _, team := range []string{a.TeamID, teamAssignee(a)} {
			if team == "" {
				continue
			}
			if ok, err := r.isMember(ctx, v.UserID, team); err != nil || ok {
				return ok, err
			}
		}
	}
	watch, err := loaders.For(ctx).WatchByTask.Load(ctx, t.ID)()
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(watch, func(w models.WatchlistEntry) bool { return w.IsActive }) {
		return true, nil
	}
	return v.IsAdmin(ctx, r.Store)
}

func teamAssignee(a *models.TaskAssignment) string {
	if a.AssigneeType == models.AssigneeTeam {
		return a.AssigneeID
	}
	return ""
}

// canEditTask: creator, direct assignee, POC of the assigned team, admins.
func (r *Resolver) canEditTask(ctx context.Context, v *auth.Viewer, t models.Task) (bool, error) {
	own, a, err := ownTask(ctx, v, t)
	if err != nil || own {
		return own, err
	}
	if a != nil {
		if ok, err := r.isPOC(ctx, v, teamAssignee(a)); err != nil || ok {
			return ok, err
		}
	}
	return v.IsAdmin(ctx, r.Store)
}

// ownTask reports whether the viewer created the task or is its direct
// assignee, the two rights every task rule starts with, and returns the
// task's active assignment for the checks that follow.
func ownTask(ctx context.Context, v *auth.Viewer, t models.Task) (bool, *models.TaskAssignment, error) {
	if t.CreatedBy == v.UserID {
		return true, nil, nil
	}
	a, err := assignmentOf(ctx, t.ID)
	if err != nil {
		return false, nil, err
	}
	return a != nil && a.AssigneeType == models.AssigneeUser && a.AssigneeID == v.UserID, a, nil
}

// canAssign: the task's creator, its current assignee, or the POC or an
// admin of the team it is in now. Rights over a team do not reach tasks
// outside it: a team's POC cannot pull someone else's task into the team.
// (Assigning to a team also needs membership of it: see AssignTask.)
func (r *Resolver) canAssign(ctx context.Context, v *auth.Viewer, t models.Task, current *models.TaskAssignment) (bool, error) {
	if t.CreatedBy == v.UserID {
		return true, nil
	}
	if current == nil {
		return false, nil
	}
	if current.AssigneeType == models.AssigneeUser && current.AssigneeID == v.UserID {
		return true, nil
	}
	for _, team := range []string{current.TeamID, teamAssignee(current)} {
		if team == "" {
			continue
		}
		if ok, err := r.isPOC(ctx, v, team); err != nil || ok {
			return ok, err
		}
		if ok, err := r.isTeamManager(ctx, v, team); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// canReadTeam: its members (SPEC §5.3; a global admin is not a member).
func (r *Resolver) canReadTeam(ctx context.Context, v *auth.Viewer, teamID string) (bool, error) {
	return r.isMember(ctx, v.UserID, teamID)
}

// readableTask loads a task and checks the viewer may read it. A task the
// viewer may not read is reported as not found, so ids cannot be probed.
func (r *Resolver) readableTask(ctx context.Context, field, id string) (*auth.Viewer, models.Task, error) {
	v, err := viewer(ctx)
	if err != nil {
		return nil, models.Task{}, err
	}
	if !validID(id) {
		return nil, models.Task{}, &storage.FieldError{Field: field, Msg: "not a valid id"}
	}
	t, err := loaders.For(ctx).Tasks.Load(ctx, id)()
	if err != nil {
		return nil, models.Task{}, err
	}
	ok, err := r.canReadTask(ctx, v, t)
	if err != nil {
		return nil, models.Task{}, err
	}
	if !ok {
		return nil, models.Task{}, fmt.Errorf("%w: task %s", storage.ErrNotFound, id)
	}
	return v, t, nil
}

// editableTask loads a task the viewer may read and checks they may change
// it: readers who may not change it get FORBIDDEN.
func (r *Resolver) editableTask(ctx context.Context, field, id string) (*auth.Viewer, models.Task, error) {
	v, err := viewer(ctx)
	if err != nil {
		return nil, models.Task{}, err
	}
	if !validID(id) {
		return nil, models.Task{}, &storage.FieldError{Field: field, Msg: "not a valid id"}
	}
	t, err := loaders.For(ctx).Tasks.Load(ctx, id)()
	if err != nil {
		return nil, models.Task{}, err
	}
	if ok, err := r.canEditTask(ctx, v, t); err != nil || ok {
		return v, t, err
	}
	if ok, err := r.canReadTask(ctx, v, t); err != nil || !ok {
		if err == nil {
			err = forbidden("you may not change this task")
		}
		return nil, models.Task{}, err
	}
	return nil, models.Task{}, forbidden("only the creator, the assignee, the assigned team's POC and admins may change a task")
}

func ignoreNotFound(err error) error {
	if err != nil && isNotFound(err) {
		return nil
	}
	return err
}

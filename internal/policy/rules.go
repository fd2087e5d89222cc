package policy

import (
	"context"
	"errors"
	"slices"

	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// The rules of SPEC §5.3, one per type.
//
// Read rules (enforced on every field by Fields; a refusal looks like absence):
//
//	type / field            readable by
//	Task                    its creator · its direct assignee · readers of its team context
//	                        (the team it is assigned to or handed down from) · GLOBAL admins.
//	                        A watch is not a grant.
//	Team                    its active members (a deleted team: nobody)
//	TeamMember              readers of the member's team
//	AuditLog                GLOBAL admins · readers of its team · readers of its task
//	TeamCreationInviteCode  GLOBAL admins
//	UserRole                the user · GLOBAL admins · for a TEAM role, readers of the team
//	User.email              the user · their teammates · GLOBAL admins
//	Team.inviteCode         the team's creator · its POC · its OWNER and ADMINs
//	AuditLog.from, .to      when they name a team: readers of that team
//
// Action rules (asked by the mutations, after the read rule of their object):
//
//	action                     allowed for
//	edit a Task                its creator · its direct assignee · the POC of the team it is
//	                           assigned to · GLOBAL admins
//	assign / unassign a Task   its creator · its current direct assignee · the POC, OWNER or
//	                           ADMINs of the team it is in now
//	hand a Task to a member    the POC, OWNER or ADMINs of its team context
//	manage a Team              its OWNER and ADMINs (add members, update, rotate the join code)
//	remove a member            its OWNER and ADMINs; anyone may leave; the owner and the POC
//	                           stay (StaysInTeam)
//	change a team role         the OWNER any role · ADMINs the MEMBER role of plain members ·
//	                           nobody their own
//	assign to a Team           readers of the Team (its members)

// CanReadTask is the read rule of Task.
func (c *Checker) CanReadTask(ctx context.Context, t models.Task) (bool, error) {
	return c.remember(subject{"Task", t.ID}, func() (bool, error) {
		own, a, err := c.ownTask(ctx, t)
		if err != nil || own {
			return own, err
		}
		if a != nil {
			for _, team := range teamsOf(a) {
				if ok, err := c.readsTeam(ctx, team); err != nil || ok {
					return ok, err
				}
			}
		}
		return c.isAdmin(ctx)
	})
}

// CanReadTeam is the read rule of Team.
func (c *Checker) CanReadTeam(ctx context.Context, t models.Team) (bool, error) {
	if t.IsDeleted {
		return false, nil
	}
	return c.readsTeam(ctx, t.ID)
}

// readsTeam: the viewer is a member of the team (or could read it earlier in
// this request).
func (c *Checker) readsTeam(ctx context.Context, teamID string) (bool, error) {
	if teamID == "" {
		return false, nil
	}
	return c.remember(subject{"Team", teamID}, func() (bool, error) {
		return c.IsMember(ctx, c.viewer.UserID, teamID)
	})
}

// CanReadTeamMember is the read rule of TeamMember: that of its team.
func (c *Checker) CanReadTeamMember(ctx context.Context, m models.TeamMember) (bool, error) {
	return c.readsTeam(ctx, m.TeamID)
}

// CanReadAuditLog is the read rule of AuditLog.
func (c *Checker) CanReadAuditLog(ctx context.Context, e models.AuditLog) (bool, error) {
	return c.remember(subject{"AuditLog", e.ID}, func() (bool, error) {
		if c.wasGranted(subject{"Team", e.TeamID}) || c.wasGranted(subject{"Task", e.TaskID}) {
			return true, nil
		}
		if admin, err := c.isAdmin(ctx); err != nil || admin {
			return admin, err
		}
		if ok, err := c.readsTeam(ctx, e.TeamID); err != nil || ok {
			return ok, err
		}
		if e.TaskID == "" {
			return false, nil
		}
		t, err := loaders.For(ctx).Tasks.Load(ctx, e.TaskID)()
		if err != nil {
			return false, ignoreNotFound(err)
		}
		return c.CanReadTask(ctx, t)
	})
}

// CanReadCreationCode is the read rule of TeamCreationInviteCode.
func (c *Checker) CanReadCreationCode(ctx context.Context, _ models.TeamCreationInviteCode) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	return c.isAdmin(ctx)
}

// CanReadUserRole is the read rule of UserRole.
func (c *Checker) CanReadUserRole(ctx context.Context, r models.UserRole) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if r.UserID == c.viewer.UserID {
		return true, nil
	}
	if admin, err := c.isAdmin(ctx); err != nil || admin {
		return admin, err
	}
	if r.Scope != models.ScopeTeam {
		return false, nil
	}
	return c.readsTeam(ctx, r.TeamID)
}

// CanSeeEmail is the rule of User.email.
func (c *Checker) CanSeeEmail(ctx context.Context, u models.User) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if u.ID == c.viewer.UserID {
		return true, nil
	}
	return c.remember(subject{"User.email", u.ID}, func() (bool, error) { return c.seesEmail(ctx, u) })
}

func (c *Checker) seesEmail(ctx context.Context, u models.User) (bool, error) {
	if admin, err := c.isAdmin(ctx); err != nil || admin {
		return admin, err
	}
	l := loaders.For(ctx)
	mine, err := l.MembershipsByUser.Load(ctx, c.viewer.UserID)()
	if err != nil {
		return false, err
	}
	theirs, err := l.MembershipsByUser.Load(ctx, u.ID)()
	if err != nil {
		return false, err
	}
	for _, m := range theirs {
		if slices.ContainsFunc(mine, func(x models.TeamMembership) bool { return x.TeamID == m.TeamID }) {
			return true, nil
		}
	}
	return false, nil
}

// CanSeeInviteCode is the rule of Team.inviteCode.
func (c *Checker) CanSeeInviteCode(ctx context.Context, t models.Team) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if t.CreatedBy == c.viewer.UserID || t.POCID == c.viewer.UserID {
		return true, nil
	}
	return c.managesTeam(ctx, t.ID)
}

// CanSeeAuditValue is the rule of AuditLog.from and AuditLog.to: a status
// or a user's id shows to whoever reads the entry, a team's id only to
// readers of the team.
func (c *Checker) CanSeeAuditValue(ctx context.Context, v string) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if !models.ValidID(v) {
		return true, nil // a status
	}
	t, err := loaders.For(ctx).Teams.Load(ctx, v)()
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return true, nil // not a team: a user, whom anyone may know of
	case err != nil:
		return false, err
	}
	return c.CanReadTeam(ctx, t)
}

// CanEditTask: update, defer, delete and restore.
func (c *Checker) CanEditTask(ctx context.Context, t models.Task) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	own, a, err := c.ownTask(ctx, t)
	if err != nil || own {
		return own, err
	}
	if a != nil && a.AssigneeType == models.AssigneeTeam {
		if ok, err := c.isPOC(ctx, a.AssigneeID); err != nil || ok {
			return ok, err
		}
	}
	return c.isAdmin(ctx)
}

// CanAssignTask: assign and unassign, given the task's active assignment
// (nil: none). Rights over a team do not reach tasks outside it: a team's
// POC cannot pull someone else's task into the team.
func (c *Checker) CanAssignTask(ctx context.Context, t models.Task, current *models.TaskAssignment) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if t.CreatedBy == c.viewer.UserID {
		return true, nil
	}
	if current == nil {
		return false, nil
	}
	if current.AssigneeType == models.AssigneeUser && current.AssigneeID == c.viewer.UserID {
		return true, nil
	}
	for _, team := range teamsOf(current) {
		if ok, err := c.leadsTeam(ctx, team); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// CanAssignToTeam: assigning a task to a team needs membership of it.
func (c *Checker) CanAssignToTeam(ctx context.Context, t models.Team) (bool, error) {
	return c.CanReadTeam(ctx, t)
}

// CanHandToMember: handing a team task to one of the team's members.
func (c *Checker) CanHandToMember(ctx context.Context, teamID string) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	return c.leadsTeam(ctx, teamID)
}

// CanManageTeam: adding and removing members, updating the team, rotating
// its join code.
func (c *Checker) CanManageTeam(ctx context.Context, teamID string) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	return c.managesTeam(ctx, teamID)
}

// CanRemoveMember: removing userID from a team; anyone may leave.
func (c *Checker) CanRemoveMember(ctx context.Context, teamID, userID string) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if userID == c.viewer.UserID {
		return true, nil
	}
	return c.managesTeam(ctx, teamID)
}

// StaysInTeam says why userID (holding roles in the team) may not leave or
// be removed from it, or "" when they may: the owner and the POC stay.
func StaysInTeam(t models.Team, userID string, roles []models.RoleName) string {
	switch {
	case hasRole(roles, models.RoleOwner) || t.CreatedBy == userID:
		return "the owner cannot be removed from the team"
	case t.POCID == userID:
		return "the POC cannot be removed from the team: choose another POC first"
	}
	return ""
}

// CanChangeTeamRole: granting or revoking role to or from target in a team.
func (c *Checker) CanChangeTeamRole(ctx context.Context, teamID, target string, role models.RoleName) (bool, error) {
	if c.viewer == nil || target == c.viewer.UserID {
		return false, nil
	}
	mine, err := c.TeamRoles(ctx, c.viewer.UserID, teamID)
	if err != nil {
		return false, err
	}
	switch {
	case hasRole(mine, models.RoleOwner):
		return true, nil
	case !hasRole(mine, models.RoleAdmin) || role != models.RoleMember:
		return false, nil
	}
	theirs, err := c.TeamRoles(ctx, target, teamID)
	if err != nil {
		return false, err
	}
	return !hasRole(theirs, models.RoleOwner, models.RoleAdmin), nil
}

// ownTask reports whether the viewer created the task or is its direct
// assignee, the two rights every task rule starts with, and returns the
// task's active assignment for the checks that follow.
func (c *Checker) ownTask(ctx context.Context, t models.Task) (bool, *models.TaskAssignment, error) {
	if t.CreatedBy == c.viewer.UserID {
		return true, nil, nil
	}
	as, err := loaders.For(ctx).AssignmentByTask.Load(ctx, t.ID)()
	if err != nil || len(as) == 0 {
		return false, nil, err
	}
	a := &as[0]
	return a.AssigneeType == models.AssigneeUser && a.AssigneeID == c.viewer.UserID, a, nil
}

// teamsOf lists the teams an assignment involves: its team context and the
// team it is assigned to (often the same).
func teamsOf(a *models.TaskAssignment) []string {
	out := make([]string, 0, 2)
	if a.TeamID != "" {
		out = append(out, a.TeamID)
	}
	if a.AssigneeType == models.AssigneeTeam && a.AssigneeID != a.TeamID {
		out = append(out, a.AssigneeID)
	}
	return out
}

// leadsTeam: the viewer is the team's POC, OWNER or an ADMIN.
func (c *Checker) leadsTeam(ctx context.Context, teamID string) (bool, error) {
	if ok, err := c.isPOC(ctx, teamID); err != nil || ok {
		return ok, err
	}
	return c.managesTeam(ctx, teamID)
}

// managesTeam: the viewer is the team's OWNER or an ADMIN.
func (c *Checker) managesTeam(ctx context.Context, teamID string) (bool, error) {
	roles, err := c.TeamRoles(ctx, c.viewer.UserID, teamID)
	return hasRole(roles, models.RoleOwner, models.RoleAdmin), err
}

// isPOC reports whether the viewer is the team's point of contact.
func (c *Checker) isPOC(ctx context.Context, teamID string) (bool, error) {
	if teamID == "" {
		return false, nil
	}
	t, err := loaders.For(ctx).Teams.Load(ctx, teamID)()
	if err != nil {
		return false, ignoreNotFound(err)
	}
	return t.POCID == c.viewer.UserID, nil
}

// IsMember reports whether userID is an active member of teamID (asking
// only for memberships: the role grants are another query). It is data the
// rules read, and the business rules too (an assignee, a new POC).
func (c *Checker) IsMember(ctx context.Context, userID, teamID string) (bool, error) {
	ms, err := loaders.For(ctx).MembershipsByUser.Load(ctx, userID)()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ms, func(m models.TeamMembership) bool { return m.TeamID == teamID }), nil
}

// TeamRoles returns a user's roles in a team: MEMBER for a member, plus the
// OWNER and ADMIN grants; nil for outsiders. It is data the rules read, and
// the API shows (viewerRoles, TeamMember.roles).
func (c *Checker) TeamRoles(ctx context.Context, userID, teamID string) ([]models.RoleName, error) {
	if member, err := c.IsMember(ctx, userID, teamID); err != nil || !member {
		return nil, err
	}
	roles := []models.RoleName{}
	grants, err := loaders.For(ctx).RolesByUser.Load(ctx, userID)()
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
	return slices.ContainsFunc(want, func(w models.RoleName) bool { return slices.Contains(roles, w) })
}

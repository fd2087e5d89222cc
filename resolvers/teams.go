package resolvers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/internal/policy"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

func checkTeamName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", badInput(field, "must not be blank")
	case utf8.RuneCountInString(name) > 100:
		return "", badInput(field, "at most 100 characters")
	}
	return name, nil
}

// checkUser verifies that id names an existing user.
func (r *Resolver) checkUser(ctx context.Context, field, id string) error {
	if !models.ValidID(id) {
		return badInput(field, "not a valid id: "+id)
	}
	if _, err := loaders.For(ctx).Users.Load(ctx, id)(); err != nil {
		if isNotFound(err) {
			return badInput(field, "no such user: "+id)
		}
		return err
	}
	return nil
}

// roleChange checks a grant or revocation (the action rule is the
// policy's) and returns the target's roles.
func (r *Resolver) roleChange(ctx context.Context, teamID, userID string, role models.RoleName) (*auth.Viewer, models.Team, []models.RoleName, error) {
	t, err := r.readTeam(ctx, "teamId", teamID)
	if err != nil {
		return nil, models.Team{}, nil, err
	}
	v := auth.ViewerFrom(ctx)
	if err := r.checkUser(ctx, "userId", userID); err != nil {
		return nil, models.Team{}, nil, err
	}
	if role == models.RoleModerator {
		return nil, models.Team{}, nil, badInput("role", "MODERATOR is not a team role")
	}
	c := policy.For(ctx)
	if ok, err := c.CanChangeTeamRole(ctx, t.ID, userID, role); err != nil || !ok {
		return nil, models.Team{}, nil, orForbidden(err, "the owner may change any team role, admins the MEMBER role of plain members, nobody their own")
	}
	target, err := c.TeamRoles(ctx, userID, t.ID)
	if err != nil {
		return nil, models.Team{}, nil, err
	}
	return v, t, target, nil
}

// member answers a role change with the member as they are now.
func (r *Resolver) member(ctx context.Context, teamID, userID string) (*models.TeamMember, error) {
	ms, err := loaders.For(ctx).MembershipsByUser.Load(ctx, userID)()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ms, func(m models.TeamMembership) bool { return m.TeamID == teamID })
	if i < 0 {
		return nil, nil
	}
	return &models.TeamMember{UserID: userID, TeamID: teamID, AddedAt: ms[i].CreatedAt}, nil
}

// forgetTeam drops what this request cached about a team and the users
// whose place in it changed, so the answer reads the new state.
func (r *Resolver) forgetTeam(ctx context.Context, teamID string, userIDs ...string) {
	l := loaders.For(ctx)
	l.Teams.Clear(ctx, teamID)
	l.MembershipsByTeam.Clear(ctx, teamID)
	l.AssignmentsByTeam.Clear(ctx, teamID)
	if v := auth.ViewerFrom(ctx); v != nil {
		userIDs = append(userIDs, v.UserID)
	}
	for _, u := range userIDs {
		l.MembershipsByUser.Clear(ctx, u)
		l.RolesByUser.Clear(ctx, u)
	}
}

func (r *Resolver) membersConnection(ctx context.Context, teamID string, first *int, after *string) (*models.TeamMemberConnection, error) {
	page, count, err := r.Store.Members(ctx, teamID, storage.PageArgs{First: first, After: after})
	if err != nil {
		return nil, err
	}
	conn := &models.TeamMemberConnection{Edges: make([]models.TeamMemberEdge, len(page.Edges)), Count: count}
	for i, e := range page.Edges {
		conn.Edges[i] = models.TeamMemberEdge{Cursor: e.Cursor, Node: e.Node}
	}
	conn.PageInfo = pageInfo(after, page)
	return conn, nil
}

// assignedCount counts the team's tasks currently assigned to the user.
func (r *Resolver) assignedCount(ctx context.Context, teamID, userID string) (int, error) {
	as, err := loaders.For(ctx).AssignmentsByTeam.Load(ctx, teamID)()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range as {
		if a.AssigneeType == models.AssigneeUser && a.AssigneeID == userID {
			n++
		}
	}
	return n, nil
}

// removeMember takes userID (whose roles in the team are target) out of the
// team, for removeTeamMember and for revoking MEMBER: the owner and the POC
// stay.
func (r *Resolver) removeMember(ctx context.Context, actor string, t models.Team, userID string, target []models.RoleName) error {
	if len(target) == 0 {
		return fmt.Errorf("%w: %s is not a member of the team", storage.ErrNotFound, userID)
	}
	if why := policy.StaysInTeam(t, userID, target); why != "" {
		return forbidden("%s", why)
	}
	ms, err := loaders.For(ctx).MembershipsByUser.Load(ctx, userID)()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ms, func(m models.TeamMembership) bool { return m.TeamID == t.ID })
	if i < 0 {
		return fmt.Errorf("%w: %s is not a member of the team", storage.ErrNotFound, userID)
	}
	if err := r.Store.RemoveMember(ctx, actor, t, ms[i]); err != nil {
		return err
	}
	r.forgetTeam(ctx, t.ID, userID)
	return nil
}

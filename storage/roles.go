package storage

import (
	"context"
	"errors"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// grant gives userID the TEAM role in teamID unless they hold it.
func (s *Store) grant(ctx context.Context, op *mirror.Op, actor, teamID, userID string, role models.RoleName) error {
	roles, err := s.mongo.ActiveRolesOfUsers(ctx, []string{userID})
	if err != nil {
		return translate(err)
	}
	for _, r := range roles {
		if r.Scope == models.ScopeTeam && r.TeamID == teamID && r.RoleName == role {
			return nil
		}
	}
	id, err := op.Take(ctx, mongo.CollUserRoles)
	if err != nil {
		return translate(err)
	}
	now := s.now()
	r := models.UserRole{ID: id, UserID: userID, RoleName: role, Scope: models.ScopeTeam, TeamID: teamID,
		IsActive: true, CreatedAt: now, CreatedBy: actor, UpdatedAt: &now, UpdatedBy: actor, Version: 1}
	err = s.mongo.InsertUserRole(ctx, r)
	if errors.Is(err, mongo.ErrDuplicate) {
		return nil // a concurrent grant of the same role won: it is held
	}
	if err != nil {
		return translate(err)
	}
	op.Wrote(r)
	s.audit(ctx, op, models.AuditLog{Action: "role_granted", TeamID: teamID, PerformedBy: actor, TargetUserID: userID,
		AssigneeTo: string(role)})
	return nil
}

// GrantTeamRole gives userID a TEAM role (owner or admin; membership is
// kept in memberships, see AddMembers).
func (s *Store) GrantTeamRole(ctx context.Context, actor, teamID, userID string, role models.RoleName) (err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	return s.grant(ctx, op, actor, teamID, userID, role)
}

// RevokeTeamRole ends userID's TEAM role in teamID, if they hold it.
func (s *Store) RevokeTeamRole(ctx context.Context, actor, teamID, userID string, role models.RoleName) (err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	roles, err := s.mongo.ActiveRolesOfUsers(ctx, []string{userID})
	if err != nil {
		return translate(err)
	}
	for _, r := range roles {
		if r.Scope == models.ScopeTeam && r.TeamID == teamID && r.RoleName == role {
			if err := s.endRole(ctx, op, actor, r, s.now()); err != nil {
				return err
			}
			s.audit(ctx, op, models.AuditLog{Action: "role_revoked", TeamID: teamID, PerformedBy: actor, TargetUserID: userID,
				AssigneeFrom: string(role)})
		}
	}
	return nil
}

func (s *Store) endRole(ctx context.Context, op *mirror.Op, actor string, r models.UserRole, now time.Time) error {
	if err := op.Need(ctx, ref(mongo.CollUserRoles, r.ID)); err != nil {
		return translate(err)
	}
	after := r
	after.IsActive, after.UpdatedAt, after.UpdatedBy = false, &now, actor
	saved, err := s.mongo.UpdateUserRole(ctx, r, after)
	if err != nil {
		return translate(err)
	}
	op.Wrote(saved)
	return nil
}

// Roles lists the role catalogue, of one scope when scope is set.
func (s *Store) Roles(ctx context.Context, scope models.RoleScope) ([]models.Role, error) {
	r, err := s.mongo.RoleCatalogue(ctx, scope)
	return r, translate(err)
}

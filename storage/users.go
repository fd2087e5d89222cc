package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// GoogleProfile is what a verified ID token says about the person signing in.
type GoogleProfile struct {
	Subject string
	Email   string
	Name    string
	Picture string
}

// The widths of the users table's google_id, email_id and name, and of
// picture.
const (
	maxGoogleField = 255
	maxPicture     = 500
)

// fitProfile holds what a sign-in says about a person to the columns the
// mirror keeps it in (a user PostgreSQL cannot store would never be
// mirrored): the email lowercased, a subject or an address longer than its
// column is refused, a longer name is cut, and a longer picture URL, useless
// cut, is dropped. A missing name is the address's local part.
func fitProfile(subject, email, name, picture string) (string, string, string, error) {
	if name == "" {
		name = localPart(email)
	}
	email = strings.ToLower(email)
	if utf8.RuneCountInString(subject) > maxGoogleField {
		return "", "", "", invalid("id_token", "a subject longer than %d characters", maxGoogleField)
	}
	if utf8.RuneCountInString(email) > maxGoogleField {
		return "", "", "", invalid("email", "longer than %d characters", maxGoogleField)
	}
	if r := []rune(name); len(r) > maxGoogleField {
		name = string(r[:maxGoogleField])
	}
	if utf8.RuneCountInString(picture) > maxPicture {
		picture = ""
	}
	return email, name, picture, nil
}

// SignInGoogle creates or refreshes the user with p's Google subject.
func (s *Store) SignInGoogle(ctx context.Context, p GoogleProfile) (models.User, error) {
	if p.Subject == "" || p.Email == "" {
		return models.User{}, invalid("id_token", "no subject or email")
	}
	email, name, picture, err := fitProfile(p.Subject, p.Email, p.Name, p.Picture)
	if err != nil {
		return models.User{}, err
	}
	return s.signIn(ctx, "google_id", p.Subject, func(id string) (models.User, error) {
		return s.mongo.UpsertUserByGoogleID(ctx, id, p.Subject, email, name, picture, s.now())
	})
}

// signIn finds the user by field = value first, so the intent names the
// document the upsert writes (an existing user's, or a new id).
func (s *Store) signIn(ctx context.Context, field, value string, upsert func(id string) (models.User, error)) (_ models.User, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	id := ""
	existing, err := s.mongo.FindUser(ctx, field, value)
	switch {
	case err == nil:
		id = existing.ID
		err = op.Need(ctx, ref(mongo.CollUsers, id))
	case errors.Is(err, mongo.ErrNotFound):
		id, err = op.Take(ctx, mongo.CollUsers)
	}
	if err != nil {
		return models.User{}, translate(err)
	}
	u, err := upsert(id)
	if err != nil {
		return models.User{}, translate(err)
	}
	if u.ID != id {
		// A concurrent first sign-in created the user under its own id:
		// cover that document too.
		if err := op.Need(ctx, ref(mongo.CollUsers, u.ID)); err != nil {
			return u, translate(err)
		}
	}
	op.Wrote(u)
	return u, nil
}

// SignInByEmail signs in as the user with email, creating one with name
// when there is none (development login).
func (s *Store) SignInByEmail(ctx context.Context, email, name string) (models.User, error) {
	email, name, _, err := fitProfile("", strings.ToLower(strings.TrimSpace(email)), strings.TrimSpace(name), "")
	if err != nil {
		return models.User{}, err
	}
	return s.signIn(ctx, "email_id", email, func(id string) (models.User, error) {
		return s.mongo.UpsertUserByEmail(ctx, id, email, name, s.now())
	})
}

// GrantGlobalRole gives userID the GLOBAL role name unless they hold it.
func (s *Store) GrantGlobalRole(ctx context.Context, userID string, name models.RoleName, grantedBy string) (err error) {
	roles, err := s.mongo.ActiveRolesOfUsers(ctx, []string{userID})
	if err != nil {
		return translate(err)
	}
	for _, r := range roles {
		if r.Scope == models.ScopeGlobal && r.RoleName == name {
			return nil
		}
	}
	op := s.begin()
	defer s.settle(ctx, op, &err)
	id, err := op.Take(ctx, mongo.CollUserRoles)
	if err != nil {
		return translate(err)
	}
	now := s.now()
	r := models.UserRole{ID: id, UserID: userID, RoleName: name, Scope: models.ScopeGlobal, IsActive: true,
		CreatedAt: now, CreatedBy: grantedBy, Version: 1}
	err = s.mongo.InsertUserRole(ctx, r)
	if errors.Is(err, mongo.ErrDuplicate) {
		return nil // a concurrent grant (two sign-ins at once) won: the role is held
	}
	if err != nil {
		return translate(err)
	}
	op.Wrote(r)
	return nil
}

// User returns one user.
func (s *Store) User(ctx context.Context, id string) (models.User, error) {
	users, err := s.UsersByIDs(ctx, []string{id})
	if err != nil {
		return models.User{}, err
	}
	if len(users) == 0 {
		return models.User{}, fmt.Errorf("%w: user %s", ErrNotFound, id)
	}
	return users[0], nil
}

// UsersByIDs returns the users with these ids, in no particular order.
func (s *Store) UsersByIDs(ctx context.Context, ids []string) ([]models.User, error) {
	return readFamily(ctx, s, FamilyUsers, "usersByIds", ids, func(ctx context.Context, r mirrorReads) ([]models.User, error) {
		return r.UsersByIDs(ctx, ids)
	}, func(a, b []models.User) []Difference {
		return diffDocs(a, b, func(u models.User) string { return u.ID }, false)
	})
}

// ActiveRolesOfUsers returns the active role grants of the users.
func (s *Store) ActiveRolesOfUsers(ctx context.Context, userIDs []string) ([]models.UserRole, error) {
	roles, err := s.mongo.ActiveRolesOfUsers(ctx, userIDs)
	return roles, translate(err)
}

// IsGlobalAdmin reports whether userID holds the active GLOBAL admin role.
func (s *Store) IsGlobalAdmin(ctx context.Context, userID string) (bool, error) {
	roles, err := s.ActiveRolesOfUsers(ctx, []string{userID})
	if err != nil {
		return false, err
	}
	for _, r := range roles {
		if r.Scope == models.ScopeGlobal && r.RoleName == models.RoleAdmin {
			return true, nil
		}
	}
	return false, nil
}

// MembershipsOfUsers returns the active team memberships of the users.
func (s *Store) MembershipsOfUsers(ctx context.Context, userIDs []string) ([]models.TeamMembership, error) {
	return readFamily(ctx, s, FamilyTeams, "membershipsOfUsers", nil, func(ctx context.Context, r mirrorReads) ([]models.TeamMembership, error) {
		return r.MembershipsOfUsers(ctx, userIDs)
	}, compareMemberships)
}

// TeamsByIDs returns the teams with these ids, in no particular order.
func (s *Store) TeamsByIDs(ctx context.Context, ids []string) ([]models.Team, error) {
	return readFamily(ctx, s, FamilyTeams, "teamsByIds", ids, func(ctx context.Context, r mirrorReads) ([]models.Team, error) {
		return r.TeamsByIDs(ctx, ids)
	}, func(a, b []models.Team) []Difference {
		return diffDocs(a, b, func(t models.Team) string { return t.ID }, false)
	})
}

func localPart(email string) string {
	if i := strings.IndexByte(email, '@'); i > 0 {
		return email[:i]
	}
	return email
}

// SaveRefreshToken records an issued refresh token.
func (s *Store) SaveRefreshToken(ctx context.Context, t RefreshToken) error {
	return translate(s.mongo.SaveRefreshToken(ctx, t.doc()))
}

// UseRefreshToken consumes a refresh token: ErrTokenReused when it was used
// or revoked before, ErrNotFound when we never issued it.
func (s *Store) UseRefreshToken(ctx context.Context, id string) (RefreshToken, error) {
	t, err := s.mongo.UseRefreshToken(ctx, id, s.now())
	return refreshTokenOf(t), translate(err)
}

// RevokeRefreshFamily revokes every token of a rotation chain.
func (s *Store) RevokeRefreshFamily(ctx context.Context, family string) error {
	_, err := s.mongo.RevokeRefreshFamily(ctx, family, s.now())
	return translate(err)
}

// PurgeExpiredRefreshTokens deletes tokens expired for more than a day.
func (s *Store) PurgeExpiredRefreshTokens(ctx context.Context) (int64, error) {
	n, err := s.mongo.PurgeRefreshTokens(ctx, s.now().AddDate(0, 0, -1))
	return n, translate(err)
}

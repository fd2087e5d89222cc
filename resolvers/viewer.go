package resolvers

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// ErrUnauthenticated is the answer to a request without a valid access token.
var ErrUnauthenticated = errors.New("sign in first: no valid access token")

// viewer returns the signed-in caller.
func viewer(ctx context.Context) (*auth.Viewer, error) {
	v := auth.ViewerFrom(ctx)
	if v == nil {
		return nil, ErrUnauthenticated
	}
	return v, nil
}

// RequireViewer is the root-field middleware that answers UNAUTHENTICATED to
// every field of Query and Mutation when nobody is signed in; introspection
// stays open wherever the introspection extension is on.
func RequireViewer(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if auth.ViewerFrom(ctx) == nil && fc != nil && !isIntrospection(fc.Field.Name) {
		graphql.AddError(ctx, ErrUnauthenticated)
		return graphql.Null
	}
	return next(ctx)
}

func isIntrospection(field string) bool {
	return field == "__schema" || field == "__type" || field == "__typename"
}

// HasRole implements @hasRole: the field resolves only for callers holding
// the role globally. Team roles are checked per object by the resolvers.
func (r *Resolver) HasRole(ctx context.Context, _ any, next graphql.Resolver, role models.RoleName) (any, error) {
	v, err := viewer(ctx)
	if err != nil {
		return nil, err
	}
	if role != models.RoleAdmin {
		return nil, fmt.Errorf("%w: @hasRole(%s) is not a global role", storage.ErrForbidden, role)
	}
	admin, err := v.IsAdmin(ctx, r.Store)
	if err != nil {
		return nil, err
	}
	if !admin {
		return nil, fmt.Errorf("%w: admins only", storage.ErrForbidden)
	}
	return next(ctx)
}

// canSeeEmail: a user's email is for the user, their teammates and admins.
func (r *Resolver) canSeeEmail(ctx context.Context, userID string) (bool, error) {
	v, err := viewer(ctx)
	if err != nil {
		return false, err
	}
	if v.UserID == userID {
		return true, nil
	}
	if admin, err := v.IsAdmin(ctx, r.Store); err != nil || admin {
		return admin, err
	}
	l := loaders.For(ctx)
	mine, err := l.MembershipsByUser.Load(ctx, v.UserID)()
	if err != nil {
		return false, err
	}
	theirs, err := l.MembershipsByUser.Load(ctx, userID)()
	if err != nil {
		return false, err
	}
	teams := make(map[string]bool, len(mine))
	for _, m := range mine {
		teams[m.TeamID] = true
	}
	for _, m := range theirs {
		if teams[m.TeamID] {
			return true, nil
		}
	}
	return false, nil
}

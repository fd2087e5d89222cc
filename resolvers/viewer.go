package resolvers

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/todo-backend/todo/internal/auth"
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

// Guard is the root-field middleware: every field of Query and Mutation
// answers UNAUTHENTICATED when nobody is signed in. Introspection is open in
// development and for admins elsewhere (SPEC §4): the schema of a production
// service is not a map handed to strangers.
func (r *Resolver) Guard(openIntrospection bool) graphql.RootFieldMiddleware {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		fc := graphql.GetRootFieldContext(ctx)
		if fc == nil || fc.Field.Name == "__typename" {
			return next(ctx)
		}
		v := auth.ViewerFrom(ctx)
		if isIntrospection(fc.Field.Name) {
			if openIntrospection {
				return next(ctx)
			}
			if v == nil {
				graphql.AddError(ctx, ErrUnauthenticated)
				return graphql.Null
			}
			if admin, err := v.IsAdmin(ctx, r.Store); err != nil || !admin {
				graphql.AddError(ctx, orForbidden(err, "introspection is for admins"))
				return graphql.Null
			}
			return next(ctx)
		}
		if v == nil {
			graphql.AddError(ctx, ErrUnauthenticated)
			return graphql.Null
		}
		return next(ctx)
	}
}

func isIntrospection(field string) bool {
	return field == "__schema" || field == "__type"
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

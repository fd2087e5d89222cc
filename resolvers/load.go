package resolvers

import (
	"context"
	"errors"
	"sort"

	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// loadOne loads one item through a request loader.
func loadOne[V any](ctx context.Context, l *loaders.Loader[V], id string) (*V, error) {
	v, err := l.Load(ctx, id)()
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// loadAll loads items by id in the order given; references to items that no
// longer exist are dropped rather than failing the list.
func loadAll[V any](ctx context.Context, l *loaders.Loader[V], ids []string) ([]V, error) {
	vals, errs := l.LoadMany(ctx, ids)()
	out := make([]V, 0, len(ids))
	for i, v := range vals {
		if i < len(errs) && errs[i] != nil {
			if errors.Is(errs[i], storage.ErrNotFound) {
				continue
			}
			return nil, errs[i]
		}
		out = append(out, v)
	}
	return out, nil
}

// optionalUser resolves a reference that may be empty, or may name a creator
// that is not a user (the original's "system").
func (r *Resolver) optionalUser(ctx context.Context, id string) (*models.User, error) {
	if id == "" {
		return nil, nil
	}
	u, err := loadOne(ctx, loaders.For(ctx).Users, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// sortRoles orders roles GLOBAL first, then by team, name and id, so
// answers are stable.
func sortRoles(roles []models.UserRole) {
	sort.Slice(roles, func(i, j int) bool {
		a, b := roles[i], roles[j]
		if a.Scope != b.Scope {
			return a.Scope == models.ScopeGlobal
		}
		if a.TeamID != b.TeamID {
			return a.TeamID < b.TeamID
		}
		if a.RoleName != b.RoleName {
			return a.RoleName < b.RoleName
		}
		return a.ID < b.ID
	})
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// Package loaders batches the related-data lookups of one request: every
// resolver that needs a user, a team or a user's roles asks a loader, and the
// loader turns the asks of one request into one query per kind. Loaders are
// built per request (a batch never mixes viewers, and nothing is cached
// across requests) by Middleware and read with For.
package loaders

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// wait is how long a loader collects keys before it queries. Resolvers of a
// list run concurrently and ask within microseconds; the margin keeps a busy
// machine from splitting one level of a query into several round trips.
const wait = 10 * time.Millisecond

// Store is what the loaders read.
type Store interface {
	UsersByIDs(ctx context.Context, ids []string) ([]models.User, error)
	TeamsByIDs(ctx context.Context, ids []string) ([]models.Team, error)
	ActiveRolesOfUsers(ctx context.Context, userIDs []string) ([]models.UserRole, error)
	MembershipsOfUsers(ctx context.Context, userIDs []string) ([]models.TeamMembership, error)
}

// Loaders are the loaders of one request.
type Loaders struct {
	Users             *dataloader.Loader[string, models.User]
	Teams             *dataloader.Loader[string, models.Team]
	RolesByUser       *dataloader.Loader[string, []models.UserRole]
	MembershipsByUser *dataloader.Loader[string, []models.TeamMembership]
}

// New builds fresh loaders over store.
func New(store Store) *Loaders {
	return &Loaders{
		Users:             newLoader(byID(store.UsersByIDs, func(u models.User) string { return u.ID }, "user")),
		Teams:             newLoader(byID(store.TeamsByIDs, func(t models.Team) string { return t.ID }, "team")),
		RolesByUser:       newLoader(grouped(store.ActiveRolesOfUsers, func(r models.UserRole) string { return r.UserID })),
		MembershipsByUser: newLoader(grouped(store.MembershipsOfUsers, func(m models.TeamMembership) string { return m.UserID })),
	}
}

func newLoader[V any](fn dataloader.BatchFunc[string, V]) *dataloader.Loader[string, V] {
	return dataloader.NewBatchedLoader(fn, dataloader.WithWait[string, V](wait), dataloader.WithBatchCapacity[string, V](1000))
}

type key struct{}

// Middleware gives every request its own loaders.
func Middleware(store Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, New(store))))
		})
	}
}

// For returns the request's loaders. A context without them is a wiring
// bug; For then builds none and panics, which gqlgen turns into an error.
func For(ctx context.Context) *Loaders {
	l, ok := ctx.Value(key{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in the context; is loaders.Middleware mounted?")
	}
	return l
}

// byID batches lookups of single items by id; an id with no item gets
// storage.ErrNotFound.
func byID[V any](fetch func(context.Context, []string) ([]V, error), idOf func(V) string, what string) dataloader.BatchFunc[string, V] {
	return func(ctx context.Context, ids []string) []*dataloader.Result[V] {
		items, err := fetch(ctx, ids)
		out := make([]*dataloader.Result[V], len(ids))
		if err != nil {
			for i := range out {
				out[i] = &dataloader.Result[V]{Error: err}
			}
			return out
		}
		found := make(map[string]V, len(items))
		for _, it := range items {
			found[idOf(it)] = it
		}
		for i, id := range ids {
			if v, ok := found[id]; ok {
				out[i] = &dataloader.Result[V]{Data: v}
			} else {
				out[i] = &dataloader.Result[V]{Error: fmt.Errorf("%w: %s %s", storage.ErrNotFound, what, id)}
			}
		}
		return out
	}
}

// grouped batches one-to-many lookups: every key gets its (maybe empty) list.
func grouped[V any](fetch func(context.Context, []string) ([]V, error), keyOf func(V) string) dataloader.BatchFunc[string, []V] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[[]V] {
		items, err := fetch(ctx, keys)
		out := make([]*dataloader.Result[[]V], len(keys))
		if err != nil {
			for i := range out {
				out[i] = &dataloader.Result[[]V]{Error: err}
			}
			return out
		}
		groups := make(map[string][]V, len(keys))
		for _, it := range items {
			groups[keyOf(it)] = append(groups[keyOf(it)], it)
		}
		for i, k := range keys {
			out[i] = &dataloader.Result[[]V]{Data: groups[k]}
		}
		return out
	}
}

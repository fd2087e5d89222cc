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

	"github.com/todo-backend/todo/internal/auth"
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
	TasksByIDs(ctx context.Context, ids []string) ([]models.Task, error)
	LabelsByIDs(ctx context.Context, ids []string) ([]models.Label, error)
	ActiveRolesOfUsers(ctx context.Context, userIDs []string) ([]models.UserRole, error)
	MembershipsOfUsers(ctx context.Context, userIDs []string) ([]models.TeamMembership, error)
	Memberships(ctx context.Context, teamIDs []string) ([]models.TeamMembership, error)
	ActiveAssignments(ctx context.Context, taskIDs []string) ([]models.TaskAssignment, error)
	AssignmentsInTeams(ctx context.Context, teamIDs []string) ([]models.TaskAssignment, error)
	WatchEntries(ctx context.Context, viewer string, taskIDs []string) ([]models.WatchlistEntry, error)
}

// Loaders are the loaders of one request.
type Loaders struct {
	Users             *Loader[models.User]
	Teams             *Loader[models.Team]
	Tasks             *Loader[models.Task]
	Labels            *Loader[models.Label]
	RolesByUser       *Loader[[]models.UserRole]
	MembershipsByUser *Loader[[]models.TeamMembership]
	MembershipsByTeam *Loader[[]models.TeamMembership]
	// AssignmentByTask holds each task's active assignment (none: empty).
	AssignmentByTask *Loader[[]models.TaskAssignment]
	// AssignmentsByTeam holds the active assignments in each team's context.
	AssignmentsByTeam *Loader[[]models.TaskAssignment]
	// WatchByTask holds the viewer's watch rows per task.
	WatchByTask *Loader[[]models.WatchlistEntry]
}

// New builds fresh loaders over store for the request of viewer ("" when
// anonymous: the watch loader then answers nothing).
func New(store Store, viewer string) *Loaders {
	watch := func(ctx context.Context, ids []string) ([]models.WatchlistEntry, error) {
		if viewer == "" {
			return nil, nil
		}
		return store.WatchEntries(ctx, viewer, ids)
	}
	return &Loaders{
		Users:             newLoader(byID(store.UsersByIDs, func(u models.User) string { return u.ID }, "user")),
		Teams:             newLoader(byID(store.TeamsByIDs, func(t models.Team) string { return t.ID }, "team")),
		Tasks:             newLoader(byID(store.TasksByIDs, func(t models.Task) string { return t.ID }, "task")),
		Labels:            newLoader(byID(store.LabelsByIDs, func(l models.Label) string { return l.ID }, "label")),
		RolesByUser:       newLoader(grouped(store.ActiveRolesOfUsers, func(r models.UserRole) string { return r.UserID })),
		MembershipsByUser: newLoader(grouped(store.MembershipsOfUsers, func(m models.TeamMembership) string { return m.UserID })),
		MembershipsByTeam: newLoader(grouped(store.Memberships, func(m models.TeamMembership) string { return m.TeamID })),
		AssignmentByTask:  newLoader(grouped(store.ActiveAssignments, func(a models.TaskAssignment) string { return a.TaskID })),
		AssignmentsByTeam: newLoader(grouped(store.AssignmentsInTeams, func(a models.TaskAssignment) string { return a.TeamID })),
		WatchByTask:       newLoader(grouped(watch, func(w models.WatchlistEntry) string { return w.TaskID })),
	}
}

type key struct{}

// Middleware gives every request its own loaders.
func Middleware(store Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			viewer := ""
			if v := auth.ViewerFrom(r.Context()); v != nil {
				viewer = v.UserID
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, New(store, viewer))))
		})
	}
}

// Forget drops everything the loaders hold, so what is asked next is read
// again: a mutation that found its document changed since it read it
// decides again on fresh data (see retryStale in internal/server).
func (l *Loaders) Forget() {
	l.Users.ClearAll()
	l.Teams.ClearAll()
	l.Tasks.ClearAll()
	l.Labels.ClearAll()
	l.RolesByUser.ClearAll()
	l.MembershipsByUser.ClearAll()
	l.MembershipsByTeam.ClearAll()
	l.AssignmentByTask.ClearAll()
	l.AssignmentsByTeam.ClearAll()
	l.WatchByTask.ClearAll()
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

// Package policy holds the object-level rules of SPEC §5.3, one per type, in
// the manner of Ent's privacy layer: a rule belongs to the type it guards and
// is evaluated wherever an object of that type leaves the API, so a new field
// or edge cannot forget it.
//
// rules.go lists the rules as a table; fields.go enforces the read rules in a
// gqlgen field middleware that runs for every field whose value is, or
// lists, an object of a guarded type (root fields, nested edges, union
// members, connection nodes and edges alike). Resolvers only ask the Checker
// for the action rules and for the gates of their id arguments; they hold no
// rule of their own.
//
// A caller who may not read an object must learn nothing of it: a query
// field answers null (a list leaves the object out), and a mutation or a
// non-null query field answers exactly what a missing id answers.
package policy

import (
	"context"
	"net/http"
	"sync"

	"github.com/todo-backend/todo/internal/auth"
)

// Store is what the rules read beyond the request's loaders.
type Store interface {
	IsGlobalAdmin(ctx context.Context, userID string) (bool, error)
}

// Checker evaluates the rules for the viewer of one request. It reads through
// the request's loaders, so checking a page of a hundred objects costs a few
// batched queries, not a hundred.
//
// A read the Checker granted holds for the rest of the request, for what the
// request answers: the answer of a mutation that ends the viewer's access
// (leaving a team, handing a task away) still shows the object they acted
// on, with the fields under it, as they could see it a moment before.
// Refusals are not remembered, so a mutation that grants access (joining a
// team) shows what it opened. The gates of arguments (Now) never lean on a
// remembered grant: what a mutation may touch is decided on the state of now,
// so a later mutation in the same document cannot act through a team the
// viewer just left.
type Checker struct {
	store  Store
	viewer *auth.Viewer
	// now: evaluate every rule afresh (the argument gates).
	now    bool
	grants *grants
}

// grants are the reads granted so far in the request.
type grants struct {
	mu sync.Mutex
	m  map[subject]bool
}

// subject names one guarded object: its type and id.
type subject struct{ kind, id string }

// New returns a Checker for viewer (nil: an anonymous caller, who may read
// nothing guarded).
func New(store Store, viewer *auth.Viewer) *Checker {
	return &Checker{store: store, viewer: viewer, grants: &grants{m: map[subject]bool{}}}
}

// Now returns the Checker for the gates of arguments: it decides on the
// state of now, ignoring what was granted earlier in the request (and still
// records its grants for the answer).
func (c *Checker) Now() *Checker {
	n := *c
	n.now = true
	return &n
}

type key struct{}

// Middleware gives every request its own Checker. It runs after
// authentication and inside loaders.Middleware.
func Middleware(store Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := New(store, auth.ViewerFrom(r.Context()))
			next.ServeHTTP(w, r.WithContext(WithChecker(r.Context(), c)))
		})
	}
}

// WithChecker returns ctx carrying c.
func WithChecker(ctx context.Context, c *Checker) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// For returns the request's Checker. A context without one (a wiring bug)
// gets a Checker for nobody, which denies every guarded read: failing closed
// shows up in every test, failing open in none.
func For(ctx context.Context) *Checker {
	if c, ok := ctx.Value(key{}).(*Checker); ok {
		return c
	}
	return New(nil, nil)
}

// remember evaluates rule for s unless an earlier evaluation in this request
// granted it (and c is not a gate's), and remembers a grant.
func (c *Checker) remember(s subject, rule func() (bool, error)) (bool, error) {
	if c.viewer == nil {
		return false, nil
	}
	if c.wasGranted(s) {
		return true, nil
	}
	ok, err := rule()
	if err != nil || !ok {
		return false, err
	}
	c.grants.mu.Lock()
	c.grants.m[s] = true
	c.grants.mu.Unlock()
	return true, nil
}

// wasGranted reports whether s was granted earlier in this request; a gate's
// Checker remembers nothing.
func (c *Checker) wasGranted(s subject) bool {
	if c.now {
		return false
	}
	c.grants.mu.Lock()
	defer c.grants.mu.Unlock()
	return c.grants.m[s]
}

// isAdmin: the viewer holds the GLOBAL admin role (asked once per request).
func (c *Checker) isAdmin(ctx context.Context) (bool, error) {
	if c.viewer == nil || c.store == nil {
		return false, nil
	}
	return c.viewer.IsAdmin(ctx, c.store)
}

// IsAdmin reports whether the viewer holds the GLOBAL admin role.
func (c *Checker) IsAdmin(ctx context.Context) (bool, error) { return c.isAdmin(ctx) }

// Viewer returns the user the Checker decides for, or "" for nobody.
func (c *Checker) Viewer() string {
	if c.viewer == nil {
		return ""
	}
	return c.viewer.UserID
}

// Package server holds the HTTP surface in one place: routes, middleware,
// health and the GraphQL handler. main and the tests build the same handler
// with New.
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/internal/policy"
	"github.com/todo-backend/todo/storage"
)

// MaxBodyBytes bounds a request body. A document has at most
// MaxDocumentBytes and a string argument MaxString characters; 128 KiB
// leaves room for the largest legitimate variables (a hundred member ids,
// descriptions of 10,000 characters) while the body is what a refusal
// costs: JSON decoding runs at about 100 MB/s, so a refusal of the largest
// body allowed costs about 1.5 ms of CPU, and anything larger is refused
// unread.
const MaxBodyBytes = 128 << 10

// Pinger is a dependency whose health can be checked.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the HTTP surface needs.
type Deps struct {
	Config  config.Config
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Store   *storage.Store
	Auth    *auth.Service
	// Mongo and Mirror are checked by /v1/health; Sync reports the
	// mirror's pending and failed writes there (nil: not reported).
	Mongo  Pinger
	Mirror Pinger
	Sync   SyncCounter
}

// New returns the service's HTTP handler.
func New(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(
		withRequestID,
		securityHeaders(d.Config.CookieSecure),
		accessLog(d.Log, d.Config.TrustedProxies),
		recoverPanics(d.Log),
		instrument(d.Metrics),
		cors(d.Config.CORSAllowedOrigins),
		d.Auth.Authenticate,
	)

	// GraphQL: CSRF-checked for cookie sessions, fresh loaders and a fresh
	// policy checker per request.
	gql := chain(newGraphQL(d),
		withBudget(newBudgets(), d.Config.RequestRate, d.Config.RequestBurst, d.Config.TrustedProxies),
		withDeadline(d.Config.RequestTimeout),
		withTurns(newInFlight(d.Config.RequestConcurrency)),
		withIdempotency(d.Store, d.Log, d.Config.RequestTimeout, d.Config.TrustedProxies),
		loaders.Middleware(d.Store),
		policy.Middleware(d.Store),
	)
	r.With(limitBody(MaxBodyBytes), d.Auth.CSRF(true)).Method(http.MethodPost, "/graphql", gql)
	r.Method(http.MethodGet, "/graphql", gql)
	pg := newGraphiQL(d)
	r.Get("/playground", pg.Page)
	r.Get("/playground/assets/{name}", pg.Asset)

	r.Get("/v1/health", health(d.Mongo, d.Mirror, d.Sync))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))

	// Sign-in. Refresh and logout only check the Origin: their effect on a
	// victim's browser (new cookies it keeps, or a sign-out) helps no attacker.
	r.Get("/v1/auth/google/login", d.Auth.GoogleLogin)
	r.Get("/v1/auth/google/callback", d.Auth.GoogleCallback)
	r.Route("/v1/auth", func(r chi.Router) {
		r.Use(limitBody(64<<10), d.Auth.CSRF(false))
		r.Post("/refresh", d.Auth.Refresh)
		r.Post("/logout", d.Auth.Logout)
		r.Post("/dev/login", d.Auth.DevLogin)
	})

	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})
	return r
}

// chain wraps h in middleware, the first outermost.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

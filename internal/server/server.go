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

	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/storage"
)

// MaxBodyBytes bounds a request body; GraphQL documents are small.
const MaxBodyBytes = 1 << 20

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
	// Mongo and Mirror are checked by /v1/health.
	Mongo  Pinger
	Mirror Pinger
}

// New returns the service's HTTP handler.
func New(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(
		withRequestID,
		accessLog(d.Log),
		recoverPanics(d.Log),
		instrument(d.Metrics),
		cors(d.Config.CORSAllowedOrigins),
	)

	gql := newGraphQL(d)
	r.With(limitBody(MaxBodyBytes)).Method(http.MethodPost, "/graphql", gql)
	r.Method(http.MethodGet, "/graphql", gql)
	r.Get("/playground", playground())
	r.Get("/v1/health", health(d.Mongo, d.Mirror))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))

	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})
	return r
}

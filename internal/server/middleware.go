package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	rscors "github.com/rs/cors"

	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/internal/requestid"
)

// withRequestID reuses a sane X-Request-Id from the client (or a proxy) and
// otherwise makes one; the response echoes it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestid.Valid(id) {
			id = requestid.New()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(requestid.With(r.Context(), id)))
	})
}

// accessLog writes one JSON line per request; remote is the client (behind
// trusted proxies, the one X-Forwarded-For names), peer the connection's.
func accessLog(log *slog.Logger, trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("request_id", requestid.From(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", ww.Status()),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", clientAddr(r, trusted).String()),
				slog.String("peer", r.RemoteAddr),
			)
		})
	}
}

// recoverPanics turns a panic outside GraphQL (which has its own recovery)
// into a logged 500 instead of a dropped connection.
func recoverPanics(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
						panic(v)
					}
					log.ErrorContext(r.Context(), "http: panic", "request_id", requestid.From(r.Context()),
						"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					writeJSON(w, http.StatusInternalServerError, map[string]string{
						"error": "internal error", "requestId": requestid.From(r.Context())})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// instrument records request counts and latency by route pattern (not raw
// path, which would make label values unbounded).
func instrument(m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			m.HTTPRequests.WithLabelValues(route, r.Method, fmt.Sprint(ww.Status())).Inc()
			m.HTTPDuration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
		})
	}
}

// cors lets the listed frontends call the API with cookies.
func cors(origins []string) func(http.Handler) http.Handler {
	return rscors.New(rscors.Options{
		AllowedOrigins:   origins,
		AllowCredentials: true,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Content-Type", "Authorization", "X-Request-Id", idempotencyKeyHeader},
		ExposedHeaders:   []string{"X-Request-Id", replayedHeader, "Retry-After"},
		MaxAge:           600,
	}).Handler
}

// limitBody answers 413 to a declared length over limit and caps what a
// handler can read from a body of unknown length. On /graphql the 413 is a
// GraphQL error (BAD_REQUEST, as the transport answers a chunked one).
func limitBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				msg := fmt.Sprintf("the body is larger than %d bytes", limit)
				if r.URL.Path == "/graphql" {
					writeRequestError(w, r, mediaJSON, http.StatusRequestEntityTooLarge, msg)
					return
				}
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": msg})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}

// securityHeaders sets what every answer carries: no content sniffing,
// HSTS where cookies are Secure (the service is behind TLS then), and no
// framing of the one HTML page, the playground (clickjacking).
func securityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			if r.URL.Path == "/playground" {
				h.Set("X-Frame-Options", "DENY")
				h.Set("Content-Security-Policy", "frame-ancestors 'none'")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// withDeadline bounds a request: its reads are cut off after d, and the
// context's end frees the connections they hold. (Mutations run detached
// from it once they begin: see graphql.go.)
func withDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

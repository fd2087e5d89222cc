package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/todo-backend/todo/storage/mirror"
)

// healthTimeout bounds each dependency check so a hung database makes the
// health answer DOWN quickly instead of hanging the prober.
const healthTimeout = 2 * time.Second

type component struct {
	Status  string `json:"status"`
	Pending *int   `json:"pending,omitempty"`
	Failed  *int   `json:"failed,omitempty"`
}

// SyncCounter reports the mirror's pending and failed writes.
type SyncCounter interface {
	Counts(ctx context.Context) (mirror.IntentCounts, error)
	Enabled() bool
}

type healthBody struct {
	Status     string               `json:"status"`
	Components map[string]component `json:"components"`
}

// healthFresh is how long one health answer serves every caller: the check
// reads the mirror's intents, and /v1/health is open to anyone, so its cost
// must not grow with how often it is asked.
const healthFresh = time.Second

// healthCache holds the last answer. One caller checks at a time; the
// others wait for it and share its answer.
type healthCache struct {
	mu     sync.Mutex
	at     time.Time
	status int
	body   healthBody
}

// health reports each store. Only MongoDB, the system of record, decides the
// overall status: with PostgreSQL down writes still work (the mirror catches
// up), so that is reported in its component, not as DOWN.
func health(mongo, pg Pinger, syncs SyncCounter) http.HandlerFunc {
	var c healthCache
	return func(w http.ResponseWriter, r *http.Request) {
		// Detached from this caller: the answer serves the others too.
		status, body := c.get(context.WithoutCancel(r.Context()), func(ctx context.Context) (int, healthBody) {
			return checkHealth(ctx, mongo, pg, syncs)
		})
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, body)
	}
}

// get returns the last answer while it is fresh, or checks anew. A check
// takes at most healthTimeout, so a waiter waits at most that.
func (c *healthCache) get(ctx context.Context, check func(context.Context) (int, healthBody)) (int, healthBody) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= healthFresh {
		c.status, c.body = check(ctx)
		c.at = time.Now()
	}
	return c.status, c.body
}

// checkHealth asks every store, each within healthTimeout.
func checkHealth(ctx context.Context, mongo, pg Pinger, syncs SyncCounter) (int, healthBody) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	var dbErr, pgErr error
	var sc component
	var wg sync.WaitGroup
	wg.Go(func() { dbErr = mongo.Ping(ctx) })
	wg.Go(func() { pgErr = pg.Ping(ctx) })
	if syncs != nil {
		wg.Go(func() { sc = syncComponent(ctx, syncs) })
	}
	wg.Wait()

	body := healthBody{Status: "UP", Components: map[string]component{
		"db":       {Status: upDown(dbErr)},
		"postgres": {Status: upDown(pgErr)},
	}}
	if syncs != nil {
		body.Components["sync"] = sc
	}
	status := http.StatusOK
	if dbErr != nil {
		body.Status = "DOWN"
		status = http.StatusServiceUnavailable
	}
	return status, body
}

// syncComponent: UP while nothing FAILED, DEGRADED when writes failed for
// good (the data is safe in MongoDB; an admin should retry them), DISABLED
// when mirroring is off, UNKNOWN when MongoDB cannot be asked.
func syncComponent(ctx context.Context, s SyncCounter) component {
	c, err := s.Counts(ctx)
	if err != nil {
		return component{Status: "UNKNOWN"}
	}
	pending, failed := c.TotalPending(), c.TotalFailed()
	out := component{Status: "UP", Pending: &pending, Failed: &failed}
	switch {
	case !s.Enabled():
		out.Status = "DISABLED"
	case failed > 0:
		out.Status = "DEGRADED"
	}
	return out
}

func upDown(err error) string {
	if err != nil {
		return "DOWN"
	}
	return "UP"
}

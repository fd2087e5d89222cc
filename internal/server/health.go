package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/todo-backend/todo/storage"
)

// healthTimeout bounds each dependency check so a hung database makes the
// health answer DOWN quickly instead of hanging the prober.
const healthTimeout = 2 * time.Second

type component struct {
	Status string `json:"status"`
	// Error says in a few words why the component is not UP (so far: the
	// db's failing writes). /v1/health is public: no addresses, no secrets.
	Error   string `json:"error,omitempty"`
	Pending *int   `json:"pending,omitempty"`
	Failed  *int   `json:"failed,omitempty"`
	// CatchUp is a running catch-up's progress (sync, after mirroring was
	// off).
	CatchUp *catchUpBody `json:"catchUp,omitempty"`
	// Drift is what the last verification found not matching (sync).
	Drift *int `json:"drift,omitempty"`
}

type catchUpBody struct {
	Since time.Time `json:"since"`
	Done  int       `json:"done"`
	Total int       `json:"total"`
}

// SyncCounter reports the mirror's state: its pending and failed writes,
// whether PostgreSQL stopped answering (the breaker is open), a running
// catch-up, and the last verification.
type SyncCounter interface {
	Counts(ctx context.Context) (storage.IntentCounts, error)
	Enabled() bool
	Unreachable() bool
	CatchingUp() (storage.CatchUp, bool)
	LastVerify(ctx context.Context) (storage.VerifySummary, bool, error)
}

// WriteChecker is a MongoDB Pinger that also knows whether writes go
// through (mongo.WriteProbe, which writes in the background: a health check
// writes nothing). WriteFailure is why they fail, in words safe to show
// anyone; "" while they work.
type WriteChecker interface {
	WriteFailure() string
}

// maxFailure bounds a reason shown in a component.
const maxFailure = 160

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
// overall status, by its ping and, when mongo is a WriteChecker, by whether
// its writes go through: with PostgreSQL down writes still work (the mirror
// catches up), so that is reported in its component, not as DOWN.
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

	db := dbComponent(dbErr, mongo)
	body := healthBody{Status: "UP", Components: map[string]component{
		"db":       db,
		"postgres": {Status: upDown(pgErr)},
	}}
	if syncs != nil {
		body.Components["sync"] = sc
	}
	status := http.StatusOK
	switch {
	case dbErr != nil:
		body.Status = "DOWN"
		status = http.StatusServiceUnavailable
	case db.Status == "DEGRADED":
		body.Status = "DEGRADED"
	}
	return status, body
}

// dbComponent: DOWN when MongoDB fails its ping, DEGRADED when it answers
// but refuses writes, with the reason. DEGRADED answers 200, not 503: reads
// still work, so a load balancer should keep sending them (when every
// instance shares the failing primary, 503 would take the reads down too),
// while whoever reads the status sees it is not UP, and why. An instance
// that must take no traffic at all (on FerretDB, one whose lease lapsed,
// which a full disk brings about within a lease's time) fails its ping:
// DOWN and 503, still with the writes' reason.
func dbComponent(pingErr error, mongo Pinger) component {
	c := component{Status: upDown(pingErr)}
	w, ok := mongo.(WriteChecker)
	if !ok {
		return c
	}
	if why := w.WriteFailure(); why != "" {
		c.Error = clip("writes failing: "+why, maxFailure)
		if pingErr == nil {
			c.Status = "DEGRADED"
		}
	}
	return c
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// syncComponent: UP while the mirror keeps up; DISABLED when mirroring is
// off; CATCHING_UP while it copies what changed while it was off, with the
// progress; DEGRADED, with the reason, while PostgreSQL does not answer
// (writes wait for the worker), when writes are FAILED (the data is safe in
// MongoDB; see syncFailures) or when the last verification found drift;
// UNKNOWN when MongoDB cannot be asked.
func syncComponent(ctx context.Context, s SyncCounter) component {
	c, err := s.Counts(ctx)
	if err != nil {
		return component{Status: "UNKNOWN"}
	}
	pending, failed := c.TotalPending(), c.TotalFailed()
	out := component{Status: "UP", Pending: &pending, Failed: &failed}
	if !s.Enabled() {
		out.Status = "DISABLED"
		return out
	}
	if v, ok, err := s.LastVerify(ctx); err == nil && ok {
		drift := v.Missing + v.Extra + v.Different - v.Repaired
		out.Drift = &drift
	}
	p, catching := s.CatchingUp()
	switch {
	case s.Unreachable():
		out.Status, out.Error = "DEGRADED", "postgres not answering: writes wait for the worker"
	case failed > 0:
		out.Status, out.Error = "DEGRADED", "mirror writes FAILED: see syncFailures"
	case catching:
		out.Status = "CATCHING_UP"
		out.CatchUp = &catchUpBody{Since: p.Since, Done: p.Done, Total: p.Total}
	case out.Drift != nil && *out.Drift > 0:
		out.Status, out.Error = "DEGRADED", "the last verification found rows that differ from MongoDB"
	}
	return out
}

func upDown(err error) string {
	if err != nil {
		return "DOWN"
	}
	return "UP"
}

package server

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/todo-backend/todo/internal/auth"
)

// Request budgets (SPEC §5.4): each signed-in user may spend REQUEST_RATE
// requests a second on /graphql, REQUEST_BURST at once; each address of
// anonymous requests a quarter of that. The buckets live in this process
// (SPEC §6.6 allows state that may be lost): behind a load balancer each
// instance grants its own.
const (
	budgetIdle           = 10 * time.Minute // a bucket unused this long is dropped
	budgetSweepThreshold = 10000            // buckets kept before a sweep
)

// budgets holds a token bucket per client.
type budgets struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newBudgets() *budgets { return &budgets{buckets: map[string]*bucket{}} }

// take spends one request of key's budget, or says how long until one is
// there again.
func (b *budgets) take(key string, perSecond float64, burst int, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Sweep idle buckets at most once a minute: with many live ones, a
	// sweep on every request would serialise them all behind the map.
	if len(b.buckets) > budgetSweepThreshold && now.Sub(b.lastSweep) > time.Minute {
		b.lastSweep = now
		for k, v := range b.buckets {
			if now.Sub(v.seen) > budgetIdle {
				delete(b.buckets, k)
			}
		}
	}
	bk := b.buckets[key]
	if bk == nil {
		bk = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
		b.buckets[key] = bk
	}
	bk.seen = now
	r := bk.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// withBudget answers RATE_LIMITED (429, with Retry-After) to a client over
// its budget, before any GraphQL work. A rate of 0 turns it off.
func withBudget(b *budgets, rate, userBurst int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if rate <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, perSecond, burst := "", float64(rate)/4, max(userBurst/4, 1)
			if v := auth.ViewerFrom(r.Context()); v != nil {
				key, perSecond, burst = "user:"+v.UserID, float64(rate), userBurst
			} else {
				host, _, err := net.SplitHostPort(r.RemoteAddr)
				if err != nil {
					host = r.RemoteAddr
				}
				key = "addr:" + host
			}
			if ok, wait := b.take(key, perSecond, burst, time.Now()); !ok {
				secs := int(math.Ceil(wait.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
					"message":    "too many requests: this client's budget is spent; retry after " + strconv.Itoa(max(secs, 1)) + " s",
					"extensions": map[string]any{"code": "RATE_LIMITED"},
				}}})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

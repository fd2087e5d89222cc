package server

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/todo-backend/todo/internal/auth"
)

// Request budgets (SPEC §5.4): each signed-in user may spend REQUEST_RATE
// requests a second on /graphql, REQUEST_BURST at once; each address of
// anonymous requests a quarter of that. And each client runs at most
// REQUEST_CONCURRENCY requests at once (withTurns). The buckets live in this process
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
	// held counts this client's refusals waiting to be sent (see hold);
	// retryAt is when the last refusal told it to come back.
	held    int
	retryAt time.Time
}

// A client told to retry later that comes back sooner gets its next
// refusal only after the wait it was told, up to maxHold: one that retries
// at once in a loop is then held to about a request a second per
// connection, instead of taking a core to be told no (a 429 costs little,
// but a loop sends thousands a second). A first refusal, or one after the
// client waited, is sent at once. At most maxHeld of one client's refusals
// wait at once, so waiting costs a bounded number of goroutines; the rest
// are sent at once.
const (
	maxHold = time.Second
	maxHeld = 8
)

// hold reserves a waiting place for one of key's refusals, refused at now
// with wait to go, when the client came back before it was told to.
func (b *budgets) hold(key string, now time.Time, wait time.Duration) (release func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.buckets[key]
	if bk == nil {
		return nil, false
	}
	early := now.Before(bk.retryAt)
	bk.retryAt = now.Add(wait)
	if !early || bk.held >= maxHeld {
		return nil, false
	}
	bk.held++
	return func() {
		b.mu.Lock()
		bk.held--
		b.mu.Unlock()
	}, true
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

type clientKeyKey struct{}

// clientKey names who sent r for its budget and its turns: the signed-in
// user, or the address (see addressKey) of an anonymous client.
func clientKey(r *http.Request, trusted []netip.Prefix) (key string, signedIn bool) {
	if v := auth.ViewerFrom(r.Context()); v != nil {
		return "user:" + v.UserID, true
	}
	return "addr:" + addressKey(clientAddr(r, trusted)), false
}

// withBudget answers RATE_LIMITED (429, with Retry-After) to a client over
// its budget, before any GraphQL work, and names the client in the context
// for withTurns. A rate of 0 turns the budget off.
func withBudget(b *budgets, rate, userBurst int, trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, signedIn := clientKey(r, trusted)
			if rate > 0 {
				perSecond, burst := float64(rate)/4, max(userBurst/4, 1)
				if signedIn {
					perSecond, burst = float64(rate), userBurst
				}
				if ok, wait := b.take(key, perSecond, burst, time.Now()); !ok {
					if release, ok := b.hold(key, time.Now(), wait); ok {
						t := time.NewTimer(min(wait, maxHold))
						select {
						case <-t.C:
						case <-r.Context().Done():
						}
						t.Stop()
						release()
					}
					secs := max(int(math.Ceil(wait.Seconds())), 1)
					rateLimited(w, r, secs, "too many requests: this client's budget is spent; retry after "+strconv.Itoa(secs)+" s")
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKeyKey{}, key)))
		})
	}
}

// withTurns lets at most limit requests of one client (named by withBudget)
// run at once; the others wait, within their deadline, and one that waits
// it all out gets RATE_LIMITED. A limit of 0 turns it off.
func withTurns(f *inFlight) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if f.limit <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, _ := r.Context().Value(clientKeyKey{}).(string)
			leave, err := f.enter(r.Context(), key)
			if errors.Is(err, context.Canceled) {
				return // the client hung up while it waited: nobody to answer
			}
			if errors.Is(err, errTooManyWaiting) {
				rateLimited(w, r, 1, "too many requests at once from this client: "+strconv.Itoa(f.limit)+" run and "+
					strconv.Itoa(f.limit*maxWaitingTurns)+" wait already; retry after 1 s")
				return
			}
			if err != nil {
				rateLimited(w, r, 1, "too many requests at once from this client: it waited its whole deadline for a turn ("+
					strconv.Itoa(f.limit)+" run at once); retry after 1 s")
				return
			}
			defer leave()
			next.ServeHTTP(w, r)
		})
	}
}

// rateLimited answers 429. A refused request's body is never read; a
// large one would still be drained to keep the connection, so its
// connection is closed instead: an over-budget client sending big bodies in
// a loop then costs a reconnect, not its bytes.
func rateLimited(w http.ResponseWriter, r *http.Request, retryAfter int, msg string) {
	if r.ContentLength < 0 || r.ContentLength > drainLimit {
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
		"message": msg, "extensions": map[string]any{"code": "RATE_LIMITED"},
	}}})
}

// clientAddr is the address of the client that sent r. Behind proxies we
// trust, it is the right-most X-Forwarded-For entry that is not one of them
// (entries left of it could be written by the client itself); from any
// other peer the header is ignored, so a client cannot pick its own key.
// The walk reads from the right and stops at the client: a long header
// costs no more than its last hops.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap().WithZone("")
	if !isTrusted(addr, trusted) {
		return addr
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		rest := hops[i]
		for rest != "" {
			entry := rest
			if k := strings.LastIndexByte(rest, ','); k >= 0 {
				entry, rest = rest[k+1:], rest[:k]
			} else {
				rest = ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, ok := parseHop(entry)
			if !ok {
				return addr // a hop we cannot read: the last one we could
			}
			addr = a
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, maybe with a port
// (some balancers write one) or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addressKey names a client address for its budget: an IPv4 address, or the
// /64 of an IPv6 one (one subscriber gets a whole /64 and could otherwise
// take a fresh budget per address).
func addressKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// maxWaitingTurns is how many requests may wait per running one: a client
// with more queued than it could run before their deadlines is told so at
// once (its queue is bounded even with REQUEST_RATE=0).
const maxWaitingTurns = 4

// drainLimit is the largest unread body a refusal keeps its connection for.
const drainLimit = 16 << 10

var errTooManyWaiting = errors.New("too many requests of this client waiting for a turn")

// inFlight bounds the requests of one client that run at once in this
// process: the rest wait their turn, so one client's burst of heavy
// requests takes a bounded share of the stores' pool and of the cores,
// however many it sends.
type inFlight struct {
	limit int
	mu    sync.Mutex
	keys  map[string]*turns
}

// turns are one client's: its slots, and how many requests hold or wait
// for one (the entry goes when none do).
type turns struct {
	slots chan struct{}
	users int
}

func newInFlight(limit int) *inFlight { return &inFlight{limit: limit, keys: map[string]*turns{}} }

// enter waits for one of key's slots; leave gives it back.
func (f *inFlight) enter(ctx context.Context, key string) (leave func(), err error) {
	f.mu.Lock()
	t := f.keys[key]
	if t == nil {
		t = &turns{slots: make(chan struct{}, f.limit)}
		f.keys[key] = t
	}
	if t.users >= f.limit*(1+maxWaitingTurns) {
		f.mu.Unlock()
		return nil, errTooManyWaiting
	}
	t.users++
	f.mu.Unlock()
	done := func() {
		f.mu.Lock()
		if t.users--; t.users == 0 {
			delete(f.keys, key)
		}
		f.mu.Unlock()
	}
	if err := take(ctx, t.slots); err != nil {
		done()
		return nil, err
	}
	return func() { <-t.slots; done() }, nil
}

// take takes a unit of slots, waiting within ctx for one. A free unit is
// taken even when ctx has ended: a select on both picks either at random,
// and half the requests that reached a free turn past their deadline (a 1 ms
// deadline on a loaded machine) were refused.
func take(ctx context.Context, slots chan struct{}) error {
	select {
	case slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package storage

import (
	"sync"
	"time"
)

// shadowBudget bounds the time shadow reads take on an instance: summed
// over all that run, they may be busy at most rate seconds per second of
// wall-clock time, with burst seconds saved up at most. A shadow whose
// candidate is far slower than the control (MongoDB behind a list served
// from PostgreSQL) is then run less often instead of taking the cores the
// served requests need; the sampled reads left out are counted as skipped.
// Time is charged while a shadow runs, not only when it ends, and a
// shadow starts only when the balance covers what its family's shadows
// have been taking (estimate), so shadows started together cannot
// overdraw it. Each read family has a budget of its own, a share of the
// instance's: a family whose candidate is slow spends its own time and
// cannot starve the cheap ones.
type shadowBudget struct {
	mu      sync.Mutex
	rate    float64
	burst   time.Duration
	balance time.Duration // saved up at `at`, before charging the running shadows
	at      time.Time
	running int           // shadows running
	started time.Duration // sum of their start times, as offsets from origin
	origin  time.Time
	now     func() time.Time
	// estimate is a moving average of the shadows' durations.
	estimate time.Duration
}

// shadowBurst is how much shadow time an idle instance saves up.
const shadowBurst = time.Second

func newShadowBudget(rate float64, now func() time.Time) *shadowBudget {
	t := now()
	return &shadowBudget{rate: rate, burst: shadowBurst, balance: shadowBurst, at: t, origin: t, now: now}
}

// start reports whether a shadow may run now and, if it may, counts it as
// running until the returned func is called. A nil budget allows every
// shadow.
func (b *shadowBudget) start() (done func(), ok bool) {
	if b == nil {
		return func() {}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.accrue(now)
	if avail := b.balance - b.inFlight(now); avail <= 0 || avail < b.estimate {
		return nil, false
	}
	begin := now.Sub(b.origin)
	b.running++
	b.started += begin
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		end := b.now()
		b.accrue(end)
		b.running--
		b.started -= begin
		took := end.Sub(b.origin) - begin
		b.balance -= took
		if b.estimate == 0 {
			b.estimate = took
		} else {
			b.estimate += (took - b.estimate) / 4
		}
	}, true
}

// accrue adds what the time since the last call earned, up to the burst
// or one estimated shadow, whichever is more (counting what the running
// shadows have used, so a long shadow cannot earn while it spends).
func (b *shadowBudget) accrue(now time.Time) {
	if now.After(b.at) {
		b.balance += time.Duration(float64(now.Sub(b.at)) * b.rate)
		b.at = now
	}
	if limit := max(b.burst, b.estimate) + b.inFlight(now); b.balance > limit {
		b.balance = limit
	}
}

// inFlight is the time the running shadows have taken so far.
func (b *shadowBudget) inFlight(now time.Time) time.Duration {
	return time.Duration(b.running)*now.Sub(b.origin) - b.started
}

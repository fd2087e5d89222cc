package storage

import (
	"testing"
	"time"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time                   { return c.t }
func (c *fakeClock) add(d time.Duration)              { c.t = c.t.Add(d) }
func (c *fakeClock) run(done func(), d time.Duration) { c.add(d); done() }

// TestShadowBudgetBoundsShadowTime: at a rate of 10 %, shadows taking 4 s
// each (a MongoDB list behind a 70 ms PostgreSQL one) run about once per
// 40 s, however often they are asked for; cheap shadows all run.
func TestShadowBudgetBoundsShadowTime(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	b := newShadowBudget(0.10, clock.now)

	// One slow shadow at a time, asked for every 70 ms for 400 s.
	var ran, asked int
	var running func()
	var until time.Time
	for step := 0; step < 400_000/70; step++ {
		clock.add(70 * time.Millisecond)
		if running != nil && !clock.t.Before(until) {
			running()
			running = nil
		}
		asked++
		if running != nil {
			continue
		}
		if done, ok := b.start(); ok {
			ran++
			running, until = done, clock.t.Add(4*time.Second)
		}
	}
	// 400 s at 10 % is 40 s of shadow time, plus the 1 s burst: 10 shadows
	// of 4 s (the first runs on the burst, before the estimate is known).
	if ran < 9 || ran > 11 {
		t.Fatalf("ran %d slow shadows of %d asked in 400 s, want 10 ± 1", ran, asked)
	}

	// Asked for every 50 ms for 15 s, shadows of a family known to take
	// 2 s start one at a time, only once the balance covers one (from the
	// 1 s burst at 10 %, after 10 s): none overdraws it.
	b = newShadowBudget(0.10, clock.now)
	b.estimate = 2 * time.Second
	starts := 0
	var finish func()
	var endAt time.Time
	for range 300 {
		clock.add(50 * time.Millisecond)
		if finish != nil && !clock.t.Before(endAt) {
			finish()
			finish = nil
			if b.balance < 0 {
				t.Fatalf("balance %v after a shadow it covered, want ≥ 0", b.balance)
			}
		}
		if done, ok := b.start(); ok {
			starts++
			finish, endAt = done, clock.t.Add(2*time.Second)
		}
	}
	if starts != 1 {
		t.Fatalf("%d shadows of 2 s started within 15 s, want 1", starts)
	}

	// Cheap shadows (20 ms every 500 ms, 4 % of the time) all run.
	b = newShadowBudget(0.10, clock.now)
	for i := range 1000 {
		clock.add(480 * time.Millisecond)
		done, ok := b.start()
		if !ok {
			t.Fatalf("cheap shadow %d refused", i)
		}
		clock.run(done, 20*time.Millisecond)
	}
}

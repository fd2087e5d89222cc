package mongo

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

const window = 15 * time.Minute

// counter reads key's rate-limit document.
func counter(t *testing.T, s *Store, key string) (count int64, start time.Time) {
	t.Helper()
	var d struct {
		Count int64     `bson:"count"`
		Start time.Time `bson:"window_start"`
	}
	if err := s.coll(CollRateLimits).FindOne(t.Context(), bson.D{{Key: "_id", Value: key}}).Decode(&d); err != nil {
		t.Fatalf("read counter %s: %v", key, err)
	}
	return d.Count, d.Start
}

// take calls TakeAttempt with a window ending at now and wants ok.
func take(t *testing.T, s *Store, key string, now time.Time, want bool) {
	t.Helper()
	ok, err := s.TakeAttempt(t.Context(), key, 10, now.Add(-window), now)
	if err != nil || ok != want {
		t.Fatalf("TakeAttempt(%s) at %v: got %v, %v; want %v, no error", key, now, ok, err, want)
	}
}

func giveBack(t *testing.T, s *Store, key string) {
	t.Helper()
	if err := s.GiveBackAttempt(t.Context(), key); err != nil {
		t.Fatalf("GiveBackAttempt(%s): %v", key, err)
	}
}

// TestTakeAttemptConcurrently: of 100 takes at once on a fresh counter,
// exactly limit get ok: never more, and none refused for losing the race
// to create the counter.
func TestTakeAttemptConcurrently(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, limit := range []int64{10, 100} {
		key := fmt.Sprintf("join:racer-%d", limit)
		ok, errs := takeAtOnce(t, s, key, 100, limit)
		if ok != int(limit) || errs != 0 {
			t.Errorf("100 takes at once with a limit of %d: got %d ok and %d errors, want %d and 0", limit, ok, errs, limit)
		}
		if n, _ := counter(t, s, key); n != limit {
			t.Errorf("limit %d: stored count: got %d, want %d", limit, n, limit)
		}
	}
}

// takeAtOnce runs n TakeAttempts on key at once and counts the ok answers
// and the errors.
func takeAtOnce(t *testing.T, s *Store, key string, n int, limit int64) (ok, errs int) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			got, err := s.TakeAttempt(t.Context(), key, limit, now.Add(-window), now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				t.Errorf("TakeAttempt: got error %v, want none", err)
			}
			if got {
				ok++
			}
		})
	}
	close(start)
	wg.Wait()
	return ok, errs
}

func TestTakeAttemptRestartsAStaleWindow(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	first := time.Now().UTC().Truncate(time.Millisecond)
	for range 10 {
		take(t, s, "k", first, true)
	}
	take(t, s, "k", first.Add(window-time.Second), false)
	later := first.Add(window + time.Second)
	take(t, s, "k", later, true)
	if n, start := counter(t, s, "k"); n != 1 || !start.Equal(later) {
		t.Errorf("after the window ended: got count %d from %v, want 1 from %v", n, start, later)
	}
}

func TestGiveBackAttempt(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for range 10 {
		take(t, s, "k", now, true)
	}
	take(t, s, "k", now, false)
	giveBack(t, s, "k")
	take(t, s, "k", now, true)
	take(t, s, "k", now, false)

	take(t, s, "once", now, true)
	giveBack(t, s, "once")
	giveBack(t, s, "once")
	if n, _ := counter(t, s, "once"); n != 0 {
		t.Errorf("one take, two give-backs: got count %d, want 0", n)
	}
	giveBack(t, s, "never taken") // no counter: nothing to give back, no error
}

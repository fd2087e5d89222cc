package storage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/storage/mongo"
)

// TestIdempotencyKeyLifecycle walks one key through its states on a clock
// the test moves: a running claim holds it, a passed lease lets another
// attempt take it (and the first can no longer store its answer), a stored
// answer is replayed, another request is refused, a released key runs
// again, and an expired record counts as absent until it is purged.
func TestIdempotencyKeyLifecycle(t *testing.T) {
	t.Parallel()
	m, err := mongo.Connect(testenv.MongoURI(t), testenv.MongoDatabase(t), mongo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	s := New(m, Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	ctx := t.Context()
	const lease = time.Minute
	claim := func(scope, key, fp string, want IdempotencyOutcome) IdempotencyClaim {
		t.Helper()
		c, err := s.ClaimIdempotencyKey(ctx, scope, key, fp, lease)
		if err != nil {
			t.Fatalf("claim %s/%s: %v", scope, key, err)
		}
		if c.Outcome != want {
			t.Fatalf("claim %s/%s: got outcome %d, want %d", scope, key, c.Outcome, want)
		}
		return c
	}
	answer := StoredAnswer{Status: 200, ContentType: "application/json", Body: []byte(`{"data":{"ok":true}}`)}

	first := claim("user:a", "k1", "fp1", IdempotencyRun)
	claim("user:a", "k1", "fp1", IdempotencyInProgress)
	claim("user:a", "k1", "fp2", IdempotencyMismatch)
	claim("user:b", "k1", "fp1", IdempotencyRun) // another viewer's key

	advance(lease + time.Second)
	second := claim("user:a", "k1", "fp1", IdempotencyRun) // the first one's lease passed
	if err := s.FinishIdempotencyKey(ctx, first, answer); !errors.Is(err, ErrConflict) {
		t.Errorf("finish by the attempt that was taken over: got %v, want ErrConflict", err)
	}
	if err := s.FinishIdempotencyKey(ctx, second, answer); err != nil {
		t.Fatalf("finish: %v", err)
	}
	got := claim("user:a", "k1", "fp1", IdempotencyReplay)
	if got.Answer.Status != answer.Status || got.Answer.ContentType != answer.ContentType || string(got.Answer.Body) != string(answer.Body) {
		t.Errorf("replayed answer: got %+v, want %+v", got.Answer, answer)
	}
	claim("user:a", "k1", "fp2", IdempotencyMismatch)
	if err := s.ReleaseIdempotencyKey(ctx, second); !errors.Is(err, ErrConflict) {
		t.Errorf("release of a finished key: got %v, want ErrConflict", err)
	}

	third := claim("user:a", "k2", "fp1", IdempotencyRun)
	if err := s.ReleaseIdempotencyKey(ctx, third); err != nil {
		t.Fatalf("release: %v", err)
	}
	claim("user:a", "k2", "fp1", IdempotencyRun) // given back: runs again

	advance(IdempotencyTTL)
	claim("user:a", "k1", "fp2", IdempotencyRun) // expired: absent, whatever it held
	advance(IdempotencyTTL + time.Second)
	n, err := s.PurgeExpiredIdempotencyKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // user:a/k1, user:a/k2, user:b/k1
		t.Errorf("purged: got %d, want 3", n)
	}
	left, err := m.Database().Collection(mongo.CollIdempotencyKeys).CountDocuments(ctx, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("records after the purge: got %d, want 0", left)
	}
}

package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Idempotency keys (SPEC §3, as Stripe's API): a request retried with the
// same key by the same viewer gets the first answer instead of running
// again. The records live in MongoDB, so every instance honours them.

// IdempotencyTTL is how long a key's first answer is kept.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyOutcome is what a request with a key is to do.
type IdempotencyOutcome int

const (
	// IdempotencyRun: this attempt owns the key; run the request, then
	// Finish or Release.
	IdempotencyRun IdempotencyOutcome = iota + 1
	// IdempotencyReplay: the first answer is stored; send it again.
	IdempotencyReplay
	// IdempotencyMismatch: the key was first used with another request.
	IdempotencyMismatch
	// IdempotencyInProgress: another attempt with the key is running.
	IdempotencyInProgress
)

// StoredAnswer is an HTTP answer as kept for a key.
type StoredAnswer struct {
	Status      int
	ContentType string
	Body        []byte
}

// IdempotencyClaim is what ClaimIdempotencyKey found: for Run, the
// attempt's hold on the key; for Replay, the answer.
type IdempotencyClaim struct {
	Outcome   IdempotencyOutcome
	Answer    StoredAnswer
	id, owner string
}

// claimRounds bounds how often a claim reads again after losing a race for
// the key (a record released, purged or taken over between two reads).
const claimRounds = 3

// ClaimIdempotencyKey looks up key in scope (the viewer) for a request
// identified by fingerprint, and takes it for this attempt when no live
// record holds it: none, an expired one, or a running one whose lease (how
// long an attempt may run, plus a margin) has passed, as a crashed attempt
// leaves it.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, scope, key, fingerprint string, lease time.Duration) (IdempotencyClaim, error) {
	sum := sha256.Sum256([]byte(scope + "\x00" + key))
	id := hex.EncodeToString(sum[:])
	for range claimRounds {
		now := s.now()
		mine := mongo.IdempotencyKey{ID: id, Fingerprint: fingerprint, State: mongo.IdempotencyRunning, Owner: newOwner(),
			LeaseUntil: now.Add(lease), CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)}
		got, inserted, err := s.mongo.BeginIdempotencyKey(ctx, mine)
		if errors.Is(err, mongo.ErrNotFound) {
			continue // gone between the insert and the read: insert again
		}
		if err != nil {
			return IdempotencyClaim{}, translate(err)
		}
		if inserted {
			return IdempotencyClaim{Outcome: IdempotencyRun, id: id, owner: mine.Owner}, nil
		}
		expired := !now.Before(got.ExpiresAt)
		switch {
		case !expired && got.Fingerprint != fingerprint:
			return IdempotencyClaim{Outcome: IdempotencyMismatch}, nil
		case !expired && got.State == mongo.IdempotencyDone:
			return IdempotencyClaim{Outcome: IdempotencyReplay,
				Answer: StoredAnswer{Status: got.Status, ContentType: got.ContentType, Body: got.Body}}, nil
		case !expired && now.Before(got.LeaseUntil):
			return IdempotencyClaim{Outcome: IdempotencyInProgress}, nil
		}
		taken, err := s.mongo.TakeOverIdempotencyKey(ctx, got, mine)
		if err != nil {
			return IdempotencyClaim{}, translate(err)
		}
		if taken {
			return IdempotencyClaim{Outcome: IdempotencyRun, id: id, owner: mine.Owner}, nil
		}
		// Another attempt changed it first: see what it is now.
	}
	return IdempotencyClaim{Outcome: IdempotencyInProgress}, nil
}

// errNotOwner: the attempt's record was taken over (its lease passed).
var errNotOwner = fmt.Errorf("%w: the idempotency key was taken over by another attempt", ErrConflict)

// FinishIdempotencyKey stores the answer of the attempt that holds c.
func (s *Store) FinishIdempotencyKey(ctx context.Context, c IdempotencyClaim, a StoredAnswer) error {
	stored, err := s.mongo.FinishIdempotencyKey(ctx, c.id, c.owner, a.Status, a.ContentType, a.Body)
	if err != nil {
		return translate(err)
	}
	if !stored {
		return errNotOwner
	}
	return nil
}

// ReleaseIdempotencyKey gives the key up after an attempt that left nothing
// behind, so that a retry runs again.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, c IdempotencyClaim) error {
	released, err := s.mongo.ReleaseIdempotencyKey(ctx, c.id, c.owner)
	if err != nil {
		return translate(err)
	}
	if !released {
		return errNotOwner
	}
	return nil
}

// PurgeExpiredIdempotencyKeys deletes the records that have expired.
func (s *Store) PurgeExpiredIdempotencyKeys(ctx context.Context) (int64, error) {
	n, err := s.mongo.PurgeIdempotencyKeys(ctx, s.now())
	return n, translate(err)
}

func newOwner() string {
	return rand.Text() // 26 characters of base32: 130 bits
}

// Track follows what one request's writes leave behind, so the idempotency
// middleware can tell an attempt that may be run again (it wrote nothing
// that stays) from one whose answer is final.
type Track struct {
	wrote, dirty atomic.Bool
}

type trackKey struct{}

// WithTrack returns ctx carrying a fresh Track, and the Track.
func WithTrack(ctx context.Context) (context.Context, *Track) {
	t := &Track{}
	return context.WithValue(ctx, trackKey{}, t), t
}

// MarkDirty records that a write of the request failed midway and what it
// had written could not be undone: running the request again could write
// it twice.
func MarkDirty(ctx context.Context) {
	if t, ok := ctx.Value(trackKey{}).(*Track); ok {
		t.dirty.Store(true)
	}
}

// markWrote records that an operation of the request completed.
func markWrote(ctx context.Context) {
	if t, ok := ctx.Value(trackKey{}).(*Track); ok {
		t.wrote.Store(true)
	}
}

// Kept reports whether the request wrote something that stays: an
// operation completed, or one failed midway and was not undone.
func (t *Track) Kept() bool { return t.wrote.Load() || t.dirty.Load() }

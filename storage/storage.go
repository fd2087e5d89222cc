// Package storage is the facade resolvers call for every read and every
// write. Resolvers never see a database driver: the facade reads MongoDB (the
// system of record) and, for writes, mirrors each change into PostgreSQL.
// It turns store errors into the sentinels of errors.go, once.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// Options configure the facade; the zero value writes MongoDB only, on the
// wall clock.
type Options struct {
	// Engine runs the mirror's write protocol (storage/mirror); nil: no
	// mirror at all.
	Engine *mirror.Engine
	Log    *slog.Logger
	// Now is injected so tests can control time.
	Now func() time.Time
	// Reads route the read families (reads.go).
	Reads ReadOptions
}

// Store is the facade.
type Store struct {
	mongo  *mongo.Store
	engine *mirror.Engine
	now    func() time.Time
	log    *slog.Logger
	reads  *reads
}

// New builds the facade over the primary store.
func New(m *mongo.Store, o Options) *Store {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{mongo: m, engine: o.Engine, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }, log: log,
		reads: newReads(o.Reads)}
}

// Every write follows the mirror protocol (storage/mirror): an operation
// begins an Op, records intents for the documents it will write before the
// first write (planned ones in one round trip), tells the Op what MongoDB
// stored, and settles it at the end, which copies the documents into
// PostgreSQL. A write whose outcome is unknown leaves the intents to the
// retry worker.

func (s *Store) begin() *mirror.Op { return s.engine.Begin() }

// settle ends an operation; errp is the operation's error. A completed
// operation is noted in the request's Track: its writes stay, so the
// request must not run again under its Idempotency-Key.
func (s *Store) settle(ctx context.Context, op *mirror.Op, errp *error) {
	if *errp != nil {
		op.Failed()
	} else {
		markWrote(ctx)
	}
	s.engine.Settle(ctx, op)
}

func ref(coll, id string) mirror.Ref { return mirror.Ref{Collection: coll, ID: id} }

// translate maps the stores' errors to the facade's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, mongo.ErrTokenReused):
		return fmt.Errorf("%w: %w", ErrTokenReused, err)
	case errors.Is(err, mongo.ErrStale):
		return fmt.Errorf("%w: %w", ErrStale, err)
	case errors.Is(err, mongo.ErrDuplicate):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, mongo.ErrInvalidID):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	default:
		return err
	}
}

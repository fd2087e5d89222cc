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

	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/storage/mongo"
)

// Mirror writes documents into the PostgreSQL mirror (storage/mirror).
type Mirror interface {
	Upsert(ctx context.Context, doc any) (applied bool, err error)
	Delete(ctx context.Context, collection, mongoID string) error
}

// Options configure the facade; the zero value reads and writes MongoDB
// only, on the wall clock.
type Options struct {
	// Mirror receives every write after MongoDB took it; nil or
	// MirrorDisabled skips mirroring.
	Mirror         Mirror
	MirrorDisabled bool
	// MirrorTimeout bounds one mirror write (default 2 s): a slow or absent
	// PostgreSQL never holds a mutation longer than that.
	MirrorTimeout time.Duration
	Log           *slog.Logger
	// Now is injected so tests can control time.
	Now func() time.Time
}

// Store is the facade.
type Store struct {
	mongo *mongo.Store
	opts  Options
	now   func() time.Time
	log   *slog.Logger
}

// New builds the facade over the primary store.
func New(m *mongo.Store, o Options) *Store {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if o.MirrorTimeout <= 0 {
		o.MirrorTimeout = 2 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{mongo: m, opts: o, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }, log: log}
}

// mirror copies a document MongoDB just took into PostgreSQL, in sequence.
// Its failure never fails the caller's write: it is logged, and the mirror
// catches up later (backfill and verify, and the retry worker of the
// crash-safe protocol).
func (s *Store) mirror(ctx context.Context, doc any) {
	if s.opts.Mirror == nil || s.opts.MirrorDisabled {
		return
	}
	// Detached from the request: a client that hangs up must not cancel the
	// copy of a write that already happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.MirrorTimeout)
	defer cancel()
	if _, err := s.opts.Mirror.Upsert(ctx, doc); err != nil {
		s.log.WarnContext(ctx, "mirror write failed", "request_id", requestid.From(ctx), "doc", fmt.Sprintf("%T", doc), "err", err)
	}
}

// mirrorDelete removes a hard-deleted document's row from the mirror.
func (s *Store) mirrorDelete(ctx context.Context, collection, id string) {
	if s.opts.Mirror == nil || s.opts.MirrorDisabled {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.MirrorTimeout)
	defer cancel()
	if err := s.opts.Mirror.Delete(ctx, collection, id); err != nil {
		s.log.WarnContext(ctx, "mirror delete failed", "request_id", requestid.From(ctx), "collection", collection, "id", id, "err", err)
	}
}

// translate maps the stores' errors to the facade's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, mongo.ErrTokenReused):
		return fmt.Errorf("%w: %w", ErrTokenReused, err)
	case errors.Is(err, mongo.ErrDuplicate):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, mongo.ErrInvalidID):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	default:
		return err
	}
}

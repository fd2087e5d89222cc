// Package storage is the facade resolvers call for every read and every
// write. Resolvers never see a database driver: the facade reads MongoDB (the
// system of record) and, for writes, mirrors each change into PostgreSQL.
// It turns store errors into the sentinels of errors.go, once.
package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Store is the facade.
type Store struct {
	mongo *mongo.Store
	now   func() time.Time
}

// New builds the facade over the primary store. now is injected so tests can
// control time; nil means the wall clock.
func New(m *mongo.Store, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{mongo: m, now: func() time.Time { return now().UTC() }}
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
	case errors.Is(err, mongo.ErrInvalidID):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	default:
		return err
	}
}

// Package storage is the facade resolvers call for every read and every
// write. Resolvers never see a database driver: the facade reads MongoDB (the
// system of record) and, for writes, mirrors each change into PostgreSQL.
// It turns store errors into the sentinels of errors.go, once.
package storage

import (
	"errors"
	"fmt"

	"github.com/todo-backend/todo/storage/mongo"
)

// Store is the facade. Writes, and with them the mirror, arrive with the
// GraphQL API; so far the facade only reads.
type Store struct {
	mongo *mongo.Store
}

// New builds the facade over the primary store.
func New(m *mongo.Store) *Store {
	return &Store{mongo: m}
}

// translate maps the stores' errors to the facade's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, mongo.ErrInvalidID):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	default:
		return err
	}
}

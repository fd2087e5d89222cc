// Package resolvers implements the GraphQL schema. Resolvers check input and
// permissions and call the storage facade; they never talk to a database.
package resolvers

//go:generate go -C .. tool gqlgen generate

import (
	"github.com/todo-backend/todo/storage"
)

// Resolver is the dependency root of every resolver.
type Resolver struct {
	Store *storage.Store
}

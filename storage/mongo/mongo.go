// Package mongo is the primary store: the MongoDB documents of the original
// service, their indexes and seeds, and the queries the storage facade runs.
// It works on real MongoDB and on FerretDB v1, so it uses single-document
// atomicity only: no multi-document transactions, $lookup or $facet.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// ErrInvalidID is returned for an id that is not a 24-hex ObjectId.
var ErrInvalidID = errors.New("mongo: invalid id")

// ErrNotFound is returned when a document does not exist.
var ErrNotFound = errors.New("mongo: not found")

// Store is a handle on one MongoDB database.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	// locks serialise this process's updates of one document: FerretDB v1
	// does not make a single-document update atomic, and loses concurrent
	// ones (two $inc of one field can land as one). On MongoDB the lock is
	// redundant and costs next to nothing.
	locks stripes
}

// Options tune the connection. Monitor sees every command the driver sends;
// metrics and round-trip tests use it.
type Options struct {
	Monitor *event.CommandMonitor
	// ServerSelectionTimeout bounds how long an operation waits for a server
	// when MongoDB is away, so requests fail fast instead of hanging.
	ServerSelectionTimeout time.Duration
	// OperationTimeout bounds every operation that has no deadline of its
	// own (the driver's client-side timeout); 0 means DefaultOperationTimeout.
	OperationTimeout time.Duration
}

// DefaultOperationTimeout bounds one MongoDB operation: longer than any
// request may run (a request's own deadline is shorter and wins), short
// enough that a stuck server frees the connection.
const DefaultOperationTimeout = 30 * time.Second

// Connect prepares a client for uri. The driver connects lazily, so Connect
// succeeds while MongoDB is down; Ping tells whether it is up.
func Connect(uri, dbName string, o Options) (*Store, error) {
	co := options.Client().ApplyURI(uri).SetAppName("todo")
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor)
	}
	// A timeout in the URI (serverSelectionTimeoutMS) wins over the default.
	switch {
	case o.ServerSelectionTimeout > 0:
		co.SetServerSelectionTimeout(o.ServerSelectionTimeout)
	case co.ServerSelectionTimeout == nil:
		co.SetServerSelectionTimeout(5 * time.Second)
	}
	// A timeoutMS in the URI wins over the default.
	if co.Timeout == nil {
		d := o.OperationTimeout
		if d <= 0 {
			d = DefaultOperationTimeout
		}
		co.SetTimeout(d)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	return &Store{client: client, db: client.Database(dbName)}, nil
}

// Close disconnects the client.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	return nil
}

// Database exposes the database for tests and tools that inspect raw documents.
func (s *Store) Database() *mongo.Database { return s.db }

func (s *Store) coll(name string) *mongo.Collection { return s.db.Collection(name) }

func objectID(hex string) (bson.ObjectID, error) {
	id, err := bson.ObjectIDFromHex(hex)
	if err != nil {
		return bson.ObjectID{}, fmt.Errorf("%w: %q", ErrInvalidID, hex)
	}
	return id, nil
}

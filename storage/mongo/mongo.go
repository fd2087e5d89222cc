// Package mongo is the primary store: the MongoDB documents of the original
// service, their indexes and seeds, and the queries the storage facade runs.
// It works on real MongoDB and on FerretDB v1, so it uses single-document
// atomicity only: no multi-document transactions, $lookup or $facet.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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
	// locks serialise this process's updates of one document on FerretDB
	// (see serialize); atomicUpdates is set once Identify found MongoDB,
	// whose updates are atomic on their own.
	locks         stripes
	atomicUpdates atomic.Bool
	// needLease: writes wait for the single-writer lease on FerretDB
	// (Options.WriterLease); leaseUntil is when the lease this process
	// holds stops covering its writes, as time since born (0: none held).
	needLease  bool
	leaseUntil atomic.Int64
	born       time.Time
}

// Server says what answers at the URI.
type Server struct {
	// FerretDB is set for FerretDB, which speaks MongoDB's protocol but
	// makes no update atomic across connections (SPEC §6.6).
	FerretDB bool
	// Version is FerretDB's own version, or MongoDB's.
	Version string
}

// Identify asks the server what it is (buildInfo) and sets how updates are
// made safe: in-process locks on FerretDB, none on MongoDB.
func (s *Store) Identify(ctx context.Context) (Server, error) {
	var info struct {
		Version         string `bson:"version"`
		FerretDBVersion string `bson:"ferretdbVersion"`
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return Server{}, fmt.Errorf("mongo: buildInfo: %w", err)
	}
	srv := Server{FerretDB: info.FerretDBVersion != "", Version: info.Version}
	if srv.FerretDB {
		srv.Version = info.FerretDBVersion
	}
	s.atomicUpdates.Store(!srv.FerretDB)
	return srv, nil
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
	// WriterLease makes every write wait for Identify and, on FerretDB, for
	// the single-writer lease (lease.go): what `todo serve` runs with. Tools
	// and tests that own their database leave it off.
	WriterLease bool
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
	return &Store{client: client, db: client.Database(dbName), needLease: o.WriterLease, born: time.Now()}, nil
}

// Close disconnects the client.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the primary answers and that this process may write to
// it: an instance that waits for the single-writer lease, or lost it, is
// not one to send requests to (health says DOWN).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	return s.fence()
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

package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// startMongo finds or starts the MongoDB-wire server; it runs once per test binary.
func (h *harness) startMongo() {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	if uri := os.Getenv("TEST_MONGODB_URI"); uri != "" {
		client, err := connectMongo(ctx, uri)
		if err != nil {
			h.mongoErr = fmt.Errorf("TEST_MONGODB_URI does not answer (fix it, or unset it to use an "+
				"embedded FerretDB): %w", err)
			return
		}
		h.mongoURI, h.mongoClient = uri, client
		return
	}

	f, err := h.startFerretForTests(ctx)
	if err != nil {
		h.mongoErr = fmt.Errorf("TEST_MONGODB_URI is not set and the embedded FerretDB did not start: %w", err)
		return
	}
	client, err := connectMongo(ctx, f.uri)
	if err != nil {
		_ = f.stop(ctx)
		h.mongoErr = fmt.Errorf("the embedded FerretDB does not answer: %w", err)
		return
	}
	h.ferret, h.mongoURI, h.mongoClient = f, f.uri, client
}

// startFerretForTests backs FerretDB with PostgreSQL when there is one (about 4× faster than SQLite on
// reads, and it scales with concurrent clients), and with SQLite otherwise so that MongoDB tests still
// run on a machine without PostgreSQL.
func (h *harness) startFerretForTests(ctx context.Context) (*ferret, error) {
	h.pgOnce.Do(h.startPostgres)
	if h.pgErr == nil {
		name := uniqueName("ferretdb")
		if err := createDatabase(ctx, h.pgDSN, name); err != nil {
			return nil, err
		}
		dsn, err := withDatabase(h.pgDSN, name)
		if err == nil {
			var f *ferret
			if f, err = startFerret(ctx, &ferretdb.Config{Handler: "postgresql", PostgreSQLURL: dsn}); err == nil {
				f.pgDatabase = name
				return f, nil
			}
		}
		_ = dropDatabase(ctx, h.pgDSN, name)
		return nil, err
	}

	dir, err := os.MkdirTemp("", "testenv-ferretdb-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for SQLite: %w", err)
	}
	h.mu.Lock()
	h.tempDirs = append(h.tempDirs, dir)
	h.mu.Unlock()
	return startFerret(ctx, &ferretdb.Config{Handler: "sqlite", SQLiteURL: sqliteURL(dir)})
}

// sqliteURL is the form FerretDB wants: an absolute directory with a trailing slash (an in-memory
// database hangs on the first update after a find).
func sqliteURL(dir string) string {
	return "file:" + dir + "/"
}

// ferret is an embedded FerretDB serving in a goroutine of the test process.
type ferret struct {
	uri        string
	pgDatabase string // PostgreSQL database holding its data, if any
	cancel     context.CancelFunc
	done       chan struct{}
}

// startFerret starts FerretDB with cfg's backend on a free loopback port and returns once it accepts
// connections.
func startFerret(ctx context.Context, cfg *ferretdb.Config) (*ferret, error) {
	cfg.Listener = ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}
	// At Warn it logs several lines per client disconnect, which buries test output.
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	fdb, err := ferretdb.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating FerretDB (%s handler): %w", cfg.Handler, err)
	}

	// Not derived from ctx: the server outlives the call that starts it.
	runCtx, cancel := context.WithCancel(context.Background())
	f := &ferret{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		_ = fdb.Run(runCtx) // it returns only when runCtx ends
	}()
	// Only valid once Run has started listening; it blocks until then.
	f.uri = fdb.MongoDBURI()

	client, err := connectMongo(ctx, f.uri)
	if err != nil {
		_ = f.stop(ctx)
		return nil, fmt.Errorf("FerretDB (%s handler) does not answer: %w", cfg.Handler, err)
	}
	_ = client.Disconnect(ctx)
	return f, nil
}

// stop shuts FerretDB down and waits for it, so that its backing database has no more users and can
// be dropped.
func (f *ferret) stop(ctx context.Context) error {
	f.cancel()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for FerretDB to stop: %w", ctx.Err())
	}
}

// connectMongo returns a client that has answered a ping; the driver connects lazily, so without the
// ping a dead server would only show up in the first test that uses it.
func connectMongo(ctx context.Context, uri string) (*mongo.Client, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", uri, err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		return nil, errors.Join(fmt.Errorf("pinging %s: %w", uri, err), client.Disconnect(ctx))
	}
	return client, nil
}

package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
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
		if err := createDatabase(ctx, h.pgDSN, name, ""); err != nil {
			return nil, err
		}
		dsn, err := withDatabase(h.pgDSN, name)
		if err == nil {
			dsn, err = withParam(dsn, "pool_max_conns", strconv.Itoa(ferretPoolConns))
		}
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

// ferretPoolConns caps the PostgreSQL connections of the tests' FerretDB (its default is 50). Two
// test binaries run at once, each with a FerretDB and its tests' own pools, against a server that
// takes 100 connections in all; on two cores, more queries at once than this only queue in
// PostgreSQL instead of in FerretDB.
const ferretPoolConns = 20

// sqliteURL is the form FerretDB wants: an absolute directory with a trailing slash (an in-memory
// database hangs on the first update after a find).
func sqliteURL(dir string) string {
	return "file:" + dir + "/"
}

// ferret is the FerretDB of the tests: a process of its own (cmd ferretd,
// built without -race), or, where that cannot be built, a goroutine of the
// test process.
type ferret struct {
	uri        string
	pgDatabase string // PostgreSQL database holding its data, if any
	stop       func(ctx context.Context) error
}

// startFerret starts FerretDB with cfg's backend on a free loopback port and returns once it accepts
// connections. It runs in a process of its own: under -race, instrumenting FerretDB too made it most of
// a test's CPU, and several times slower.
func startFerret(ctx context.Context, cfg *ferretdb.Config) (*ferret, error) {
	bin, err := ferretdBinary(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: running FerretDB in the test process (%v)\n", err)
		return startFerretInProcess(ctx, cfg)
	}
	f, err := startFerretProcess(ctx, bin, cfg)
	if err != nil {
		return nil, err
	}
	if err := f.answers(ctx, cfg.Handler); err != nil {
		return nil, err
	}
	return f, nil
}

// answers checks that the started FerretDB takes connections, and stops it
// if not.
func (f *ferret) answers(ctx context.Context, handler string) error {
	client, err := connectMongo(ctx, f.uri)
	if err != nil {
		_ = f.stop(ctx)
		return fmt.Errorf("FerretDB (%s handler) does not answer: %w", handler, err)
	}
	_ = client.Disconnect(ctx)
	return nil
}

// ferretdBinary builds cmd ferretd, without -race, where every test binary of the run finds it; the
// go build cache makes all but the first build a no-op, and a lock keeps concurrent test binaries
// from writing it at once.
func ferretdBinary(ctx context.Context) (string, error) {
	dir := filepath.Join(os.TempDir(), "todo-testenv-"+strconv.Itoa(os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file unlocks it too
	bin := filepath.Join(dir, "ferretd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/todo-backend/todo/internal/testenv/ferretd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ferretd: %w: %s", err, out)
	}
	return bin, nil
}

// startFerretProcess runs bin for cfg and reads the URI it serves from its first line. Its standard
// input is a pipe held by this process: when the test binary ends, however it ends, FerretDB does too.
func startFerretProcess(ctx context.Context, bin string, cfg *ferretdb.Config) (*ferret, error) {
	cmd := exec.Command(bin, "-handler", cfg.Handler, "-postgresql-url", cfg.PostgreSQLURL, "-sqlite-url", cfg.SQLiteURL) //nolint:gosec // G204: our own binary, arguments of our own
	cmd.Stderr = os.Stderr
	// It allocates for every document it decodes, and at the default GOGC
	// collecting took a sixth of its CPU; memory is not what the machine is
	// short of.
	cmd.Env = append(os.Environ(), "GOGC=400")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting ferretd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	f := &ferret{stop: func(ctx context.Context) error {
		_ = stdin.Close()
		select {
		case <-exited:
			return nil
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return fmt.Errorf("waiting for FerretDB to stop: %w", ctx.Err())
		}
	}}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case uri, ok := <-line:
		if !ok {
			_ = f.stop(ctx)
			return nil, fmt.Errorf("ferretd (%s handler) ended before it listened", cfg.Handler)
		}
		f.uri = uri
		return f, nil
	case <-ctx.Done():
		_ = f.stop(ctx)
		return nil, fmt.Errorf("ferretd (%s handler) did not listen: %w", cfg.Handler, ctx.Err())
	}
}

// startFerretInProcess serves FerretDB from a goroutine of the test process.
func startFerretInProcess(ctx context.Context, cfg *ferretdb.Config) (*ferret, error) {
	cfg.Listener = ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}
	// At Warn it logs several lines per client disconnect, which buries test output.
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	fdb, err := ferretdb.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating FerretDB (%s handler): %w", cfg.Handler, err)
	}
	// Not derived from ctx: the server outlives the call that starts it.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fdb.Run(runCtx) // it returns only when runCtx ends
	}()
	f := &ferret{stop: func(ctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for FerretDB to stop: %w", ctx.Err())
		}
	}}
	// Only valid once Run has started listening; it blocks until then.
	f.uri = fdb.MongoDBURI()
	if err := f.answers(ctx, cfg.Handler); err != nil {
		return nil, err
	}
	return f, nil
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

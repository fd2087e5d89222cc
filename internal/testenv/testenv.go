// Package testenv gives tests real database servers: a MongoDB-wire server and a PostgreSQL server.
//
// Every test package that uses it must route its tests through [Main], so that the servers the harness
// started are stopped and the databases it created are dropped once the tests are over:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Tests then ask for what they need; servers are started lazily on first use, once per test binary,
// and each call hands out a database of its own, dropped in t.Cleanup:
//
//	uri := testenv.MongoURI(t)        // mongodb://127.0.0.1:port/
//	db := testenv.MongoDatabase(t)    // "t_pkg_1a2b3c4d5e", dropped after the test
//	dsn := testenv.PostgresDSN(t)     // fresh empty database, for sql.Open("pgx", dsn)
//
// Where the servers come from:
//
//   - MongoDB wire: TEST_MONGODB_URI if set; otherwise FerretDB v1 embedded in the test process, backed by a
//     dedicated database on the PostgreSQL server below (its fastest backend), or by SQLite in a temporary
//     directory when no PostgreSQL is available.
//   - PostgreSQL: TEST_POSTGRES_DSN if set (the DSN of an admin database such as "postgres", with the right
//     to create databases); otherwise the local server at 127.0.0.1:5432 (user postgres, trust auth) if it
//     answers within 2 s; otherwise a throwaway cluster started from /usr/lib/postgresql/*/bin, as the
//     postgres OS user when running as root.
//
// A server that cannot be had skips the test, or fails it when CI=true, with a message that says what was
// tried and what to install: a test run never passes silently without its databases.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// setupTimeout bounds any single start-up or clean-up step, so that a wedged server fails the run
// instead of hanging it until the go test timeout.
const setupTimeout = 60 * time.Second

// harness is the state of the servers of one test binary. It is package-level because a test binary
// is one process whose tests must share the servers (starting FerretDB or a cluster per test would cost
// seconds each), and [Main] has to find what the tests started in order to stop it. All of it lives in
// this one value so that the shared state is visible in one place.
type harness struct {
	pgOnce    sync.Once
	pgDSN     string   // admin DSN of the PostgreSQL server
	pgErr     error    // why no PostgreSQL server is available
	pgCluster *cluster // throwaway cluster we started, if any

	mongoOnce   sync.Once
	mongoURI    string
	mongoErr    error
	mongoClient *mongo.Client // shared client for creating and dropping test databases
	ferret      *ferret       // embedded FerretDB we started, if any

	mu         sync.Mutex
	pgDBs      map[string]bool        // PostgreSQL databases created and not yet dropped
	templates  map[string]*pgTemplate // PostgreSQL template databases, by the key of PostgresTemplateDSN
	mongoPools map[string]*mongoPool  // recycled MongoDB databases, by the key of MongoPreparedDatabase
	mongoDBs   map[string]bool        // MongoDB databases handed out and not yet dropped
	tempDirs   []string
	mainCalls  int
}

var h = &harness{pgDBs: map[string]bool{}, mongoDBs: map[string]bool{}, templates: map[string]*pgTemplate{},
	mongoPools: map[string]*mongoPool{}}

// Main runs the package's tests and then stops the servers the harness started and drops the databases
// it created that are still there. Its result is the exit code for os.Exit.
func Main(m *testing.M, opts ...Option) int {
	h.mu.Lock()
	h.mainCalls++
	h.mu.Unlock()

	for _, o := range opts {
		o()
	}
	code := m.Run()
	if err := h.shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: shutdown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Option changes how [Main] runs a package's tests.
type Option func()

// Parallel makes n the number of parallel tests that run at once unless the command line says
// otherwise (go test -parallel). The default, GOMAXPROCS, suits tests that compute; a package whose
// tests mostly wait on the database servers, on timers and on drills that last seconds leaves a
// 2-core machine idle with it.
func Parallel(n int) Option {
	return func() {
		if !flag.Parsed() {
			flag.Parse()
		}
		set := false
		flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
		if !set {
			if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
				panic(fmt.Sprintf("testenv: setting -test.parallel: %v", err))
			}
		}
	}
}

// MongoURI returns the URI of this test binary's MongoDB-wire server, starting an embedded FerretDB on
// first use. Tests should not use the server's databases directly: see [MongoDatabase].
func MongoURI(t testing.TB) string {
	t.Helper()
	h.requireMain(t)
	h.mongoOnce.Do(h.startMongo)
	if h.mongoErr != nil {
		Unavailable(t, "no MongoDB-wire server: %v", h.mongoErr)
	}
	return h.mongoURI
}

// MongoDatabase returns the name of a database of its own on the [MongoURI] server, dropped when the
// test ends. The database does not exist until something is written to it.
func MongoDatabase(t testing.TB) string {
	t.Helper()
	MongoURI(t)
	name := uniqueName("t")
	h.track(h.mongoDBs, name, true)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := h.mongoClient.Database(name).Drop(ctx); err != nil {
			t.Errorf("testenv: dropping MongoDB database %s: %v", name, err)
			return
		}
		h.track(h.mongoDBs, name, false)
	})
	return name
}

// PostgresServerDSN returns the DSN of the PostgreSQL server's admin database, for tests that create
// databases or roles themselves; they must clean up after themselves.
func PostgresServerDSN(t testing.TB) string {
	t.Helper()
	h.requireMain(t)
	h.pgOnce.Do(h.startPostgres)
	if h.pgErr != nil {
		Unavailable(t, "no PostgreSQL server: %v", h.pgErr)
	}
	return h.pgDSN
}

// PostgresDSN returns the DSN of a fresh, empty database created for this test and force-dropped when
// the test ends, even if connections to it are still open.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return postgresDSN(t, PostgresServerDSN(t), "")
}

// PostgresTemplateDSN is [PostgresDSN] for a database that does not start empty: prepare fills a
// template database once per test binary and key (it is handed the template's DSN and must close
// every connection it opened before it returns), and each call gets a fresh copy of the template
// (CREATE DATABASE ... TEMPLATE), dropped when the test ends. A copy costs what an empty database
// costs, far less than running prepare again: migrating a schema is a few hundred DDL statements.
// An error from prepare fails every test that asks for the key.
func PostgresTemplateDSN(t testing.TB, key string, prepare func(ctx context.Context, dsn string) error) string {
	t.Helper()
	server := PostgresServerDSN(t)
	h.mu.Lock()
	tmpl := h.templates[key]
	if tmpl == nil {
		tmpl = &pgTemplate{}
		h.templates[key] = tmpl
	}
	h.mu.Unlock()
	tmpl.once.Do(func() { tmpl.name, tmpl.err = h.makeTemplate(server, prepare) })
	if tmpl.err != nil {
		t.Fatalf("testenv: preparing the PostgreSQL template %q: %v", key, tmpl.err)
	}
	return postgresDSN(t, server, tmpl.name)
}

// pgTemplate is one template database of [PostgresTemplateDSN].
type pgTemplate struct {
	once sync.Once
	name string
	err  error
}

// makeTemplate creates a database, has prepare fill it, and closes it to connections: CREATE
// DATABASE refuses a template that anyone (autovacuum included) is connected to.
func (h *harness) makeTemplate(server string, prepare func(ctx context.Context, dsn string) error) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	name := uniqueName("tmpl")
	dsn, err := withDatabase(server, name)
	if err != nil {
		return "", err
	}
	if err := createDatabase(ctx, server, name, ""); err != nil {
		return "", err
	}
	h.track(h.pgDBs, name, true) // dropped at shutdown, with whatever the tests left
	if err := prepare(ctx, dsn); err != nil {
		return "", err
	}
	if err := closeToConnections(ctx, server, name); err != nil {
		return "", err
	}
	return name, nil
}

func postgresDSN(t testing.TB, server, template string) string {
	t.Helper()
	name := uniqueName("t")
	dsn, err := withDatabase(server, name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := createDatabase(ctx, server, name, template); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	h.track(h.pgDBs, name, true)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := dropDatabase(ctx, server, name); err != nil {
			t.Errorf("testenv: %v", err)
			return
		}
		h.track(h.pgDBs, name, false)
	})
	return dsn
}

// requireMain catches a package that forgot its TestMain: its servers and databases would outlive the
// run, which is only noticed much later as a full disk or a stray process.
func (h *harness) requireMain(t testing.TB) {
	t.Helper()
	h.mu.Lock()
	ok := h.mainCalls > 0
	h.mu.Unlock()
	if !ok {
		t.Fatalf("testenv: the package has no TestMain calling testenv.Main; add:\n" +
			"\tfunc TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }")
	}
}

func (h *harness) track(set map[string]bool, name string, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		set[name] = true
	} else {
		delete(set, name)
	}
}

// shutdown stops the servers in dependency order: FerretDB before the PostgreSQL database it stores its
// data in, and that before the cluster holding it.
func (h *harness) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.mongoClient != nil {
		// Leftovers are only worth dropping on a server we did not start: ours is about to vanish.
		if h.ferret == nil {
			for name := range h.mongoDBs {
				if err := h.mongoClient.Database(name).Drop(ctx); err != nil {
					errs = append(errs, fmt.Errorf("dropping MongoDB database %s: %w", name, err))
				}
			}
		}
		if err := h.mongoClient.Disconnect(ctx); err != nil {
			errs = append(errs, fmt.Errorf("disconnecting from MongoDB: %w", err))
		}
	}
	if h.ferret != nil {
		if err := h.ferret.stop(ctx); err != nil {
			errs = append(errs, err)
		}
		if h.ferret.pgDatabase != "" {
			h.pgDBs[h.ferret.pgDatabase] = true
		}
	}
	if h.pgCluster != nil {
		if err := h.pgCluster.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	} else if h.pgDSN != "" {
		for name := range h.pgDBs {
			if err := dropDatabase(ctx, h.pgDSN, name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, dir := range h.tempDirs {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d errors, first: %w", len(errs), errs[0])
	}
	return nil
}

// Unavailable applies the availability policy to something a test needs (a
// server, a program): missing, it skips the test on a developer machine but
// fails it in CI, where a skip would turn an untested build green.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s", msg)
	}
	t.Skipf("testenv: %s (skipped; with CI=true this fails)", msg)
}

// uniqueName returns prefix_<package>_<random>: the package part tells whose leftovers a stray database
// is, the random part keeps parallel test binaries and runs apart. It stays within the 63 characters
// that both PostgreSQL and FerretDB accept, using only characters valid in both without quoting.
func uniqueName(prefix string) string {
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	pkg = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, pkg)
	if len(pkg) > 20 {
		pkg = pkg[:20]
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b) // never fails: crypto/rand panics instead of returning errors
	return prefix + "_" + pkg + "_" + hex.EncodeToString(b)
}

// SQLiteMongoURI starts a FerretDB of the test's own on SQLite in a
// temporary directory, stopped when the test ends, and returns its URI. It
// is for data the PostgreSQL-backed server cannot hold (FerretDB keeps
// documents there as jsonb, which refuses a NUL) but a legacy MongoDB can:
// the embedded default stores it.
func SQLiteMongoURI(t testing.TB) string {
	t.Helper()
	h.requireMain(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	f, err := startFerret(ctx, &ferretdb.Config{Handler: "sqlite", SQLiteURL: sqliteURL(dir)})
	if err != nil {
		Unavailable(t, "no SQLite FerretDB: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := f.stop(ctx); err != nil {
			t.Errorf("testenv: stopping the SQLite FerretDB: %v", err)
		}
	})
	return f.uri
}

package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "github.com/jackc/pgx/v5/stdlib"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func mongoClient(t *testing.T) *mongo.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connectMongo(ctx, MongoURI(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func insertAndFind(t *testing.T, db *mongo.Database) {
	t.Helper()
	ctx := t.Context()
	coll := db.Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 42}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got struct{ N int }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.N != 42 {
		t.Fatalf("found n=%d, want 42", got.N)
	}
}

func TestMongoDatabase(t *testing.T) {
	t.Parallel()
	client := mongoClient(t)
	var first, second string
	t.Run("use", func(t *testing.T) {
		first, second = MongoDatabase(t), MongoDatabase(t)
		if first == second {
			t.Fatalf("two calls gave the same database %q", first)
		}
		insertAndFind(t, client.Database(first))
		names, err := client.ListDatabaseNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, first) {
			t.Fatalf("database %s not listed while in use: %v", first, names)
		}
	})
	names, err := client.ListDatabaseNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, first) {
		t.Errorf("database %s still exists after the subtest's cleanup", first)
	}
}

func openPostgres(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	db := openPostgres(t, PostgresServerDSN(t))
	defer func() { _ = db.Close() }()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).
		Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestPostgresDSN(t *testing.T) {
	t.Parallel()
	PostgresServerDSN(t) // skips or fails here, not in the subtest, if there is no server
	var name string
	var leaked *sql.DB
	t.Run("use", func(t *testing.T) {
		dsn := PostgresDSN(t)
		// Deliberately left open past the cleanup: the drop must not be blocked by a leaked connection.
		leaked = openPostgres(t, dsn)
		ctx := t.Context()
		if err := leaked.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := leaked.QueryRowContext(ctx,
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("fresh database %s has %d tables", name, tables)
		}
		if _, err := leaked.ExecContext(ctx, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatalf("database not writable: %v", err)
		}
		if !databaseExists(t, name) {
			t.Fatalf("database %s not in pg_database", name)
		}
	})
	if leaked != nil {
		defer func() { _ = leaked.Close() }()
	}
	if name == "" {
		t.Fatal("subtest did not get a database")
	}
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after the subtest's cleanup", name)
	}
}

// TestPostgresTemplateDSN: prepare runs once per key, however many tests ask at once, and each of them
// gets a copy of its own that it can change without the others seeing it.
func TestPostgresTemplateDSN(t *testing.T) {
	t.Parallel()
	PostgresServerDSN(t)
	var prepared atomic.Int32
	prepare := func(ctx context.Context, dsn string) error {
		prepared.Add(1)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		_, err = db.ExecContext(ctx, "CREATE TABLE seeded (id int PRIMARY KEY); INSERT INTO seeded VALUES (1)")
		return err
	}
	var mu sync.Mutex
	var names []string
	t.Run("copies", func(t *testing.T) {
		for i := range 4 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				db := openPostgres(t, PostgresTemplateDSN(t, "seeded", prepare))
				defer func() { _ = db.Close() }()
				ctx := t.Context()
				var name string
				var rows int
				if err := db.QueryRowContext(ctx, "SELECT current_database(), (SELECT count(*) FROM seeded)").Scan(&name, &rows); err != nil {
					t.Fatal(err)
				}
				if rows != 1 {
					t.Errorf("copy %s has %d seeded rows, want the template's 1", name, rows)
				}
				// A change of one copy: the others, which count the rows, must not see it.
				if _, err := db.ExecContext(ctx, "INSERT INTO seeded VALUES ($1)", 100+i); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
			})
		}
	})
	if got := prepared.Load(); got != 1 {
		t.Errorf("prepare ran %d times, want once for the key", got)
	}
	slices.Sort(names)
	if len(slices.Compact(names)) != 4 {
		t.Errorf("the copies were %v, want 4 databases", names)
	}
	for _, name := range names {
		if databaseExists(t, name) {
			t.Errorf("copy %s still exists after its test's cleanup", name)
		}
	}
	t.Run("failing", func(t *testing.T) {
		failed := false
		ft := &fatalRecorder{TB: t, failed: &failed}
		func() {
			defer func() { _ = recover() }()
			PostgresTemplateDSN(ft, "broken", func(context.Context, string) error { return errors.New("no luck") })
		}()
		if !failed {
			t.Error("a prepare that fails did not fail the test that asked for its template")
		}
	})
}

// fatalRecorder notes a Fatalf instead of ending the test, and panics to stop the caller as
// FailNow would.
type fatalRecorder struct {
	testing.TB
	failed *bool
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	*r.failed = true
	r.Logf("(expected) "+format, args...)
	panic("fatal")
}

// TestMongoPreparedDatabase: a database comes prepared; once its test is over it is emptied and handed
// to the next test of the key, unless its indexes changed (then it is dropped), and a database written
// to after its test ended is not handed out again.
func TestMongoPreparedDatabase(t *testing.T) {
	t.Parallel()
	client := mongoClient(t)
	var prepared atomic.Int32
	prepare := func(ctx context.Context, uri, name string) error {
		prepared.Add(1)
		if uri != MongoURI(t) {
			return fmt.Errorf("prepare got URI %s, want the server's %s", uri, MongoURI(t))
		}
		_, err := client.Database(name).Collection("things").Indexes().CreateOne(ctx,
			mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}, Options: options.Index().SetName("by_n").SetUnique(true)})
		return err
	}
	use := func(t *testing.T) string {
		name := MongoPreparedDatabase(t, "things", prepare)
		coll := client.Database(name).Collection("things")
		if n, err := coll.CountDocuments(t.Context(), bson.D{}); err != nil || n != 0 {
			t.Fatalf("database %s starts with %d documents (%v), want none", name, n, err)
		}
		for range 2 { // the unique index prepare made is there
			_, err := coll.InsertOne(t.Context(), bson.D{{Key: "n", Value: 1}})
			if err != nil && !mongo.IsDuplicateKeyError(err) {
				t.Fatal(err)
			}
		}
		if n, _ := coll.CountDocuments(t.Context(), bson.D{}); n != 1 {
			t.Fatalf("two inserts of one unique n left %d documents, want 1 (the index is missing)", n)
		}
		if _, err := client.Database(name).Collection("other").InsertOne(t.Context(), bson.D{{Key: "x", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		return name
	}
	var first, second string
	t.Run("first", func(t *testing.T) { first = use(t) })
	t.Run("second", func(t *testing.T) { second = use(t) })
	if second != first || prepared.Load() != 1 {
		t.Errorf("the second test got %s (prepare ran %d times), want the first's %s, emptied", second, prepared.Load(), first)
	}

	t.Run("changed indexes", func(t *testing.T) {
		name := use(t)
		if err := client.Database(name).Collection("things").Indexes().DropOne(t.Context(), "by_n"); err != nil {
			t.Fatal(err)
		}
	})
	var third string
	t.Run("after a change", func(t *testing.T) { third = use(t) })
	if third == first || prepared.Load() != 2 {
		t.Errorf("after its indexes changed, %s was handed out again (prepare ran %d times), want a new database", third, prepared.Load())
	}
	if names, _ := client.ListDatabaseNames(t.Context(), bson.D{}); slices.Contains(names, first) {
		t.Errorf("database %s with changed indexes still exists, want it dropped", first)
	}

	// Written to after its test: the pool does not hand it out.
	if _, err := client.Database(third).Collection("things").InsertOne(t.Context(), bson.D{{Key: "n", Value: 7}}); err != nil {
		t.Fatal(err)
	}
	var fourth string
	t.Run("after a late write", func(t *testing.T) { fourth = use(t) })
	if fourth == third || prepared.Load() != 3 {
		t.Errorf("a database written to after its test was handed out again (%s, prepare ran %d times)", fourth, prepared.Load())
	}
}

func TestParallel(t *testing.T) {
	t.Parallel()
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			insertAndFind(t, mongoClient(t).Database(MongoDatabase(t)))
			db := openPostgres(t, PostgresDSN(t))
			defer func() { _ = db.Close() }()
			if _, err := db.ExecContext(t.Context(), "CREATE TABLE t (id int)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), "INSERT INTO t VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStartCluster runs the throwaway-cluster path for real, even on machines where a local server
// means the harness itself never needs it.
func TestStartCluster(t *testing.T) {
	t.Parallel()
	if _, err := postgresBinDir(); err != nil {
		Unavailable(t, "cannot test throwaway clusters: %v", err)
	}
	// Not t.TempDir: its parent is private to root, and the postgres user could not reach the cluster.
	root, err := os.MkdirTemp("", "testenv-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	start := time.Now()
	c, err := startCluster(ctx, root)
	if err != nil {
		t.Fatalf("startCluster: %v", err)
	}
	t.Logf("throwaway cluster up in %v at %s", time.Since(start).Round(time.Millisecond), c.dsn)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.stop(context.Background())
		}
	})
	if strings.Contains(c.dsn, ":5432/") {
		t.Fatalf("cluster took the default port: %s", c.dsn)
	}

	if err := createDatabase(ctx, c.dsn, "probe", ""); err != nil {
		t.Fatal(err)
	}
	dsn, err := withDatabase(c.dsn, "probe")
	if err != nil {
		t.Fatal(err)
	}
	db := openPostgres(t, dsn)
	var version string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := db.QueryRowContext(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("fsync = %q (%v), want off", fsync, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	t.Logf("server_version %s", version)
	// Left open on purpose: dropping must terminate it.
	if err := dropDatabase(ctx, c.dsn, "probe"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	stopped = true
	if err := c.stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := ping(ctx, c.dsn); err == nil {
		t.Error("cluster still answers after stop")
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s not removed: %v", root, err)
	}
}

// TestFerretSQLite runs the fallback used when no PostgreSQL is available.
func TestFerretSQLite(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	f, err := startFerret(ctx, &ferretdb.Config{Handler: "sqlite", SQLiteURL: sqliteURL(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	client, err := connectMongo(ctx, f.uri)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	insertAndFind(t, client.Database("sqlite_probe"))
}

func TestNames(t *testing.T) {
	t.Parallel()
	a, b := uniqueName("t"), uniqueName("t")
	if a == b || len(a) > 63 || !strings.HasPrefix(a, "t_testenv_") {
		t.Errorf("uniqueName gave %q and %q", a, b)
	}
	for server, want := range map[string]string{
		"postgres://u:p@h:1/postgres?sslmode=disable": "postgres://u:p@h:1/x?sslmode=disable",
		"host=h user=u dbname=postgres":               "host=h user=u dbname=postgres dbname=x",
	} {
		if got, err := withDatabase(server, "x"); err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", server, got, err, want)
		}
	}
}

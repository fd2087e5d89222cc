package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/todo-backend/todo/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// dialects are the two databases the mirror runs on.
var dialects = []struct {
	name string
	open func(*testing.T) *DB
}{
	{"postgres", func(t *testing.T) *DB { return openPostgres(t, testenv.PostgresDSN(t)) }},
	{"sqlite", openSQLite},
}

func openPostgres(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "mirror", "mirror.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// allMigrations are the names Migrate reports for a fresh database.
var allMigrations = []string{"20261125000001_create_mirror_tables", "20261125000002_add_missing_columns",
	"20261125000003_add_new_columns_both_dialects", "20261202000001_read_path_indexes",
	"20261203000001_audit_log_values"}

// runMigrate runs Migrate and checks the migrations it reports as applied.
func runMigrate(t *testing.T, db *DB, want []string) {
	t.Helper()
	got, err := db.Migrate(t.Context())
	if err != nil {
		t.Fatalf("Migrate: got error %v, want none", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Migrate: applied %q, want %q", got, want)
	}
}

// columns lists the columns of table; none if it does not exist.
func columns(t *testing.T, db *DB, table string) []string {
	t.Helper()
	q := `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`
	if db.Dialect() == "sqlite" {
		q = `SELECT name FROM pragma_table_info(?)`
	}
	var cols []string
	if err := db.Bun.NewRaw(q, table).Scan(t.Context(), &cols); err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	return cols
}

// isUniqueViolation and isForeignKeyViolation classify a constraint error
// of either dialect.
func isUniqueViolation(err error) bool {
	return hasCode(err, "23505", sqlite3.SQLITE_CONSTRAINT_UNIQUE)
}

func isForeignKeyViolation(err error) bool {
	return hasCode(err, "23503", sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

func hasCode(err error, pgCode string, sqliteCode int) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgCode
	}
	var sqErr *sqlite.Error
	return errors.As(err, &sqErr) && sqErr.Code() == sqliteCode
}

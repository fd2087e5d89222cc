package mirror

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/storage/postgres"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// dialects are the two databases the mirror runs on, each opened fresh and
// migrated.
var dialects = []struct {
	name string
	open func(*testing.T) *postgres.DB
}{
	{"postgres", func(t *testing.T) *postgres.DB {
		t.Helper()
		// A copy of a database migrated once (Migrate, below, applies
		// nothing then): migrating anew was most of a test's time.
		db, err := postgres.Open(testenv.PostgresTemplateDSN(t, "mirror-migrated", postgres.MigrateDSN))
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		return migrated(t, db)
	}},
	{"sqlite", func(t *testing.T) *postgres.DB {
		t.Helper()
		db, err := postgres.OpenSQLite(filepath.Join(t.TempDir(), "mirror.db"))
		if err != nil {
			t.Fatalf("postgres.OpenSQLite: %v", err)
		}
		return migrated(t, db)
	}},
}

func migrated(t *testing.T, db *postgres.DB) *postgres.DB {
	t.Helper()
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// forEachDialect runs test once per dialect with a fresh migrated mirror.
func forEachDialect(t *testing.T, test func(t *testing.T, m *Mirror, db *postgres.DB)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			test(t, New(db), db)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func mustUpsert(t *testing.T, m *Mirror, doc any, wantApplied bool) {
	t.Helper()
	applied, err := m.Upsert(t.Context(), doc)
	if err != nil {
		t.Fatalf("Upsert %s %T: %v", Collection(doc), doc, err)
	}
	if applied != wantApplied {
		t.Fatalf("Upsert %s %T: got applied %v, want %v", Collection(doc), doc, applied, wantApplied)
	}
}

func mustRow(t *testing.T, m *Mirror, collection, id string) map[string]any {
	t.Helper()
	row, err := m.Row(t.Context(), collection, id)
	if err != nil {
		t.Fatalf("Row %s %s: %v", collection, id, err)
	}
	return row
}

// checkColumns compares the row's columns with want, each one, and fails on
// a column of the row that want does not mention, so that no column goes
// unchecked. The bookkeeping columns are checked by checkSynced.
func checkColumns(t *testing.T, row, want map[string]any) {
	t.Helper()
	for _, col := range slices.Sorted(maps.Keys(want)) {
		got, ok := row[col]
		if !ok {
			t.Errorf("column %s: missing from the row", col)
			continue
		}
		if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("column %s: got time in %v, want UTC", col, tm.Location())
		}
		if !equal(got, want[col]) {
			t.Errorf("column %s: got %s (%T), want %s (%T)", col, show(got), got, show(want[col]), want[col])
		}
	}
	for col := range row {
		if _, ok := want[col]; !ok && !bookkeeping[col] {
			t.Errorf("column %s: not checked by the test (value %s)", col, show(row[col]))
		}
	}
}

// checkSynced checks the bookkeeping columns of a row written between
// before and after.
func checkSynced(t *testing.T, row map[string]any, before, after time.Time) {
	t.Helper()
	if id, ok := row["id"].(int64); !ok || id <= 0 {
		t.Errorf("id: got %v, want a positive int64", row["id"])
	}
	if got := row["sync_status"]; got != "SYNCED" {
		t.Errorf("sync_status: got %v, want SYNCED", got)
	}
	if got := row["sync_error"]; got != nil {
		t.Errorf("sync_error: got %v, want NULL", got)
	}
	got, _ := row["last_sync_at"].(time.Time)
	if got.Before(before.Truncate(time.Microsecond)) || got.After(after) {
		t.Errorf("last_sync_at: got %v, want between %v and %v", got, before, after)
	}
}

package postgres

import (
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/todo-backend/todo/internal/testenv"
)

// specTables are the mirror's tables as SPEC §6.2 names them.
var specTables = []string{
	"postgres_users", "postgres_tasks", "postgres_task_labels", "postgres_deferred_details", "postgres_teams",
	"postgres_user_team_details", "postgres_labels", "postgres_roles", "postgres_task_assignments",
	"postgres_watchlist", "postgres_user_roles", "postgres_audit_logs", "postgres_team_creation_invite_codes",
}

// childTables hold parts of a task document: they have no MongoDB id of
// their own (as in the original) and are rewritten with their task.
var childTables = map[string][]string{
	"postgres_task_labels":      {"task_id", "label_mongo_id"},
	"postgres_deferred_details": {"task_id", "deferred_at", "deferred_till", "deferred_by"},
}

var syncColumns = []string{"mongo_id", "sync_status", "last_sync_at", "sync_error", "version"}

// checkSchema checks that every table exists with its bookkeeping columns
// and a column for every field of its row struct.
func checkSchema(t *testing.T, db *DB) {
	t.Helper()
	if got := TableNames(db.Bun); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(specTables))) {
		t.Errorf("TableNames: got %q, want %q", got, specTables)
	}
	for _, table := range specTables {
		cols := columns(t, db, table)
		if len(cols) == 0 {
			t.Errorf("table %s: missing", table)
			continue
		}
		want := syncColumns
		if c, ok := childTables[table]; ok {
			want = c
		}
		for _, c := range want {
			if !slices.Contains(cols, c) {
				t.Errorf("table %s: got columns %q, want one named %s", table, cols, c)
			}
		}
	}
	for _, model := range tables {
		table := db.Bun.Table(reflect.TypeOf(model))
		cols := columns(t, db, table.Name)
		for _, f := range table.Fields {
			if !slices.Contains(cols, f.Name) {
				t.Errorf("table %s: got columns %q, want %s for %s.%s", table.Name, cols, f.Name, table.TypeName, f.GoName)
			}
		}
	}
}

func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.Bun.NewRaw("SELECT count(*) FROM ?", bun.Ident(table)).Scan(t.Context(), &n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestMigrateFreshDatabase(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			runMigrate(t, db, allMigrations)
			checkSchema(t, db)
			runMigrate(t, db, nil)
			checkSchema(t, db)
			if n := countRows(t, db, "bun_migrations"); n != len(allMigrations) {
				t.Errorf("bun_migrations: got %d rows, want %d", n, len(allMigrations))
			}
		})
	}
}

// Several instances starting at once migrate once between them: the
// advisory lock makes the others wait and then find nothing to do.
func TestMigrateConcurrentlyOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	const instances = 4
	applied := make([][]string, instances)
	errs := make([]error, instances)
	dbs := make([]*DB, instances)
	for i := range dbs {
		dbs[i] = openPostgres(t, dsn)
	}
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { applied[i], errs[i] = db.Migrate(t.Context()) })
	}
	wg.Wait()
	var all []string
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: got error %v, want none", i, err)
		}
		all = append(all, applied[i]...)
	}
	if slices.Sort(all); !slices.Equal(all, allMigrations) {
		t.Errorf("migrations applied by all instances: got %q, want %q once each", all, allMigrations)
	}
	checkSchema(t, dbs[0])
	if n := countRows(t, dbs[0], "bun_migrations"); n != len(allMigrations) {
		t.Errorf("bun_migrations: got %d rows, want %d", n, len(allMigrations))
	}
}

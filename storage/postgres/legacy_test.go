package postgres

import (
	"slices"
	"testing"

	"github.com/todo-backend/todo/internal/testenv"
)

// djangoMirror creates tables as the original service's Django migration
// 0001_initial_setup did (no version, no columns of ours, no database-side
// defaults, Django's deferrable foreign keys), with a row in each.
var djangoMirror = []string{
	`CREATE TABLE postgres_tasks (
		id serial PRIMARY KEY, mongo_id varchar(24) UNIQUE, display_id varchar(100), title varchar(500) NOT NULL,
		description text, priority integer NOT NULL, status varchar(20) NOT NULL, is_acknowledged boolean NOT NULL,
		is_deleted boolean NOT NULL, started_at timestamptz, due_at timestamptz, created_at timestamptz NOT NULL,
		updated_at timestamptz, created_by varchar(24) NOT NULL, updated_by varchar(24),
		last_sync_at timestamptz NOT NULL, sync_status varchar(20) NOT NULL, sync_error text)`,
	`CREATE TABLE postgres_roles (
		id serial PRIMARY KEY, mongo_id varchar(24) UNIQUE, name varchar(100) NOT NULL UNIQUE, description text,
		permissions jsonb NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz,
		last_sync_at timestamptz NOT NULL, sync_status varchar(20) NOT NULL, sync_error text)`,
	`CREATE TABLE postgres_deferred_details (
		id serial PRIMARY KEY, deferred_at timestamptz, deferred_till timestamptz, deferred_by varchar(24),
		task_id integer NOT NULL UNIQUE REFERENCES postgres_tasks (id) DEFERRABLE INITIALLY DEFERRED)`,
	`INSERT INTO postgres_tasks (mongo_id, display_id, title, priority, status, is_acknowledged, is_deleted,
		created_at, created_by, last_sync_at, sync_status)
		VALUES ('64b7f1c2a1b2c3d4e5f60718', '#1', 'Kept', 3, 'TODO', false, false, now(), '64b7f1c2a1b2c3d4e5f60719',
		now(), 'SYNCED')`,
	`INSERT INTO postgres_roles (mongo_id, name, permissions, created_at, last_sync_at, sync_status)
		VALUES ('64b7f1c2a1b2c3d4e5f6071a', 'owner', '{}', now(), now(), 'SYNCED')`,
	`INSERT INTO postgres_deferred_details (deferred_by, task_id)
		VALUES ('64b7f1c2a1b2c3d4e5f60719', (SELECT id FROM postgres_tasks))`,
}

// A mirror made by the original service keeps its tables and rows; Migrate
// adds what they lack, with defaults for the rows already there.
func TestMigrateOriginalMirror(t *testing.T) {
	t.Parallel()
	db := openPostgres(t, testenv.PostgresDSN(t))
	for _, ddl := range djangoMirror {
		if _, err := db.Bun.ExecContext(t.Context(), ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	before := map[string][]string{}
	for _, table := range []string{"postgres_tasks", "postgres_roles", "postgres_deferred_details"} {
		before[table] = columns(t, db, table)
	}

	runMigrate(t, db, allMigrations)
	checkSchema(t, db)
	added := map[string][]string{
		"postgres_tasks":            {"version"},
		"postgres_roles":            {"version", "scope", "is_active", "created_by"},
		"postgres_deferred_details": {"created_at", "updated_at"},
	}
	for table, want := range added {
		if slices.ContainsFunc(want, func(c string) bool { return slices.Contains(before[table], c) }) {
			t.Fatalf("table %s: had %q before Migrate, want none of %q", table, before[table], want)
		}
		for _, c := range before[table] {
			if !slices.Contains(columns(t, db, table), c) {
				t.Errorf("table %s: lost column %s", table, c)
			}
		}
	}

	var task TaskRow
	if err := db.Bun.NewSelect().Model(&task).Scan(t.Context()); err != nil {
		t.Fatalf("select the original task: %v", err)
	}
	if task.MongoID != "64b7f1c2a1b2c3d4e5f60718" || task.Title != "Kept" || task.Version != 0 {
		t.Errorf("original task: got mongo_id %s, title %q, version %d, want 64b7f1c2a1b2c3d4e5f60718, Kept, 0",
			task.MongoID, task.Title, task.Version)
	}
	var role RoleRow
	if err := db.Bun.NewSelect().Model(&role).Scan(t.Context()); err != nil {
		t.Fatalf("select the original role: %v", err)
	}
	// is_active has no default (see rows.go): the original's rows hold NULL
	// there until the mirror rewrites them from their documents.
	if role.Name != "owner" || role.Scope != "GLOBAL" || role.Version != 0 {
		t.Errorf("original role: got %s scope %s version %d, want owner GLOBAL 0", role.Name, role.Scope, role.Version)
	}
	var deferral DeferredDetailsRow
	if err := db.Bun.NewSelect().Model(&deferral).Scan(t.Context()); err != nil {
		t.Fatalf("select the original deferral: %v", err)
	}
	if deferral.TaskID != task.ID || deferral.CreatedAt.IsZero() {
		t.Errorf("original deferral: got task %d, created_at %v, want task %d and a created_at",
			deferral.TaskID, deferral.CreatedAt, task.ID)
	}

	runMigrate(t, db, nil)
}

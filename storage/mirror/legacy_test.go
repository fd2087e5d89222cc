package mirror

import (
	"testing"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/storage/postgres"
)

// originalMirror creates task and role tables as the original service's
// Django migrations did: jsonb permissions, child foreign keys that are
// deferrable and do not cascade (Django cascades in Python), no version.
// The rows in them are stale copies of the documents, at version 0.
var originalMirror = []string{
	`CREATE TABLE postgres_tasks (
		id serial PRIMARY KEY, mongo_id varchar(24) UNIQUE, display_id varchar(100), title varchar(500) NOT NULL,
		description text, priority integer NOT NULL, status varchar(20) NOT NULL, is_acknowledged boolean NOT NULL,
		is_deleted boolean NOT NULL, started_at timestamptz, due_at timestamptz, created_at timestamptz NOT NULL,
		updated_at timestamptz, created_by varchar(24) NOT NULL, updated_by varchar(24),
		last_sync_at timestamptz NOT NULL, sync_status varchar(20) NOT NULL, sync_error text)`,
	`CREATE TABLE postgres_task_labels (
		id serial PRIMARY KEY, label_mongo_id varchar(24) NOT NULL, created_at timestamptz NOT NULL,
		task_id integer NOT NULL REFERENCES postgres_tasks (id) DEFERRABLE INITIALLY DEFERRED,
		UNIQUE (task_id, label_mongo_id))`,
	`CREATE TABLE postgres_deferred_details (
		id serial PRIMARY KEY, deferred_at timestamptz, deferred_till timestamptz, deferred_by varchar(24),
		task_id integer NOT NULL UNIQUE REFERENCES postgres_tasks (id) DEFERRABLE INITIALLY DEFERRED)`,
	`CREATE TABLE postgres_roles (
		id serial PRIMARY KEY, mongo_id varchar(24) UNIQUE, name varchar(100) NOT NULL UNIQUE, description text,
		permissions jsonb NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz,
		last_sync_at timestamptz NOT NULL, sync_status varchar(20) NOT NULL, sync_error text)`,
	`INSERT INTO postgres_tasks (mongo_id, title, priority, status, is_acknowledged, is_deleted, created_at,
		created_by, last_sync_at, sync_status)
		VALUES ('` + idTask + `', 'Stale', 3, 'TODO', false, false, now(), 'x', now(), 'SYNCED')`,
	`INSERT INTO postgres_task_labels (label_mongo_id, created_at, task_id)
		VALUES ('` + idLabel + `', now(), (SELECT id FROM postgres_tasks))`,
	`INSERT INTO postgres_deferred_details (deferred_by, task_id) VALUES ('x', (SELECT id FROM postgres_tasks))`,
	`INSERT INTO postgres_roles (mongo_id, name, permissions, created_at, last_sync_at, sync_status)
		VALUES ('` + idRole + `', 'owner', '{}', now(), now(), 'SYNCED')`,
}

// The mirror writes over a mirror the original service made, once Migrate
// has added what its tables lack.
func TestOriginalMirror(t *testing.T) {
	t.Parallel()
	db, err := postgres.Open(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for _, ddl := range originalMirror {
		if _, err := db.Bun.ExecContext(t.Context(), ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	migrated(t, db)
	m := New(db)

	var task, role fixture
	for _, f := range fullFixtures() {
		switch f.id {
		case idTask:
			task = f
		case idRole:
			role = f
		}
	}
	for _, f := range []fixture{task, role} {
		mustUpsert(t, m, f.doc, true)
		checkColumns(t, mustRow(t, m, Collection(f.doc), f.id), f.want)
	}
	if n := count(t, db, (*postgres.TaskLabelRow)(nil)); n != 2 {
		t.Errorf("label rows: got %d, want the task's 2 (the stale one replaced)", n)
	}

	if err := m.Delete(t.Context(), Tasks, idTask); err != nil {
		t.Fatalf("Delete a task whose child tables do not cascade: %v", err)
	}
	for _, model := range []any{(*postgres.TaskRow)(nil), (*postgres.TaskLabelRow)(nil),
		(*postgres.DeferredDetailsRow)(nil)} {
		if n := count(t, db, model); n != 0 {
			t.Errorf("%T rows after Delete: got %d, want 0", model, n)
		}
	}
}

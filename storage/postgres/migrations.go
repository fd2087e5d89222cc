package postgres

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// tables lists the mirror's tables in creation order: parents before the
// child tables that reference them.
var tables = []any{
	(*UserRow)(nil),
	(*TaskRow)(nil),
	(*TaskLabelRow)(nil),
	(*DeferredDetailsRow)(nil),
	(*TeamRow)(nil),
	(*UserTeamDetailsRow)(nil),
	(*LabelRow)(nil),
	(*RoleRow)(nil),
	(*TaskAssignmentRow)(nil),
	(*WatchlistRow)(nil),
	(*UserRoleRow)(nil),
	(*AuditLogRow)(nil),
	(*TeamCreationInviteCodeRow)(nil),
}

// TableNames lists the mirror's tables, for tests and tools.
func TableNames(db *bun.DB) []string {
	out := make([]string, len(tables))
	for i, m := range tables {
		out[i] = db.Table(reflect.TypeOf(m)).Name
	}
	return out
}

// indexDDL are the lookup and uniqueness indexes of the original mirror
// (§8.2), written to run on PostgreSQL and SQLite alike.
var indexDDL = []string{
	`CREATE UNIQUE INDEX IF NOT EXISTS postgres_task_labels_task_label ON postgres_task_labels (task_id, label_mongo_id)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS postgres_user_team_details_user_team ON postgres_user_team_details (user_id, team_id)`,
	`CREATE INDEX IF NOT EXISTS postgres_user_team_details_team ON postgres_user_team_details (team_id)`,
	`CREATE INDEX IF NOT EXISTS postgres_users_email ON postgres_users (email_id)`,
	`CREATE INDEX IF NOT EXISTS postgres_tasks_created_by ON postgres_tasks (created_by)`,
	`CREATE INDEX IF NOT EXISTS postgres_tasks_status ON postgres_tasks (status)`,
	`CREATE INDEX IF NOT EXISTS postgres_task_assignments_task ON postgres_task_assignments (task_mongo_id)`,
	`CREATE INDEX IF NOT EXISTS postgres_task_assignments_assignee ON postgres_task_assignments (assignee_id, is_active)`,
	`CREATE INDEX IF NOT EXISTS postgres_task_assignments_team ON postgres_task_assignments (team_id, is_active)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS postgres_watchlist_user_task ON postgres_watchlist (user_id, task_id)`,
	`CREATE INDEX IF NOT EXISTS postgres_user_roles_user ON postgres_user_roles (user_id, scope)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS postgres_user_roles_active ON postgres_user_roles (user_id, role_name, scope, COALESCE(team_id, '')) WHERE is_active`,
	`CREATE UNIQUE INDEX IF NOT EXISTS postgres_roles_name_scope ON postgres_roles (name, scope)`,
	`CREATE INDEX IF NOT EXISTS postgres_audit_logs_team ON postgres_audit_logs (team_id, timestamp)`,
	`CREATE INDEX IF NOT EXISTS postgres_audit_logs_task ON postgres_audit_logs (task_id, timestamp)`,
}

// readPathDDL are the indexes reads served from the mirror need beyond the
// original's: a list without a scope's ids is ordered by updated_at, the
// ASSIGNED_TO_ME scope looks teams up by POC.
var readPathDDL = []string{
	`CREATE INDEX IF NOT EXISTS postgres_tasks_updated_at ON postgres_tasks (updated_at)`,
	`CREATE INDEX IF NOT EXISTS postgres_teams_poc ON postgres_teams (poc_id)`,
	`CREATE INDEX IF NOT EXISTS postgres_task_assignments_task_active ON postgres_task_assignments (task_mongo_id, is_active)`,
}

func execAll(ddl []string) func(context.Context, *bun.DB) error {
	return func(ctx context.Context, db *bun.DB) error {
		for _, d := range ddl {
			if _, err := db.ExecContext(ctx, d); err != nil {
				return fmt.Errorf("postgres: %s: %w", d, err)
			}
		}
		return nil
	}
}

// migrations builds the versioned migrations. Names are timestamps, as
// bun/migrate orders them; a new migration gets a later name, and an applied
// one is never edited.
func migrations() *migrate.Migrations {
	m := migrate.NewMigrations()
	m.Add(migrate.Migration{
		Name: "20261125000001", Comment: "create_mirror_tables",
		Up: upCreateTables, Down: downDropTables,
	})
	m.Add(migrate.Migration{
		Name: "20261125000002", Comment: "add_missing_columns",
		Up: upAddMissingColumns, Down: noop,
	})
	m.Add(migrate.Migration{
		Name: "20261125000003", Comment: "add_new_columns_both_dialects",
		Up: goMigration(addNewColumns), Down: noop,
	})
	m.Add(migrate.Migration{
		Name: "20261202000001", Comment: "read_path_indexes",
		Up: goMigration(execAll(readPathDDL)), Down: noop,
	})
	m.Add(migrate.Migration{
		Name: "20261203000001", Comment: "audit_log_values",
		Up: goMigration(addNewColumns), Down: noop,
	})
	return m
}

// The migrator calls these through its Go-migration hooks; bun exports only
// the wrapper for Register, so adapt the signature here.
var (
	upCreateTables      = goMigration(createTables)
	downDropTables      = goMigration(dropTables)
	upAddMissingColumns = goMigration(addMissingColumns)
	noop                = goMigration(func(context.Context, *bun.DB) error { return nil })
)

// createTables creates each table that is absent, so a mirror made by the
// original Django service keeps its tables and rows.
func createTables(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, model := range tables {
			q := tx.NewCreateTable().Model(model).IfNotExists()
			switch model.(type) {
			case *TaskLabelRow, *DeferredDetailsRow:
				q = q.ForeignKey(`("task_id") REFERENCES "postgres_tasks" ("id") ON DELETE CASCADE`)
			}
			if _, err := q.Exec(ctx); err != nil {
				return fmt.Errorf("postgres: create %T: %w", model, err)
			}
		}
		// A table the original created lacks columns the indexes below
		// cover (postgres_roles has no scope): add them first.
		if err := addColumns(ctx, db, tx); err != nil {
			return err
		}
		for _, ddl := range indexDDL {
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
				return fmt.Errorf("postgres: %s: %w", ddl, err)
			}
		}
		if db.Dialect().Name() == dialect.PG {
			for _, model := range tables {
				t := db.Table(reflect.TypeOf(model))
				if !t.HasField("sync_status") {
					continue // child tables are synced with their parent
				}
				ddl := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_sync_status ON %s (sync_status)`, t.Name, t.Name)
				if _, err := tx.ExecContext(ctx, ddl); err != nil {
					return fmt.Errorf("postgres: %s: %w", ddl, err)
				}
			}
		}
		return nil
	})
}

func dropTables(ctx context.Context, db *bun.DB) error {
	for i := len(tables) - 1; i >= 0; i-- {
		if _, err := db.NewDropTable().Model(tables[i]).IfExists().Exec(ctx); err != nil {
			return fmt.Errorf("postgres: drop %T: %w", tables[i], err)
		}
	}
	return nil
}

// addMissingColumns adds what a table created by the original service lacks
// (version and the columns that keep fields it dropped). Only PostgreSQL can
// hold such tables; the embedded SQLite mirror is always created by us.
func addMissingColumns(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return addColumns(ctx, db, tx)
	})
}

func addColumns(ctx context.Context, db *bun.DB, tx bun.Tx) error {
	if db.Dialect().Name() != dialect.PG {
		return nil
	}
	return addColumnsTo(ctx, db, tx, nil)
}

// addColumnsTo adds every column of the row structs that a table lacks. On
// PostgreSQL ADD COLUMN IF NOT EXISTS does the checking; SQLite has no such
// clause, so existing lists the columns it has (nil on PostgreSQL).
func addColumnsTo(ctx context.Context, db *bun.DB, tx bun.Tx, existing func(table string) (map[string]bool, error)) error {
	ifNotExists := "IF NOT EXISTS "
	if existing != nil {
		ifNotExists = ""
	}
	for _, model := range tables {
		table := db.Table(reflect.TypeOf(model))
		var have map[string]bool
		if existing != nil {
			var err error
			if have, err = existing(table.Name); err != nil {
				return err
			}
		}
		for _, f := range table.Fields {
			if f.IsPK || have[f.Name] {
				continue
			}
			ddl := fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s%s %s`, table.SQLName, ifNotExists, f.SQLName, f.CreateTableSQLType)
			// NOT NULL can only be added with a default when rows exist.
			if f.SQLDefault != "" {
				ddl += " DEFAULT " + f.SQLDefault
				if f.NotNull {
					ddl += " NOT NULL"
				}
			}
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
				return fmt.Errorf("postgres: %s: %w", strings.TrimSpace(ddl), err)
			}
		}
	}
	return nil
}

// addNewColumns adds columns introduced after a mirror was created (e.g.
// postgres_roles.updated_by), on either dialect.
func addNewColumns(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if db.Dialect().Name() == dialect.PG {
			return addColumnsTo(ctx, db, tx, nil)
		}
		return addColumnsTo(ctx, db, tx, func(table string) (map[string]bool, error) {
			rows, err := tx.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
			if err != nil {
				return nil, fmt.Errorf("postgres: columns of %s: %w", table, err)
			}
			defer rows.Close()
			have := map[string]bool{}
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					return nil, err
				}
				have[name] = true
			}
			return have, rows.Err()
		})
	})
}

func goMigration(fn func(context.Context, *bun.DB) error) func(context.Context, *migrate.Migrator, *migrate.Migration) error {
	return func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
		return fn(ctx, m.DB())
	}
}

package postgres

import (
	"testing"

	"github.com/todo-backend/todo/internal/testenv"
)

// TestNewColumnsReachOlderMirrors: a mirror migrated before a column was
// added to a row struct (postgres_roles.updated_by) gets it from migration
// 3, on both dialects, and keeps its rows.
func TestNewColumnsReachOlderMirrors(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *DB{
		"postgres": func(t *testing.T) *DB { return openPostgres(t, testenv.PostgresDSN(t)) },
		"sqlite":   openSQLite,
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			runMigrate(t, db, allMigrations)
			ctx := t.Context()
			for _, q := range []string{
				`ALTER TABLE postgres_roles DROP COLUMN updated_by`,
				`INSERT INTO postgres_roles (mongo_id, name, scope, permissions, is_active, created_at, version) VALUES ('aaaaaaaaaaaaaaaaaaaaaaaa', 'owner', 'TEAM', '{}', true, CURRENT_TIMESTAMP, 1)`,
				`DELETE FROM bun_migrations WHERE name = '20261125000003'`,
			} {
				if _, err := db.Bun.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			runMigrate(t, db, allMigrations[2:3])
			var n int
			if err := db.Bun.QueryRowContext(ctx, `SELECT COUNT(*) FROM postgres_roles WHERE updated_by IS NULL`).Scan(&n); err != nil {
				t.Fatalf("updated_by after migration 3: %v", err)
			}
			if n != 1 {
				t.Errorf("rows kept: got %d, want 1", n)
			}
		})
	}
}

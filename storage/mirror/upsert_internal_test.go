package mirror

import (
	"testing"
	"time"

	"github.com/todo-backend/todo/storage/postgres"
)

// A task row just inserted has no children to delete, so its write skips
// the deletes (two statements of a createTask's mirror write); one updated
// does not. On SQLite whether the row is new is not known: never fresh.
func TestUpsertTellsAFreshRow(t *testing.T) {
	forEachDialect(t, func(t *testing.T, m *Mirror, db *postgres.DB) {
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Millisecond)
		row := func(version int64) *postgres.TaskRow {
			return &postgres.TaskRow{SyncColumns: postgres.SyncColumns{MongoID: "6b0f00000000000000000001", SyncStatus: "SYNCED",
				LastSyncAt: now, Version: version}, Title: "fresh", Priority: 1, Status: "TODO", CreatedAt: now}
		}
		onPG := db.Dialect() == "pg"
		for _, c := range []struct {
			what                string
			version             int64
			wantApplied, wantFr bool
		}{
			{"the insert", 1, true, onPG},
			{"an update", 2, true, false},
			{"an older copy", 1, false, false},
		} {
			id, applied, fresh, err := upsertRow(ctx, db.Bun, row(c.version), false)
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if applied != c.wantApplied || fresh != c.wantFr || (applied && id == 0) {
				t.Errorf("%s: got id %d applied %v fresh %v, want applied %v fresh %v", c.what, id, applied, fresh, c.wantApplied, c.wantFr)
			}
		}
	})
}

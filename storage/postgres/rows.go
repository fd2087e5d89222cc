package postgres

import (
	"time"

	"github.com/uptrace/bun"
)

// SyncColumns are the bookkeeping columns every mirrored table has: the
// original's mongo_id/sync_status/last_sync_at/sync_error, plus the version
// of the MongoDB document the row holds, which guards every upsert.
type SyncColumns struct {
	ID         int64     `bun:"id,pk,autoincrement"`
	MongoID    string    `bun:"mongo_id,type:varchar(24),notnull,unique"`
	SyncStatus string    `bun:"sync_status,type:varchar(20),notnull,default:'SYNCED'"`
	LastSyncAt time.Time `bun:"last_sync_at,notnull,default:current_timestamp"`
	SyncError  *string   `bun:"sync_error"`
	Version    int64     `bun:"version,notnull,default:0"`
}

// Sync returns the columns, so code holding any row struct reaches them.
func (c *SyncColumns) Sync() *SyncColumns { return c }

// The row structs of the mirrored collections (rows_gen.go) are declared
// in storage/schema; the child tables of a task are here.

// TaskLabelRow is one label of a task (the junction the original left empty).
type TaskLabelRow struct {
	bun.BaseModel `bun:"table:postgres_task_labels"`
	ID            int64     `bun:"id,pk,autoincrement"`
	TaskID        int64     `bun:"task_id,notnull"`
	LabelMongoID  string    `bun:"label_mongo_id,type:varchar(24),notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// DeferredDetailsRow is the deferral of a task, one-to-one.
type DeferredDetailsRow struct {
	bun.BaseModel `bun:"table:postgres_deferred_details"`
	ID            int64      `bun:"id,pk,autoincrement"`
	TaskID        int64      `bun:"task_id,notnull,unique"`
	DeferredAt    *time.Time `bun:"deferred_at"`
	DeferredTill  *time.Time `bun:"deferred_till"`
	DeferredBy    *string    `bun:"deferred_by,type:varchar(255)"`
	CreatedAt     time.Time  `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt     time.Time  `bun:"updated_at,notnull,default:current_timestamp"`
}

// Package mirror keeps the PostgreSQL mirror (the original service's
// postgres_* tables) in step with MongoDB, the source of truth.
//
// The write contract: after every MongoDB write, the storage facade hands the
// document's whole current state to [Mirror.Upsert]. The upsert is
// idempotent and guarded by the document's version, which MongoDB bumps on
// every write: a row is inserted, or overwritten only by a strictly newer
// version, so retries, replays and out-of-order applies converge on the
// newest document and never go back. A task's labels and deferral live in
// child tables that are rewritten in the same PostgreSQL transaction as the
// task's row, and only when that row was written. Hard-deleted documents are
// removed with [Mirror.Delete]. Every mirrored field is copied as the
// document holds it (see mapping.go), and the same mapping serves to compare
// documents with rows ([Diff]).
//
// Versions: an equal version is never rewritten. Documents the original
// service wrote have version 0; they are inserted where the mirror has no
// row, and a version-0 row (the original mirror's) is overwritten only once
// `todo migrate normalize` has given the document a version (see upsertRow).
//
// An upsert can fail on a constraint other than mongo_id (a label name or a
// membership that another, not yet mirrored, write still holds): the error is
// returned and the caller retries later, when the other write has landed.
package mirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/todo-backend/todo/storage/postgres"
)

// ErrNoRow is returned by Row when the mirror has no row for the document.
var ErrNoRow = errors.New("mirror: no row")

// MongoDB collection names (SPEC §6.5), as the original service named them.
const (
	Users                   = "users"
	Tasks                   = "tasks"
	TaskDetails             = "task_details"
	Teams                   = "teams"
	UserTeamDetails         = "user_team_details"
	Labels                  = "labels"
	Roles                   = "roles"
	UserRoles               = "user_roles"
	Watchlist               = "watchlist"
	AuditLogs               = "audit_logs"
	TeamCreationInviteCodes = "team_creation_invite_codes"
)

// deref turns a non-nil pointer to a document into the document.
func deref(doc any) any {
	v := reflect.ValueOf(doc)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return doc
}

// Mirror writes documents to the mirror database.
type Mirror struct {
	db *bun.DB
	// reads is where the read paths (reads.go) read: db on PostgreSQL, a
	// pool of readers beside the writer on SQLite.
	reads *bun.DB
	now   func() time.Time
}

// New returns a Mirror writing to db, which must be migrated.
func New(db *postgres.DB) *Mirror {
	return &Mirror{db: db.Bun, reads: db.Reads, now: time.Now}
}

// Table returns the mirror table of a collection, or "" if it is not
// mirrored.
func Table(collection string) string {
	typ, ok := rowType(collection)
	if !ok {
		return ""
	}
	return meta.Get(typ).Name
}

// Upsert writes one document's current state, unless the row already holds
// the same or a newer version; applied reports whether it wrote.
func (m *Mirror) Upsert(ctx context.Context, doc any) (applied bool, err error) {
	rec, err := Map(doc)
	if err != nil {
		return false, err
	}
	if rec.Collection != Tasks && rec.Collection != TaskDetails {
		applied, err = m.upsertIn(ctx, m.db, rec)
	} else {
		err = m.db.RunInTx(ctx, m.writeTx(), func(ctx context.Context, tx bun.Tx) error {
			applied, err = m.upsertIn(ctx, tx, rec)
			return err
		})
	}
	if err != nil {
		return false, fmt.Errorf("mirror: upsert %s %s: %w", rec.Collection, rec.sync().MongoID, err)
	}
	return applied, nil
}

// upsertIn writes a mapped document, and a task's children when its row
// was written, with db (a transaction for tasks).
func (m *Mirror) upsertIn(ctx context.Context, db bun.IDB, rec Record) (bool, error) {
	return m.writeIn(ctx, db, rec, false)
}

func (m *Mirror) writeIn(ctx context.Context, db bun.IDB, rec Record, repair bool) (bool, error) {
	now := at(m.now())
	sc := rec.sync()
	sc.SyncStatus, sc.LastSyncAt, sc.SyncError = "SYNCED", now, nil
	id, applied, fresh, err := upsertRow(ctx, db, rec.Row, repair)
	if err != nil || !applied {
		return applied, err
	}
	if a, ok := rec.Row.(*postgres.TaskAssignmentRow); ok {
		return true, supersede(ctx, db, a)
	}
	if rec.Collection != Tasks {
		return true, nil
	}
	if err := syncLabels(ctx, db, id, rec.Labels, now, fresh); err != nil {
		return false, err
	}
	return true, syncDeferral(ctx, db, id, rec.Deferred, now, fresh)
}

// Change is one document to bring into the mirror: Doc is its current
// state, or nil when it no longer exists (the row is deleted).
type Change struct {
	Collection string
	ID         string
	Doc        any
}

// Replace writes a document's row also when the row holds the same version
// (or deletes it when the document is gone): the repair of verify --repair
// and of an admin's resyncDocument, for a row with the right version and
// wrong values. It never writes over a newer version, so the caller reads
// the document just before: a repair cannot move a row backwards.
// It reports whether it wrote (false when the row holds a newer version).
func (m *Mirror) Replace(ctx context.Context, c Change) (wrote bool, err error) {
	err = m.db.RunInTx(ctx, m.writeTx(), func(ctx context.Context, tx bun.Tx) error {
		if c.Doc == nil {
			wrote = true
			return deleteIn(ctx, tx, c.Collection, c.ID)
		}
		rec, err := Map(c.Doc)
		if err != nil {
			return fmt.Errorf("%w: %w", errUnmappable, err)
		}
		if err := storable(rec); err != nil {
			return err
		}
		wrote, err = m.writeIn(ctx, tx, rec, true)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("mirror: replace %s %s: %w", c.Collection, c.ID, err)
	}
	return wrote, nil
}

// Stats reads each table's row count and latest sync.
func (m *Mirror) Stats(ctx context.Context) (map[string]TableStats, error) {
	out := map[string]TableStats{}
	for _, coll := range Collections {
		var n int
		var last any // a time on PostgreSQL, text on SQLite
		err := m.db.NewSelect().Model(reflect.New(byCollection[coll].row).Interface()).
			ColumnExpr("COUNT(*), MAX(last_sync_at)").Scan(ctx, &n, &last)
		if noTable(err) {
			out[coll] = TableStats{} // not migrated yet: an empty mirror
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mirror: stats of %s: %w", coll, err)
		}
		st := TableStats{Rows: n}
		if t, ok := asTime(last); ok {
			st.LastSyncAt = &t
		}
		out[coll] = st
	}
	return out, nil
}

// ApplyAll applies changes in one transaction: one round trip of commits
// for a whole operation's documents. Each upsert keeps its version guard.
func (m *Mirror) ApplyAll(ctx context.Context, changes []Change) error {
	_, err := m.ApplyCount(ctx, changes)
	return err
}

// ApplyCount is ApplyAll that also reports how many rows it wrote (the
// others the version guard kept as they were).
func (m *Mirror) ApplyCount(ctx context.Context, changes []Change) (int, error) {
	if len(changes) == 0 {
		return 0, nil
	}
	written := 0
	err := m.db.RunInTx(ctx, m.writeTx(), func(ctx context.Context, tx bun.Tx) error {
		written = 0
		for _, c := range changes {
			if c.Doc == nil {
				if err := deleteIn(ctx, tx, c.Collection, c.ID); err != nil {
					return err
				}
				continue
			}
			rec, err := Map(c.Doc)
			if err != nil {
				return fmt.Errorf("%w: %w", errUnmappable, err)
			}
			if err := storable(rec); err != nil {
				return err
			}
			applied, err := m.upsertIn(ctx, tx, rec)
			if err != nil {
				return fmt.Errorf("%s %s: %w", c.Collection, c.ID, err)
			}
			if applied {
				written++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mirror: apply: %w", err)
	}
	return written, nil
}

// writeTx are the options of a write transaction. On PostgreSQL it is READ
// COMMITTED whatever the server's default: there a conflicting upsert waits
// for the other transaction and then applies its guard to the committed row,
// where a stricter level would fail it with a serialization error instead.
func (m *Mirror) writeTx() *sql.TxOptions {
	if m.db.Dialect().Name() != dialect.PG {
		return nil
	}
	return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
}

// Delete removes the row of a hard-deleted document, a task's child rows
// first (a mirror made by the original has foreign keys without cascade). A
// missing row is not an error.
func (m *Mirror) Delete(ctx context.Context, collection, mongoID string) error {
	var err error
	if collection != Tasks {
		err = deleteIn(ctx, m.db, collection, mongoID)
	} else {
		err = m.db.RunInTx(ctx, m.writeTx(), func(ctx context.Context, tx bun.Tx) error {
			return deleteIn(ctx, tx, collection, mongoID)
		})
	}
	if err != nil {
		return fmt.Errorf("mirror: delete %s %s: %w", collection, mongoID, err)
	}
	return nil
}

// deleteIn deletes a row with db, a task's children first (in a
// transaction for tasks).
func deleteIn(ctx context.Context, db bun.IDB, collection, mongoID string) error {
	typ, ok := rowType(collection)
	if !ok {
		return fmt.Errorf("mirror: delete: %q is not a mirrored collection", collection)
	}
	if collection == Tasks {
		task := db.NewSelect().Model((*postgres.TaskRow)(nil)).Column("id").Where("mongo_id = ?", mongoID)
		for _, child := range []any{(*postgres.TaskLabelRow)(nil), (*postgres.DeferredDetailsRow)(nil)} {
			if _, err := db.NewDelete().Model(child).Where("task_id IN (?)", task).Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := db.NewDelete().Model(reflect.New(typ).Interface()).Where("mongo_id = ?", mongoID).Exec(ctx)
	return err
}

// Row reads the row of a document back, as column → value: NULL is nil,
// other values are the row struct's (strings, ints, bools, UTC times). A
// task's row also has "labels" (sorted []string) and "deferred" (nil, or a
// map of deferred_at, deferred_till and deferred_by). A task and its parts
// are read from one snapshot, so a concurrent upsert cannot tear them.
func (m *Mirror) Row(ctx context.Context, collection, mongoID string) (map[string]any, error) {
	typ, ok := rowType(collection)
	if !ok {
		return nil, fmt.Errorf("mirror: row: %q is not a mirrored collection", collection)
	}
	var opts *sql.TxOptions // SQLite: a transaction is a snapshot already
	if m.db.Dialect().Name() == dialect.PG {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	var out map[string]any
	err := m.db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		row := reflect.New(typ)
		if err := tx.NewSelect().Model(row.Interface()).Where("mongo_id = ?", mongoID).Scan(ctx); err != nil {
			return err
		}
		out = columnValues(m.db.Table(typ), row.Elem(), true)
		task, ok := row.Interface().(*postgres.TaskRow)
		if !ok {
			return nil
		}
		labels, deferred, err := taskChildren(ctx, tx, task.ID)
		out["labels"], out["deferred"] = labels, deferredValues(deferred)
		return err
	})
	if errors.Is(err, errNoRows) {
		return nil, ErrNoRow
	}
	if err != nil {
		return nil, fmt.Errorf("mirror: row %s %s: %w", collection, mongoID, err)
	}
	return out, nil
}

func taskChildren(ctx context.Context, db bun.IDB, taskID int64) ([]string, *postgres.DeferredDetailsRow, error) {
	labels := []string{}
	err := db.NewSelect().Model((*postgres.TaskLabelRow)(nil)).Column("label_mongo_id").
		Where("task_id = ?", taskID).Scan(ctx, &labels)
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(labels) // in Go: the database's collation may order otherwise
	var d postgres.DeferredDetailsRow
	err = db.NewSelect().Model(&d).Where("task_id = ?", taskID).Scan(ctx)
	if errors.Is(err, errNoRows) {
		return labels, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("deferral: %w", err)
	}
	return labels, &d, nil
}

// asTime reads a timestamp a driver returned as a time or as text.
func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), true
	case []byte:
		return asTime(string(t))
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// Ping checks that the mirror database answers.
func (m *Mirror) Ping(ctx context.Context) error { return m.db.PingContext(ctx) }

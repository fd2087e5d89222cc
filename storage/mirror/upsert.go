package mirror

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"

	"github.com/todo-backend/todo/storage/postgres"
)

var errNoRows = sql.ErrNoRows

// upsertRow inserts row (a pointer to a row struct with SyncColumns), or
// overwrites the row with its mongo_id only if that one holds a lower
// version; with repair also one holding the same version (an admin's repair
// of a row with the right version and wrong values), never a newer one, so
// a repair that read a document before a later write cannot move its row
// back. It returns the row's id when it wrote, and applied=false when the
// guard kept the row.
//
// The guard is strict: an equal version is not rewritten. Versions are
// bumped by every MongoDB write, so an equal version means the same content
// and skipping it is what makes replays free. Documents written by the
// original service all have version 0, and so do rows of the original
// mirror, whose content is known to be wrong (timestamps, labels, soft
// deletes): "0 ≤ 0" would repair those, but would also let any two readings
// of an unversioned document overwrite each other in either order. A version-0
// document is still inserted where no row exists; to overwrite a version-0
// row, `todo migrate normalize` gives the document version 1.
//
// fresh reports that the row was inserted, not updated (on PostgreSQL: a
// row version that no transaction locked, xmax = 0, is a new row), so it
// has no children yet; on SQLite it is never known and always false.
func upsertRow(ctx context.Context, db bun.IDB, row any, repair bool) (id int64, applied, fresh bool, err error) {
	table := db.Dialect().Tables().Get(reflect.TypeOf(row).Elem())
	q := db.NewInsert().Model(row)
	cols := make([]string, 0, len(table.Fields))
	for _, f := range table.Fields {
		if f.IsPK {
			continue // the autoincrement id is the database's
		}
		cols = append(cols, f.Name)
		if f.Name != "mongo_id" {
			q = q.Set("? = EXCLUDED.?", bun.Ident(f.Name), bun.Ident(f.Name))
		}
	}
	q = literalValues(q, table, reflect.ValueOf(row).Elem())
	q = q.Column(cols...).On("CONFLICT (mongo_id) DO UPDATE")
	if repair {
		q = q.Where("?TableAlias.version <= EXCLUDED.version")
	} else {
		q = q.Where("?TableAlias.version < EXCLUDED.version")
	}
	if db.Dialect().Name() == dialect.PG {
		err = q.Returning("id, (xmax = 0)").Scan(ctx, &id, &fresh)
	} else {
		err = q.Returning("id").Scan(ctx, &id)
	}
	if errors.Is(err, errNoRows) {
		return 0, false, false, nil // the guard held: no row was inserted or updated
	}
	if err != nil {
		return 0, false, false, err
	}
	return id, true, fresh, nil
}

// literalValues makes the insert write every value as it is in the struct.
//
// bun writes DEFAULT (PostgreSQL) or the tag's default, or leaves the column
// out (SQLite), for a field holding Go's zero value when its tag has a
// `default:`: a label color "" would become '#000000', a role scope ""
// 'GLOBAL', a task priority 0 3. The mirror copies documents, so the row must
// hold what the document holds. The defaults stay in rows.go because the
// migrations use them for the table DDL and to add NOT NULL columns to a
// mirror made by the original service; the write path overrides them here,
// and a nil pointer is written as NULL.
func literalValues(q *bun.InsertQuery, table *schema.Table, strct reflect.Value) *bun.InsertQuery {
	for _, f := range table.Fields {
		switch {
		case f.IsPK:
		case f.IsPtr && f.HasNilValue(strct):
			q = q.Value(f.Name, "NULL")
		case f.HasZeroValue(strct) && (f.NullZero || f.SQLDefault != ""):
			q = q.Value(f.Name, "?", f.Value(strct).Interface())
		}
	}
	return q
}

// syncLabels makes the task's label rows exactly labels, keeping the rows
// (and their created_at) of labels it already had.
// A fresh row (just inserted) has none to delete.
func syncLabels(ctx context.Context, tx bun.IDB, taskID int64, labels []string, now time.Time, fresh bool) error {
	if !fresh {
		del := tx.NewDelete().Model((*postgres.TaskLabelRow)(nil)).Where("task_id = ?", taskID)
		if len(labels) > 0 {
			del = del.Where("label_mongo_id NOT IN (?)", bun.List(labels))
		}
		if _, err := del.Exec(ctx); err != nil {
			return err
		}
	}
	if len(labels) == 0 {
		return nil
	}
	rows := make([]postgres.TaskLabelRow, len(labels))
	for i, l := range labels {
		rows[i] = postgres.TaskLabelRow{TaskID: taskID, LabelMongoID: l, CreatedAt: now}
	}
	_, err := tx.NewInsert().Model(&rows).Column("task_id", "label_mongo_id", "created_at").
		On("CONFLICT (task_id, label_mongo_id) DO NOTHING").Exec(ctx)
	return err
}

// syncDeferral writes the task's deferral row, or deletes it when the task
// has none (a fresh row has none to delete).
func syncDeferral(ctx context.Context, tx bun.IDB, taskID int64, d *postgres.DeferredDetailsRow, now time.Time, fresh bool) error {
	if d == nil && fresh {
		return nil
	}
	if d == nil {
		_, err := tx.NewDelete().Model((*postgres.DeferredDetailsRow)(nil)).Where("task_id = ?", taskID).Exec(ctx)
		return err
	}
	row := *d
	row.TaskID, row.CreatedAt, row.UpdatedAt = taskID, now, now
	q := tx.NewInsert().Model(&row).
		Column("task_id", "deferred_at", "deferred_till", "deferred_by", "created_at", "updated_at").
		On("CONFLICT (task_id) DO UPDATE")
	for _, c := range []string{"deferred_at", "deferred_till", "deferred_by", "updated_at"} {
		q = q.Set("? = EXCLUDED.?", bun.Ident(c), bun.Ident(c))
	}
	_, err := literalValues(q, tx.Dialect().Tables().Get(reflect.TypeOf(row)), reflect.ValueOf(&row).Elem()).Exec(ctx)
	return err
}

// supersede ends, in the mirror, the task's assignments that an active
// assignment replaced. MongoDB never holds two active assignments of a task
// (an assignment is created active, after the one it replaces was ended,
// and never made active again), so every assignment of the task created
// before an active one is ended there. The mirror applies operations one
// at a time, and not always in their order (one is retried while a later
// one lands, a request applies its own ahead of a worker's backlog): without
// this, the row of an ended assignment whose ending is still on its way
// would show two active ones, a state MongoDB never had. The ended rows
// keep their version, so the ending's own write still lands on them.
func supersede(ctx context.Context, db bun.IDB, a *postgres.TaskAssignmentRow) error {
	if !a.IsActive {
		return nil
	}
	_, err := db.NewUpdate().Model((*postgres.TaskAssignmentRow)(nil)).Set("is_active = ?", false).
		Where("task_mongo_id = ?", a.TaskID).Where("is_active").Where("mongo_id <> ?", a.MongoID).
		Where("created_at <= ?", a.CreatedAt).Exec(ctx)
	return err
}

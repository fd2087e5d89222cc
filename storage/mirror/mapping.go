package mirror

import (
	"slices"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/postgres"
)

// The mapping between documents and rows, both ways, is generated from
// storage/schema into mapping_gen.go (registry.go says which pair is which
// collection); a task's labels and deferral, kept in child tables, are
// mapped here. It is used to write the mirror, to read it and to compare it
// with MongoDB. They are pure: they leave
// the bookkeeping columns other than mongo_id and version unset.
//
// Rules, the same for every collection:
//   - A model string whose column is nullable maps "" to NULL: the model has
//     no other way to say "absent" (no team, no updater), and unique columns
//     (google_id, invite_code) must not collide on "".
//   - A model *string keeps nil (NULL) and "" apart.
//   - A NOT NULL column gets the model's value as is, zero values included
//     (a label color "", a task priority 0): see literalValues in upsert.go.
//   - Times are kept to the microsecond, in UTC, as both PostgreSQL and bun's
//     SQLite encoding store them; MongoDB dates are milliseconds, so nothing
//     is lost. A zero time in a nullable column (a deferral's dates) is NULL.

// Record is a document mapped to the mirror: its row and, for tasks, the rows
// of its parts.
type Record struct {
	Collection string
	// Row points at the postgres row struct of the collection.
	Row any
	// Labels are a task's label ids, sorted and without duplicates: the
	// junction table has no order and one row per label.
	Labels []string
	// Deferred is a task's deferral; nil when it has none.
	Deferred *postgres.DeferredDetailsRow
}

func syncCols(id string, version int64) postgres.SyncColumns {
	return postgres.SyncColumns{MongoID: id, Version: version}
}

// taskRecord maps a task: its row, its label ids (sorted, unique) and its
// deferral (nil when it has none).
func taskRecord(t models.Task) Record {
	labels := slices.Compact(slices.Sorted(slices.Values(t.LabelIDs)))
	if labels == nil {
		labels = []string{}
	}
	var deferred *postgres.DeferredDetailsRow
	if d := t.DeferredDetails; d != nil {
		deferred = &postgres.DeferredDetailsRow{DeferredAt: atNonZero(d.DeferredAt),
			DeferredTill: atNonZero(d.DeferredTill), DeferredBy: null(d.DeferredBy)}
	}
	return Record{Row: TaskRow(t), Labels: labels, Deferred: deferred}
}

// taskOf maps a task's rows back. Its label ids come back sorted: the
// junction has no order.
func taskOf(r *postgres.TaskRow, labels []string, deferred *postgres.DeferredDetailsRow) models.Task {
	t := TaskOf(r)
	t.LabelIDs = slices.Clone(labels)
	if t.LabelIDs == nil {
		t.LabelIDs = []string{}
	}
	if d := deferred; d != nil {
		t.DeferredDetails = &models.DeferredDetails{DeferredAt: zeroIfNil(d.DeferredAt),
			DeferredTill: zeroIfNil(d.DeferredTill), DeferredBy: str(d.DeferredBy)}
	}
	return t
}

// null maps "" to NULL.
func null(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// str maps NULL back to "".
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func zeroIfNil(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func copyPtr(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

// at is a time as the mirror stores it.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func atPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := at(*t)
	return &v
}

func atNonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return atPtr(&t)
}

// Version is the document version the record carries.
func (r Record) Version() int64 { return r.sync().Version }

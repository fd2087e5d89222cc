package mirror

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"

	"github.com/todo-backend/todo/storage/postgres"
)

// meta describes the row structs; column names are the same in both
// dialects, so one dialect's tables serve the pure functions below.
var meta = pgdialect.New().Tables()

// bookkeeping are the columns that say how the row was synced, not what the
// document holds; Values and Diff leave them out.
var bookkeeping = map[string]bool{"id": true, "sync_status": true, "last_sync_at": true, "sync_error": true}

// Values returns what the record puts in the mirror, in the form Row reads
// it back: every column but the bookkeeping ones (mongo_id and version are
// in), plus "labels" and "deferred" for a task.
func (r Record) Values() map[string]any {
	v := reflect.ValueOf(r.Row).Elem()
	out := columnValues(meta.Get(v.Type()), v, false)
	if r.Collection == Tasks {
		out["labels"], out["deferred"] = slices.Clone(r.Labels), deferredValues(r.Deferred)
	}
	return out
}

// Diff compares a document with its row as Row returned it, on every mapped
// column, and describes each difference as "column: got <row>, want <doc>".
// None means the row holds the document.
func Diff(doc any, row map[string]any) ([]string, error) {
	rec, err := Map(doc)
	if err != nil {
		return nil, err
	}
	want := rec.Values()
	var diffs []string
	for _, col := range slices.Sorted(maps.Keys(want)) {
		got, ok := row[col]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: missing, want %s", col, show(want[col])))
		case !equal(got, want[col]):
			diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", col, show(got), show(want[col])))
		}
	}
	return diffs, nil
}

// columnValues turns a row struct into column → value: NULL as nil,
// pointers dereferenced, times in UTC.
func columnValues(table *schema.Table, strct reflect.Value, withBookkeeping bool) map[string]any {
	out := make(map[string]any, len(table.Fields))
	for _, f := range table.Fields {
		if !withBookkeeping && bookkeeping[f.Name] {
			continue
		}
		out[f.Name] = plain(f.Value(strct))
	}
	return out
}

func plain(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.UTC()
	}
	return v.Interface()
}

// deferredValues is a deferral as Row shows it: nil, or its three fields.
func deferredValues(d *postgres.DeferredDetailsRow) any {
	if d == nil {
		return nil
	}
	return map[string]any{
		"deferred_at":   plain(reflect.ValueOf(d.DeferredAt)),
		"deferred_till": plain(reflect.ValueOf(d.DeferredTill)),
		"deferred_by":   plain(reflect.ValueOf(d.DeferredBy)),
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			if yv, ok := y[k]; !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// show formats a value for a difference: NULL, quoted strings, exact times.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+"="+show(x[k]))
		}
		return fmt.Sprint(parts)
	}
	return fmt.Sprintf("%v", v)
}

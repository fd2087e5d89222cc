package mirror

import (
	"fmt"
	"reflect"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/postgres"
)

// kind is one mirrored collection: its document type (a models value), its
// row struct and the mapping both ways (mapping_gen.go, generated from
// storage/schema, and mapping.go). It is the one place
// that says which collection is which; Collection, Map, Doc, Table and the
// comparison all read it, and the mongo store's decoders are keyed by the
// same names.
type kind struct {
	collection string
	doc        reflect.Type
	row        reflect.Type
	toRecord   func(doc any) Record
	fromRecord func(Record) any
}

// entry builds the kind of a collection whose document is one row.
func entry[D any, R any](coll string, to func(D) *R, from func(*R) D) kind {
	return kind{collection: coll, doc: reflect.TypeFor[D](), row: reflect.TypeFor[R](),
		toRecord:   func(doc any) Record { return Record{Row: to(doc.(D))} },
		fromRecord: func(r Record) any { return from(r.Row.(*R)) }}
}

// registry lists the mirrored collections, in Collections' order.
var registry = []kind{
	entry(Users, UserRow, UserOf),
	{collection: Tasks, doc: reflect.TypeFor[models.Task](), row: reflect.TypeFor[postgres.TaskRow](),
		toRecord:   func(doc any) Record { return taskRecord(doc.(models.Task)) },
		fromRecord: func(r Record) any { return taskOf(r.Row.(*postgres.TaskRow), r.Labels, r.Deferred) }},
	entry(TaskDetails, TaskAssignmentRow, TaskAssignmentOf),
	entry(Teams, TeamRow, TeamOf),
	entry(UserTeamDetails, TeamMembershipRow, TeamMembershipOf),
	entry(Labels, LabelRow, LabelOf),
	entry(Roles, RoleRow, RoleOf),
	entry(UserRoles, UserRoleRow, UserRoleOf),
	entry(Watchlist, WatchlistEntryRow, WatchlistEntryOf),
	entry(AuditLogs, AuditLogRow, AuditLogOf),
	entry(TeamCreationInviteCodes, TeamCreationInviteCodeRow, TeamCreationInviteCodeOf),
}

var (
	byCollection = map[string]*kind{}
	byDoc        = map[reflect.Type]*kind{}
)

func init() {
	for i := range registry {
		k := &registry[i]
		byCollection[k.collection], byDoc[k.doc] = k, k
	}
}

// Collections lists the mirrored collections.
var Collections = func() []string {
	out := make([]string, len(registry))
	for i, k := range registry {
		out[i] = k.collection
	}
	return out
}()

// Collection returns the MongoDB collection name of a document (a models
// value or a pointer to one), or "" if it is not mirrored.
func Collection(doc any) string {
	if k := byDoc[reflect.TypeOf(deref(doc))]; k != nil {
		return k.collection
	}
	return ""
}

// rowType is the row struct of a collection; ok is false if it is not
// mirrored.
func rowType(coll string) (reflect.Type, bool) {
	k := byCollection[coll]
	if k == nil {
		return nil, false
	}
	return k.row, true
}

// Map maps a document (a models value, or a pointer to one) to its record.
func Map(doc any) (Record, error) {
	d := deref(doc)
	k := byDoc[reflect.TypeOf(d)]
	if k == nil {
		return Record{}, fmt.Errorf("mirror: %T is not a mirrored document", doc)
	}
	rec := k.toRecord(d)
	rec.Collection = k.collection
	if id := rec.sync().MongoID; len(id) == 0 || len(id) > 24 {
		return Record{}, fmt.Errorf("mirror: %s document id %q: want 1 to 24 characters", rec.Collection, id)
	}
	return rec, nil
}

// Doc maps a record read from the mirror back to its document (a models
// value): what a read served from the mirror returns.
func Doc(rec Record) (any, error) {
	k := byCollection[rec.Collection]
	if k == nil || reflect.TypeOf(rec.Row) != reflect.PointerTo(k.row) {
		return nil, fmt.Errorf("mirror: %s record of %T is not a mirrored row", rec.Collection, rec.Row)
	}
	return k.fromRecord(rec), nil
}

// sync returns the record's bookkeeping columns, for Upsert to fill in.
func (r Record) sync() *postgres.SyncColumns {
	return r.Row.(interface{ Sync() *postgres.SyncColumns }).Sync()
}

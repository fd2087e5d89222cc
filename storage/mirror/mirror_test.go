package mirror

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/postgres"
)

// Every model, fully populated and then with its optional fields empty, is
// written and read back column by column.
func TestUpsertRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, m *Mirror, _ *postgres.DB) {
		for _, set := range []struct {
			name     string
			fixtures []fixture
		}{{"full", fullFixtures()}, {"sparse", sparseFixtures()}} {
			for _, f := range set.fixtures {
				t.Run(set.name+" "+f.name, func(t *testing.T) {
					before := time.Now()
					mustUpsert(t, m, f.doc, true)
					after := time.Now()
					row := mustRow(t, m, Collection(f.doc), f.id)
					checkColumns(t, row, f.want)
					checkSynced(t, row, before, after)
					diffs, err := Diff(f.doc, row)
					if err != nil || len(diffs) > 0 {
						t.Errorf("Diff(document, its row): got %q, %v, want no difference", diffs, err)
					}
				})
			}
		}
	})
}

// Every field of every model reaches the mirror: the full fixtures set all of
// them, and changing any one of them makes the document differ from its row.
func TestEveryFieldIsMapped(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, m *Mirror, _ *postgres.DB) {
		for _, f := range fullFixtures() {
			t.Run(f.name, func(t *testing.T) {
				for _, path := range zeroFields(reflect.ValueOf(f.doc), reflect.TypeOf(f.doc).Name()) {
					t.Errorf("fixture leaves %s zero: set every field", path)
				}
				mustUpsert(t, m, f.doc, true)
				row := mustRow(t, m, Collection(f.doc), f.id)
				for path, changed := range variants(f.doc) {
					diffs, err := Diff(changed, row)
					if err != nil {
						t.Fatalf("Diff with %s changed: %v", path, err)
					}
					if len(diffs) == 0 {
						t.Errorf("changing %s: got no difference from the row, want one (is it mirrored?)", path)
					}
				}
			})
		}
	})
}

// zeroFields lists the fields of a struct (and of the structs it points to)
// that hold their zero value.
func zeroFields(v reflect.Value, prefix string) []string {
	var out []string
	for i := range v.NumField() {
		fv, name := v.Field(i), prefix+"."+v.Type().Field(i).Name
		switch {
		case fv.IsZero():
			out = append(out, name)
		case fv.Kind() == reflect.Pointer && fv.Elem().Kind() == reflect.Struct && fv.Type().Elem() != timeType:
			out = append(out, zeroFields(fv.Elem(), name)...)
		}
	}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// variants returns copies of doc with one field changed each, keyed by the
// field's path; the fields of a pointed-to struct (a task's deferral) are
// changed one at a time.
func variants(doc any) map[string]any {
	out := map[string]any{}
	typ := reflect.TypeOf(doc)
	for i := range typ.NumField() {
		field := typ.Field(i)
		if field.Type.Kind() == reflect.Pointer && field.Type.Elem().Kind() == reflect.Struct &&
			field.Type.Elem() != timeType {
			for j := range field.Type.Elem().NumField() {
				v := reflect.New(typ).Elem()
				v.Set(reflect.ValueOf(doc))
				inner := reflect.New(field.Type.Elem())
				inner.Elem().Set(v.Field(i).Elem())
				change(inner.Elem().Field(j))
				v.Field(i).Set(inner)
				out[field.Name+"."+field.Type.Elem().Field(j).Name] = v.Interface()
			}
			continue
		}
		v := reflect.New(typ).Elem()
		v.Set(reflect.ValueOf(doc))
		change(v.Field(i))
		out[field.Name] = v.Interface()
	}
	return out
}

// change sets v to a different value of its type, without touching what a
// pointer or slice in it shares with the original.
func change(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(v.Elem())
		change(p.Elem())
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 0, v.Len()+1)
		s = reflect.AppendSlice(s, v)
		v.Set(reflect.Append(s, reflect.ValueOf("65a0000000000000000009ff").Convert(v.Type().Elem())))
	case reflect.String:
		// Same length (ids stay 24 characters), last character changed.
		b := []byte(v.String())
		if b[len(b)-1] == 'a' {
			b[len(b)-1] = 'b'
		} else {
			b[len(b)-1] = 'a'
		}
		v.SetString(string(b))
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Struct:
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Millisecond)))
	default:
		panic("change: unhandled kind " + v.Kind().String())
	}
}

func TestCollection(t *testing.T) {
	t.Parallel()
	db := dialects[1].open(t)
	m := New(db)
	want := map[string]string{
		"user": Users, "task": Tasks, "task assignment": TaskDetails, "team": Teams,
		"team membership": UserTeamDetails, "label": Labels, "role": Roles, "user role": UserRoles,
		"watchlist entry": Watchlist, "audit log": AuditLogs, "team creation invite code": TeamCreationInviteCodes,
	}
	tables := map[string]string{
		Users: "postgres_users", Tasks: "postgres_tasks", TaskDetails: "postgres_task_assignments",
		Teams: "postgres_teams", UserTeamDetails: "postgres_user_team_details", Labels: "postgres_labels",
		Roles: "postgres_roles", UserRoles: "postgres_user_roles", Watchlist: "postgres_watchlist",
		AuditLogs: "postgres_audit_logs", TeamCreationInviteCodes: "postgres_team_creation_invite_codes",
	}
	for _, f := range fullFixtures() {
		if got := Collection(f.doc); got != want[f.name] {
			t.Errorf("Collection(%T): got %q, want %q", f.doc, got, want[f.name])
		}
		if got := Table(Collection(f.doc)); got != tables[want[f.name]] {
			t.Errorf("Table(%q): got %q, want %q", Collection(f.doc), got, tables[want[f.name]])
		}
	}
	if got := Table("counters"); got != "" {
		t.Errorf("Table(counters): got %q, want \"\"", got)
	}
	if len(Collections) != len(want) {
		t.Errorf("Collections: got %d, want %d", len(Collections), len(want))
	}
	for _, doc := range []any{models.TeamMember{}, "tasks", nil} {
		if got := Collection(doc); got != "" {
			t.Errorf("Collection(%T): got %q, want \"\"", doc, got)
		}
		if _, err := m.Upsert(t.Context(), doc); err == nil {
			t.Errorf("Upsert(%T): got no error, want one", doc)
		}
	}
	if got := Collection(&models.Task{}); got != Tasks {
		t.Errorf("Collection(*models.Task): got %q, want %q", got, Tasks)
	}
	if _, err := m.Upsert(t.Context(), models.Task{Title: "no id"}); err == nil {
		t.Error("Upsert of a task without an id: got no error, want one")
	}
	if _, err := m.Row(t.Context(), "counters", "taskDisplayId"); err == nil || errors.Is(err, ErrNoRow) {
		t.Errorf("Row of an unmirrored collection: got %v, want an error other than ErrNoRow", err)
	}
	if _, err := m.Row(t.Context(), Tasks, idTask); !errors.Is(err, ErrNoRow) {
		t.Errorf("Row of a missing task: got %v, want ErrNoRow", err)
	}
	if err := m.Delete(t.Context(), "counters", "taskDisplayId"); err == nil {
		t.Error("Delete in an unmirrored collection: got no error, want one")
	}
}

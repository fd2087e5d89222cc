package postgres

import (
	"reflect"
	"testing"
	"time"

	"github.com/uptrace/bun"
)

var constraintNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func insert(t *testing.T, db bun.IDB, row any) error {
	t.Helper()
	_, err := db.NewInsert().Model(row).Exec(t.Context())
	return err
}

func mustInsert(t *testing.T, db bun.IDB, row any) {
	t.Helper()
	if err := insert(t, db, row); err != nil {
		t.Fatalf("insert %T: %v", row, err)
	}
}

func TestTaskChildrenCascade(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			runMigrate(t, db, allMigrations)
			tasks := []*TaskRow{
				{SyncColumns: SyncColumns{MongoID: "64b7f1c2a1b2c3d4e5f60701", Version: 1}, Title: "gone",
					CreatedAt: constraintNow, CreatedBy: "system"},
				{SyncColumns: SyncColumns{MongoID: "64b7f1c2a1b2c3d4e5f60702", Version: 1}, Title: "kept",
					CreatedAt: constraintNow, CreatedBy: "system"},
			}
			for _, task := range tasks {
				mustInsert(t, db.Bun, task)
				if task.ID == 0 {
					t.Fatalf("insert task %s: got id 0, want the generated id", task.MongoID)
				}
				for _, label := range []string{"64b7f1c2a1b2c3d4e5f607a1", "64b7f1c2a1b2c3d4e5f607a2"} {
					mustInsert(t, db.Bun, &TaskLabelRow{TaskID: task.ID, LabelMongoID: label})
				}
				mustInsert(t, db.Bun, &DeferredDetailsRow{TaskID: task.ID, DeferredAt: &constraintNow})
			}

			err := insert(t, db.Bun, &TaskLabelRow{TaskID: tasks[1].ID, LabelMongoID: "64b7f1c2a1b2c3d4e5f607a1"})
			if !isUniqueViolation(err) {
				t.Errorf("insert a task's label twice: got error %v, want a unique violation", err)
			}
			err = insert(t, db.Bun, &TaskLabelRow{TaskID: tasks[1].ID + 1000, LabelMongoID: "64b7f1c2a1b2c3d4e5f607a1"})
			if !isForeignKeyViolation(err) {
				t.Errorf("insert a label of a missing task: got error %v, want a foreign key violation", err)
			}

			if _, err := db.Bun.NewDelete().Model(tasks[0]).WherePK().Exec(t.Context()); err != nil {
				t.Fatalf("delete task: %v", err)
			}
			for _, c := range []struct {
				model any
				want  map[int64]int64
			}{
				{(*TaskLabelRow)(nil), map[int64]int64{tasks[0].ID: 0, tasks[1].ID: 2}},
				{(*DeferredDetailsRow)(nil), map[int64]int64{tasks[0].ID: 0, tasks[1].ID: 1}},
			} {
				for taskID, want := range c.want {
					n, err := db.Bun.NewSelect().Model(c.model).Where("task_id = ?", taskID).Count(t.Context())
					if err != nil {
						t.Fatalf("count %T: %v", c.model, err)
					}
					if n != want {
						t.Errorf("%T rows of task %d after deleting task %d: got %d, want %d",
							c.model, taskID, tasks[0].ID, n, want)
					}
				}
			}
		})
	}
}

func TestOneActiveUserRole(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			runMigrate(t, db, allMigrations)
			n := 0
			role := func(scope, team string, active bool) *UserRoleRow {
				n++
				r := &UserRoleRow{SyncColumns: SyncColumns{MongoID: "64b7f1c2a1b2c3d4e5f6" + string(rune('a'+n/26)) +
					string(rune('a'+n%26)) + "00", Version: 1}, UserID: "64b7f1c2a1b2c3d4e5f60799", RoleName: "admin",
					Scope: scope, IsActive: active, CreatedAt: constraintNow, CreatedBy: "system"}
				if team != "" {
					r.TeamID = &team
				}
				return r
			}
			const team1, team2 = "64b7f1c2a1b2c3d4e5f60711", "64b7f1c2a1b2c3d4e5f60712"
			mustInsert(t, db.Bun, role("TEAM", team1, true))
			mustInsert(t, db.Bun, role("GLOBAL", "", true))
			cases := []struct {
				name       string
				row        *UserRoleRow
				wantReject bool
			}{
				{"the same active team role again", role("TEAM", team1, true), true},
				{"the same active global role again (no team)", role("GLOBAL", "", true), true},
				{"an inactive duplicate", role("TEAM", team1, false), false},
				{"a second inactive duplicate", role("TEAM", team1, false), false},
				{"the same role in another team", role("TEAM", team2, true), false},
			}
			for _, c := range cases {
				err := insert(t, db.Bun, c.row)
				if c.wantReject && !isUniqueViolation(err) {
					t.Errorf("%s: got error %v, want a unique violation", c.name, err)
				}
				if !c.wantReject && err != nil {
					t.Errorf("%s: got error %v, want none", c.name, err)
				}
			}
		})
	}
}

// Values equal to Go's zero value are stored as given, not replaced by the
// column's default.
func TestRowsKeepInactiveFlags(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			runMigrate(t, db, allMigrations)
			sync := func(id string) SyncColumns { return SyncColumns{MongoID: id, Version: 1} }
			rows := []any{
				&UserTeamDetailsRow{SyncColumns: sync("64b7f1c2a1b2c3d4e5f60801"), UserID: "u", TeamID: "t",
					CreatedBy: "u", CreatedAt: constraintNow},
				&RoleRow{SyncColumns: sync("64b7f1c2a1b2c3d4e5f60802"), Name: "member", Scope: "TEAM",
					CreatedAt: constraintNow},
				&TaskAssignmentRow{SyncColumns: sync("64b7f1c2a1b2c3d4e5f60803"), TaskID: "t", AssigneeID: "u",
					AssigneeType: "user", CreatedAt: constraintNow, CreatedBy: "u"},
				&WatchlistRow{SyncColumns: sync("64b7f1c2a1b2c3d4e5f60804"), TaskID: "t", UserID: "u", CreatedBy: "u",
					CreatedAt: constraintNow},
				&UserRoleRow{SyncColumns: sync("64b7f1c2a1b2c3d4e5f60805"), UserID: "u", RoleName: "member",
					Scope: "TEAM", CreatedAt: constraintNow, CreatedBy: "u"},
			}
			for _, row := range rows {
				mustInsert(t, db.Bun, row)
				table := db.Bun.Table(reflect.TypeOf(row))
				var active bool
				err := db.Bun.NewSelect().Table(table.Name).Column("is_active").Where("mongo_id = ?",
					reflect.ValueOf(row).Elem().FieldByName("MongoID").String()).Scan(t.Context(), &active)
				if err != nil {
					t.Fatalf("select %s: %v", table.Name, err)
				}
				if active {
					t.Errorf("%s inserted with is_active false: got true, want false", table.Name)
				}
			}
		})
	}
}

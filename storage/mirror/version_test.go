package mirror

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/postgres"
)

// task builds a version of one task whose content tells the version apart.
func task(version int64, labels []string, deferredTill *time.Time) models.Task {
	t := models.Task{ID: idTask, Title: fmt.Sprintf("v%d", version), Priority: models.PriorityMedium,
		Status: models.StatusTodo, LabelIDs: labels, CreatedAt: t0, CreatedBy: idUser, Version: version}
	if deferredTill != nil {
		t.DeferredDetails = &models.DeferredDetails{DeferredAt: t0, DeferredTill: *deferredTill, DeferredBy: idUser}
	}
	return t
}

func checkTask(t *testing.T, m *Mirror, want models.Task) {
	t.Helper()
	row := mustRow(t, m, Tasks, want.ID)
	diffs, err := Diff(want, row)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	for _, d := range diffs {
		t.Errorf("task row after the upserts: %s", d)
	}
}

func count(t *testing.T, db *postgres.DB, model any) int64 {
	t.Helper()
	n, err := db.Bun.NewSelect().Model(model).Count(t.Context())
	if err != nil {
		t.Fatalf("count %T: %v", model, err)
	}
	return n
}

// A newer version overwrites the row and replaces the task's children; an
// older or equal one changes nothing, children included.
func TestVersionGuard(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, m *Mirror, db *postgres.DB) {
		v2 := task(2, []string{idLabelA, idLabelB}, &t2)
		mustUpsert(t, m, v2, true)
		checkTask(t, m, v2)

		// Older and equal versions with other content: skipped.
		mustUpsert(t, m, task(1, []string{idLabel}, nil), false)
		same := task(2, []string{idLabel2}, nil)
		same.Title = "same version, other content"
		mustUpsert(t, m, same, false)
		checkTask(t, m, v2)

		// Newer: labels [a b] → [b c], deferral cleared, its row deleted.
		v3 := task(3, []string{idLabelB, idLabel}, nil)
		mustUpsert(t, m, v3, true)
		checkTask(t, m, v3)
		if n := count(t, db, (*postgres.DeferredDetailsRow)(nil)); n != 0 {
			t.Errorf("deferral rows after the deferral was cleared: got %d, want 0", n)
		}
		if n := count(t, db, (*postgres.TaskLabelRow)(nil)); n != 2 {
			t.Errorf("label rows: got %d, want 2", n)
		}

		// Deferred again, then labels cleared.
		v4 := task(4, nil, &t1)
		mustUpsert(t, m, v4, true)
		checkTask(t, m, v4)
		if n := count(t, db, (*postgres.TaskLabelRow)(nil)); n != 0 {
			t.Errorf("label rows after the labels were cleared: got %d, want 0", n)
		}

		// The guard holds for every collection: a POC change and its replay.
		team := models.Team{ID: idTeam, Name: "Platform", POCID: idUser, CreatedBy: idUser, CreatedAt: t0, Version: 1}
		mustUpsert(t, m, team, true)
		team.POCID, team.Version = idUser2, 2
		mustUpsert(t, m, team, true)
		stale := team
		stale.POCID, stale.Version = idUser, 1
		mustUpsert(t, m, stale, false)
		if got := mustRow(t, m, Teams, idTeam)["poc_id"]; got != idUser2 {
			t.Errorf("poc_id after a stale replay: got %v, want %s", got, idUser2)
		}
	})
}

// Documents the original service wrote carry version 0: inserted when the
// mirror has no row, not rewritten at version 0 (the backfill bumps the
// version to overwrite), overwritten by any later version.
func TestVersionZero(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, m *Mirror, _ *postgres.DB) {
		v0 := task(0, []string{idLabelA}, nil)
		mustUpsert(t, m, v0, true)
		checkTask(t, m, v0)
		again := task(0, []string{idLabelB}, nil)
		again.Title = "rewritten without a version"
		mustUpsert(t, m, again, false)
		checkTask(t, m, v0)
		v1 := task(1, []string{idLabelB}, &t2)
		mustUpsert(t, m, v1, true)
		checkTask(t, m, v1)
	})
}

// A zero value that replaces a set one is written as is, not as the
// column's default: the update path goes through the same literal values.
func TestZeroValuesOverwrite(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, m *Mirror, _ *postgres.DB) {
		label := models.Label{ID: idLabel, Name: "Feature", Color: "#22c55e", CreatedAt: t0, Version: 1}
		role := models.Role{ID: idRole, Name: models.RoleOwner, Scope: models.ScopeTeam, IsActive: true,
			CreatedAt: t0, Version: 1}
		grant := models.UserRole{ID: idUserRole, UserID: idUser, RoleName: models.RoleMember,
			Scope: models.ScopeTeam, TeamID: idTeam, IsActive: true, CreatedBy: idUser, CreatedAt: t0, Version: 1}
		v1 := task(1, nil, nil)
		v1.IsAcknowledged = true
		for _, doc := range []any{label, role, grant, v1} {
			mustUpsert(t, m, doc, true)
		}
		label.Color, label.Version = "", 2
		role.Scope, role.IsActive, role.Version = "", false, 2
		grant.CreatedBy, grant.TeamID, grant.IsActive, grant.Version = "", "", false, 2
		v2 := v1
		v2.Priority, v2.Status, v2.IsAcknowledged, v2.Version = 0, "", false, 2
		for _, c := range []struct {
			doc  any
			id   string
			want map[string]any
		}{
			{label, idLabel, map[string]any{"color": ""}},
			{role, idRole, map[string]any{"scope": "", "is_active": false}},
			{grant, idUserRole, map[string]any{"created_by": "", "team_id": nil, "is_active": false}},
			{v2, idTask, map[string]any{"priority": 0, "status": "", "is_acknowledged": false}},
		} {
			mustUpsert(t, m, c.doc, true)
			row := mustRow(t, m, Collection(c.doc), c.id)
			for col, want := range c.want {
				if got := row[col]; !equal(got, want) {
					t.Errorf("%s %s after setting it to its zero value: got %s, want %s",
						Collection(c.doc), col, show(got), show(want))
				}
			}
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, m *Mirror, db *postgres.DB) {
		gone := task(1, []string{idLabelA, idLabelB}, &t2)
		kept := task(1, []string{idLabelA}, &t2)
		kept.ID = idTask2
		membership := models.TeamMembership{ID: idMember, UserID: idUser, TeamID: idTeam, IsActive: true,
			CreatedBy: idUser, CreatedAt: t0, Version: 1}
		for _, doc := range []any{gone, kept, membership} {
			mustUpsert(t, m, doc, true)
		}
		for range 2 { // the second time the rows are already gone
			if err := m.Delete(t.Context(), Tasks, idTask); err != nil {
				t.Fatalf("Delete task: %v", err)
			}
			if err := m.Delete(t.Context(), UserTeamDetails, idMember); err != nil {
				t.Fatalf("Delete membership: %v", err)
			}
		}
		for _, c := range [][2]string{{Tasks, idTask}, {UserTeamDetails, idMember}} {
			if _, err := m.Row(t.Context(), c[0], c[1]); !errors.Is(err, ErrNoRow) {
				t.Errorf("Row %s %s after Delete: got error %v, want ErrNoRow", c[0], c[1], err)
			}
		}
		checkTask(t, m, kept)
		if n := count(t, db, (*postgres.TaskLabelRow)(nil)); n != 1 {
			t.Errorf("label rows left: got %d, want 1 (the kept task's)", n)
		}
		if n := count(t, db, (*postgres.DeferredDetailsRow)(nil)); n != 1 {
			t.Errorf("deferral rows left: got %d, want 1 (the kept task's)", n)
		}
		// A membership can come back (re-join) once its row is gone.
		membership.ID = idMember2
		mustUpsert(t, m, membership, true)
	})
}

// Writers racing with versions 1..50 of one task in random order leave the
// row at version 50 with version 50's children.
func TestConcurrentUpserts(t *testing.T) {
	t.Parallel()
	const versions, writers = 50, 8
	label := func(n int64) string { return fmt.Sprintf("65a00000000000000000%04x", n) }
	doc := func(v int64) models.Task {
		var till *time.Time
		if v%2 == 0 {
			till = ptr(t0.Add(time.Duration(v) * time.Hour))
		}
		return task(v, []string{label(v), label(v + 1), label(v % 3)}, till)
	}
	forEachDialect(t, func(t *testing.T, m *Mirror, db *postgres.DB) {
		order := make(chan int64, versions)
		for _, i := range rand.Perm(versions) {
			order <- int64(i + 1)
		}
		close(order)
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := 0
		for range writers {
			wg.Go(func() {
				for v := range order {
					ok, err := m.Upsert(t.Context(), doc(v))
					if err != nil {
						t.Errorf("Upsert version %d: %v", v, err)
						continue
					}
					mu.Lock()
					if ok {
						applied++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		checkTask(t, m, doc(versions))
		if applied < 1 || applied > versions {
			t.Errorf("applied upserts: got %d, want 1 to %d", applied, versions)
		}
		if n := count(t, db, (*postgres.TaskLabelRow)(nil)); n != 3 {
			t.Errorf("label rows: got %d, want 3", n)
		}
		if n := count(t, db, (*postgres.DeferredDetailsRow)(nil)); n != 1 {
			t.Errorf("deferral rows: got %d, want 1", n)
		}
	})
}

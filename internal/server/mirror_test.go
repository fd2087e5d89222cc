package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
	"github.com/todo-backend/todo/storage/mirror"
)

// sameRow checks that the mirror row of doc holds exactly doc, version
// included.
func (e *env) sameRow(t *testing.T, collection, id string, doc any) {
	t.Helper()
	row, err := e.mirror.Row(context.Background(), collection, id)
	if err != nil {
		t.Fatalf("%s %s: %v", collection, id, err)
	}
	diffs, err := mirror.Diff(doc, row)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("%s %s: %s", collection, id, d)
	}
}

// TestMutationsReachTheMirror: each mutation's MongoDB write shows up in
// the matching postgres_* row, with the same values and version.
func TestMutationsReachTheMirror(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	ctx := context.Background()
	owner, member := e.person(t, "mo@example.com"), e.person(t, "mm@example.com")
	labels, err := e.store.Labels(ctx, storage.LabelFilter{}, storage.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ CreateTask struct{ ID string } }
	e.must(t, owner, createTask, map[string]any{"in": map[string]any{"title": "Mirror me", "description": "d",
		"labelIds": []string{labels.Edges[0].Node.ID, labels.Edges[1].Node.ID},
		"dueAt":    time.Now().Add(72 * time.Hour).Format(time.RFC3339), "timezone": "Europe/Berlin"}}, &created)
	id := created.CreateTask.ID
	e.must(t, owner, `mutation($id: ID!, $till: Time!) { deferTask(id: $id, deferredTill: $till) { id } }`,
		map[string]any{"id": id, "till": time.Now().Add(24 * time.Hour).Format(time.RFC3339)}, nil)
	check := func(wantVersion int64) models.Task {
		t.Helper()
		task, err := e.store.Task(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Version != wantVersion {
			t.Errorf("task version: got %d, want %d", task.Version, wantVersion)
		}
		e.sameRow(t, mirror.Tasks, id, task)
		return task
	}
	if task := check(2); task.DeferredDetails == nil || len(task.LabelIDs) != 2 {
		t.Fatalf("task: got %+v, want a deferral and two labels", task)
	}
	e.must(t, owner, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Renamed", status: IN_PROGRESS, description: null}) { id } }`,
		map[string]any{"id": id}, nil)
	if task := check(3); task.DeferredDetails != nil || task.Description != nil {
		t.Errorf("after update: got %+v, want deferral and description cleared", task)
	}
	e.must(t, owner, `mutation($id: ID!) { deleteTask(id: $id) { id } }`, map[string]any{"id": id}, nil)
	if task := check(4); !task.IsDeleted {
		t.Error("after delete: not deleted")
	}

	code, err := e.store.GenerateCreationCode(ctx, owner.id, "")
	if err != nil {
		t.Fatal(err)
	}
	team, err := e.store.CreateTeam(ctx, owner.id, storage.NewTeam{Name: "M", POCID: owner.id, MemberIDs: []string{member.id}, CreationCode: code.Code})
	if err != nil {
		t.Fatal(err)
	}
	e.must(t, owner, `mutation($t: ID!, $u: ID!) { updateTeam(id: $t, input: {pocId: $u}) { id } }`, map[string]any{"t": team.ID, "u": member.id}, nil)
	team, err = e.store.Team(ctx, team.ID)
	if err != nil {
		t.Fatal(err)
	}
	if team.POCID != member.id {
		t.Fatalf("POC: got %s", team.POCID)
	}
	e.sameRow(t, mirror.Teams, team.ID, team)
	e.must(t, owner, `mutation($t: ID!, $u: ID!) { updateTeam(id: $t, input: {pocId: $u}) { id } }`, map[string]any{"t": team.ID, "u": owner.id}, nil)
	ms, err := e.store.Memberships(ctx, []string{team.ID})
	if err != nil {
		t.Fatal(err)
	}
	var gone models.TeamMembership
	for _, m := range ms {
		if m.UserID == member.id {
			gone = m
		}
		e.sameRow(t, mirror.UserTeamDetails, m.ID, m)
	}
	e.must(t, owner, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }`, map[string]any{"t": team.ID, "u": member.id}, nil)
	if _, err := e.mirror.Row(ctx, mirror.UserTeamDetails, gone.ID); !errors.Is(err, mirror.ErrNoRow) {
		t.Errorf("removed membership: got %v, want its row deleted", err)
	}
}

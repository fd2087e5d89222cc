package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// The nested selection of SPEC §7: labels, assignment with assignee and
// team, createdBy, updatedBy, deferredBy and inWatchlist.
const nestedList = `query($n: Int) { tasks(first: $n, filter: {deferred: INCLUDE}) { totalCount edges { cursor node {
	id displayId title status priority inWatchlist
	labels { id name color }
	assignment { id team { id name } assignee { __typename ... on User { id name email } ... on Team { id name } } assignedBy { id } }
	createdBy { id name } updatedBy { id name }
	deferredDetails { deferredTill deferredBy { id name } }
} } } }`

// TestTaskListRoundTrips counts MongoDB commands for the whole request,
// authentication included, over 100 tasks with labels, assignees, teams,
// deferrals and watchers: at most 10, whatever `first` is.
func TestTaskListRoundTrips(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	ctx := context.Background()
	viewer := e.person(t, "poc@example.com")
	others := []person{e.person(t, "x@example.com"), e.person(t, "y@example.com")}
	labels, err := e.store.Labels(ctx, storage.LabelFilter{}, storage.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := e.store.GenerateCreationCode(ctx, viewer.id, "")
	if err != nil {
		t.Fatal(err)
	}
	team, err := e.store.CreateTeam(ctx, viewer.id, storage.NewTeam{Name: "Ops", POCID: viewer.id,
		MemberIDs: []string{others[0].id}, CreationCode: code.Code})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		creator := others[i%2].id
		task := models.Task{Title: fmt.Sprintf("task %03d", i), Priority: models.Priority(1 + i%3), Status: models.StatusTodo,
			LabelIDs: []string{labels.Edges[i%8].Node.ID, labels.Edges[(i+3)%8].Node.ID}}
		if i%4 == 0 {
			task.DeferredDetails = &models.DeferredDetails{DeferredAt: time.Now(), DeferredTill: time.Now().Add(48 * time.Hour), DeferredBy: creator}
		}
		assign := storage.NewAssignment{AssigneeID: viewer.id, Type: models.AssigneeUser}
		if i%3 == 0 { // to the team whose POC the viewer is
			assign = storage.NewAssignment{AssigneeID: team.ID, Type: models.AssigneeTeam, TeamID: team.ID}
		}
		saved, err := e.store.CreateTask(ctx, creator, task, &assign)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := e.store.WatchTask(ctx, viewer.id, saved.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range []int{10, 100} {
		before := e.commands(t)
		g := e.graphqlAs(t, viewer.token, nestedList, map[string]any{"n": n})
		spent := e.commands(t) - before
		if len(g.Errors) > 0 {
			t.Fatalf("first %d: %+v", n, g.Errors)
		}
		if got := strings.Count(string(g.Data), `"cursor"`); got != n {
			t.Fatalf("first %d: got %d tasks", n, got)
		}
		for _, want := range []string{`"inWatchlist":true`, `"__typename":"Team"`, `"deferredBy":{"id"`, `"labels":[{"id"`} {
			if !strings.Contains(string(g.Data), want) {
				t.Errorf("first %d: the answer lacks %s", n, want)
			}
		}
		t.Logf("tasks(first: %d) with the nested selection: %v MongoDB round trips", n, spent)
		if spent > 10 {
			t.Errorf("tasks(first: %d): %v MongoDB round trips, want at most 10", n, spent)
		}
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// Twenty grants of one role at once (twenty sign-ins of an ADMIN_EMAILS
// user, or twenty grantTeamRole calls) leave one active grant, and its
// mirror row is written: uniqueness is MongoDB's (a unique key on the
// active grant), not a check before the insert that all twenty pass.
func TestConcurrentGrantsOfOneRole(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	ctx := context.Background()
	u, err := e.store.SignInByEmail(ctx, "boss@example.com", "Boss")
	if err != nil {
		t.Fatal(err)
	}
	team := bson.NewObjectID().Hex()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := e.store.GrantGlobalRole(ctx, u.ID, models.RoleAdmin, "system"); err != nil {
				t.Errorf("GrantGlobalRole: %v", err)
			}
		})
		wg.Go(func() {
			if err := e.store.GrantTeamRole(ctx, u.ID, team, u.ID, models.RoleAdmin); err != nil {
				t.Errorf("GrantTeamRole: %v", err)
			}
		})
	}
	wg.Wait()
	roles := e.mongo.Database().Collection(mongo.CollUserRoles)
	for _, scope := range []models.RoleScope{models.ScopeGlobal, models.ScopeTeam} {
		var docs []struct {
			ID bson.ObjectID `bson:"_id"`
		}
		cur, err := roles.Find(ctx, bson.D{{Key: "user_id", Value: mustOID(t, u.ID)}, {Key: "scope", Value: string(scope)},
			{Key: "role_name", Value: string(models.RoleAdmin)}, {Key: "is_active", Value: true}})
		if err != nil {
			t.Fatal(err)
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		if len(docs) != 1 {
			t.Fatalf("%s admin role: %d active grants after 20 concurrent grants, want 1", scope, len(docs))
		}
		st, err := e.store.SyncStatus(ctx, mongo.CollUserRoles, docs[0].ID.Hex())
		if err != nil || st.State != "SYNCED" {
			t.Errorf("%s grant's mirror: %+v, %v; want SYNCED", scope, st, err)
		}
	}
	failed, err := e.mongo.Database().Collection(mongo.CollMirrorIntents).CountDocuments(ctx, bson.D{{Key: "state", Value: mongo.IntentFailed}})
	if err != nil || failed != 0 {
		t.Errorf("%d failed mirror writes (%v), want 0", failed, err)
	}
}

// decodeData reads an answer's data, which must come without errors.
func decodeData(t *testing.T, r gqlResponse, into any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, into); err != nil {
		t.Fatalf("decoding %s: %v", r.Data, err)
	}
}

// Concurrent changes of one task are each decided on the version they
// write over: a deferral decided before a concurrent "done" landed is
// decided again (and refused: a done task is not deferred), and the audit
// entries chain, each "from" the status the task really had.
func TestChangesAreDecidedOnWhatTheyOverwrite(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	const rounds = 8
	create := func() string {
		var d struct{ CreateTask struct{ ID string } }
		decodeData(t, e.graphql(t, `mutation { createTask(input: {title: "race"}) { id } }`, nil), &d)
		return d.CreateTask.ID
	}
	var wg sync.WaitGroup
	deferAt := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	for range rounds {
		id := create()
		wg.Go(func() {
			e.graphql(t, `mutation($id: ID!) { updateTask(id: $id, input: {status: DONE}) { id } }`, map[string]any{"id": id})
		})
		wg.Go(func() {
			e.graphql(t, `mutation($id: ID!, $at: Time!) { deferTask(id: $id, deferredTill: $at) { id } }`,
				map[string]any{"id": id, "at": deferAt})
		})
		wg.Wait()
		got, err := e.store.Task(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == models.StatusDone && got.DeferredDetails != nil {
			t.Fatalf("task %s is DONE and deferred: a deferral decided on an older version was written over DONE", id)
		}
	}
	for range rounds {
		id := create()
		for _, st := range []string{"IN_PROGRESS", "BLOCKED", "DONE"} {
			wg.Go(func() {
				r := e.graphql(t, `mutation($id: ID!, $s: TaskStatus!) { updateTask(id: $id, input: {status: $s}) { id } }`,
					map[string]any{"id": id, "s": st})
				if len(r.Errors) > 0 {
					t.Errorf("updateTask to %s: %+v", st, r.Errors)
				}
			})
		}
		wg.Wait()
		got, err := e.store.Task(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var a struct {
			Task struct {
				Activity struct {
					Nodes []struct{ Action, From, To string }
				}
			}
		}
		decodeData(t, e.graphql(t, `query($id: ID!) { task(id: $id) { activity(first: 50) { nodes { action from to } } } }`,
			map[string]any{"id": id}), &a)
		// The entries are a walk from TODO to the final status: every status
		// is entered as often as it is left, but for those two.
		balance := map[string]int{"TODO": 1}
		balance[string(got.Status)]--
		changes := 0
		for _, n := range a.Task.Activity.Nodes {
			if n.Action != "status_changed" {
				continue
			}
			changes++
			balance[n.From]--
			balance[n.To]++
		}
		for st, b := range balance {
			if b != 0 {
				t.Fatalf("task %s ended %s after %d status changes whose audit entries do not chain (%s off by %d): %+v",
					id, got.Status, changes, st, b, a.Task.Activity.Nodes)
			}
		}
		if changes != 3 {
			t.Fatalf("task %s: %d status_changed entries for 3 changes of status: %+v", id, changes, a.Task.Activity.Nodes)
		}
	}
}

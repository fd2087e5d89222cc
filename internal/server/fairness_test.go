package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/todo-backend/todo/internal/hostile"
	"github.com/todo-backend/todo/internal/server"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// post sends a query from any goroutine (no t.Fatal): the status and the
// decoded answer, or an error.
func (e *env) post(token, query string) (int, gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		return 0, gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, gqlResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, gqlResponse{}, err
	}
	var g gqlResponse
	if err := json.Unmarshal(b, &g); err != nil {
		return resp.StatusCode, gqlResponse{}, fmt.Errorf("%w: %s", err, b)
	}
	return resp.StatusCode, g, nil
}

// One request's root fields take turns: twenty of them never hold more
// than MaxRootConcurrency of the pool's connections at once.
func TestRootFieldsTakeTurns(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	q := "{ " + hostile.Aliases("labels(first: 5) { nodes { id } }", 20) + "}"
	var g gqlResponse
	peak := e.flight.peakDuring(func() { g = e.graphql(t, q, nil) })
	if len(g.Errors) > 0 || strings.Count(string(g.Data), `"nodes"`) != 20 {
		t.Fatalf("20 label lists: %s %+v", g.Data, g.Errors)
	}
	if peak > server.MaxRootConcurrency {
		t.Errorf("20 root fields had %d MongoDB commands under way at once, want at most %d", peak, server.MaxRootConcurrency)
	}
}

// The review's attack: every task of a page asks for its own activity (a
// query per task, and a count). The request's fields below the root take
// turns for their queries, so it holds a bounded share of the pool while
// another user's request is served beside it without an error.
func TestPerParentQueriesTakeTurns(t *testing.T) {
	parallel(t)
	// The bound under test is the turns, not the deadline: the race
	// detector and the other packages' tests share the cores.
	e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"REQUEST_TIMEOUT": "120"}})
	ctx := context.Background()
	attacker := e.person(t, "attacker@example.com")
	for i := range 40 {
		if _, err := e.store.CreateTask(ctx, attacker.id, models.Task{Title: fmt.Sprintf("t%03d", i), Status: models.StatusTodo,
			Priority: models.PriorityMedium}, nil); err != nil {
			t.Fatal(err)
		}
	}
	q := "{ " + hostile.Aliases("tasks(first: 100, filter: {scope: CREATED_BY_ME}) { nodes { activity(first: 1) { totalCount nodes { id } } } }", 2) + "}"

	var (
		wg           sync.WaitGroup
		status       int
		g            gqlResponse
		err          error
		othersFailed []string
	)
	peak := e.flight.peakDuring(func() {
		wg.Go(func() { status, g, err = e.post(attacker.token, q) })
		// Another user, while the attack runs.
		for range 5 {
			code, og, oerr := e.post(e.token, "{ me { id } tasks(first: 5) { totalCount } }")
			if oerr != nil || code != http.StatusOK || len(og.Errors) > 0 {
				othersFailed = append(othersFailed, fmt.Sprintf("HTTP %d %v %+v", code, oerr, og.Errors))
			}
		}
		wg.Wait()
	})
	if err != nil || status != http.StatusOK || len(g.Errors) > 0 {
		t.Fatalf("the attack: HTTP %d %v %+v", status, err, g.Errors)
	}
	if n := strings.Count(string(g.Data), `"totalCount":1`); n != 80 {
		t.Errorf("the attack's answer: %d activity lists of one entry, want 80", n)
	}
	// The review sent fifteen pages of per-task activity in one document;
	// now that a per-parent query weighs what it costs, seven are over the
	// complexity limit and six pass.
	// (Asked by a user with no tasks: the weight is the document's, not the data's.)
	if g := e.graphql(t, "{ "+hostile.Aliases(hostile.ActivityOfEveryTask, 7)+"}", nil); len(g.Errors) != 1 ||
		g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(g.Errors[0].Message, "complexity") {
		t.Errorf("seven pages of per-task activity: got %s %+v, want refused for complexity", g.Data, g.Errors)
	}
	if g := e.graphql(t, "{ "+hostile.Aliases(hostile.ActivityOfEveryTask, 6)+"}", nil); len(g.Errors) != 0 {
		t.Errorf("six pages of per-task activity: %+v, want answered", g.Errors)
	}
	if len(othersFailed) > 0 {
		t.Errorf("another user's requests during the attack failed: %v", othersFailed)
	}
	// The attack's two root fields, its per-task queries, the loads of the
	// read rules (a batch per root field) and the other user's request (me,
	// tasks and its count): without the turns, a query per task at once.
	if bound := 2 + server.MaxFanOutConcurrency + 2 + 3; peak > bound {
		t.Errorf("MongoDB commands under way at once during the attack: %d, want at most %d", peak, bound)
	}
}

// One client's requests take turns too (REQUEST_CONCURRENCY): five heavy
// requests sent at once by one user (one runs, and four may wait per
// running one) run one at a time, so they never hold more than one
// request's share of the pool.
func TestClientTakesTurns(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"REQUEST_CONCURRENCY": "1"}})
	q := "{ " + hostile.Aliases("labels(first: 5) { nodes { id } }", 20) + "}"
	var failed []string
	var mu sync.Mutex
	peak := e.flight.peakDuring(func() {
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				code, g, err := e.post(e.token, q)
				if err != nil || code != http.StatusOK || len(g.Errors) > 0 {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("HTTP %d %v %+v", code, err, g.Errors))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	})
	if len(failed) > 0 {
		t.Fatalf("requests that waited their turn failed: %v", failed)
	}
	if peak > server.MaxRootConcurrency {
		t.Errorf("five requests of one client had %d MongoDB commands under way at once, want one request's %d at most", peak, server.MaxRootConcurrency)
	}
}

// /v1/health is open to anyone, so its cost must not follow how often it
// is asked: one check serves every caller for a second.
func TestHealthCostBounded(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	before := e.commands(t)
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Go(func() {
			resp, err := http.Get(e.url + "/v1/health")
			if err != nil {
				return
			}
			codes[i] = resp.StatusCode
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("health call %d: HTTP %d, want 200", i, c)
		}
	}
	// One ping per check; two if the calls straddle the second.
	if spent := e.commands(t) - before; spent > 2 {
		t.Errorf("40 health calls sent %v MongoDB commands, want the one check's (at most 2)", spent)
	}
}

// Team.members and Team.tasks send a query per team, and a team's page of
// tasks prefetches its labels and people: below the root those loads go
// one at a time inside the page's slot, so twelve teams' pages, each with
// its members and its tasks' labels and creators, stay within the turns.
func TestTeamPagesTakeTurns(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"REQUEST_TIMEOUT": "120"}})
	ctx := context.Background()
	owner := e.person(t, "owner@example.com")
	mate := e.person(t, "mate@example.com")
	labels, err := e.store.Labels(ctx, storage.LabelFilter{}, storage.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		code, err := e.store.GenerateCreationCode(ctx, owner.id, "")
		if err != nil {
			t.Fatal(err)
		}
		team, err := e.store.CreateTeam(ctx, owner.id, storage.NewTeam{Name: fmt.Sprintf("team %02d", i), POCID: owner.id,
			MemberIDs: []string{mate.id}, CreationCode: code.Code})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			task := models.Task{Title: fmt.Sprintf("t%d-%d", i, j), Status: models.StatusTodo, Priority: models.PriorityMedium,
				LabelIDs: []string{labels.Edges[j].Node.ID}}
			if _, err := e.store.CreateTask(ctx, mate.id, task, &storage.NewAssignment{AssigneeID: team.ID,
				Type: models.AssigneeTeam, TeamID: team.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	q := `{ teams { members(first: 10) { totalCount nodes { addedAt user { id } } }
		tasks(first: 10) { totalCount nodes { id labels { id } createdBy { id } } } } }`
	var g gqlResponse
	peak := e.flight.peakDuring(func() { g = e.graphqlAs(t, owner.token, q, nil) })
	if len(g.Errors) > 0 {
		t.Fatalf("twelve teams' pages: %+v", g.Errors)
	}
	if n := strings.Count(string(g.Data), `"labels":[{"id"`); n != 36 {
		t.Errorf("the answer holds %d tasks with their labels, want 36", n)
	}
	// The root field's own query, the per-team queries in their turns (one
	// command each), and the loads of the read rules and of the users.
	if bound := 1 + server.MaxFanOutConcurrency + 3; peak > bound {
		t.Errorf("MongoDB commands under way at once: %d, want at most %d", peak, bound)
	}
}

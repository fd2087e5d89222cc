package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

// The findings of the security review (issue 8), replayed over HTTP on the
// world of world_test.go. Each failed on the service before the read rules
// moved onto the types.

// Finding 1: teamActivity showed the current task of every entry, even of
// tasks that left the team and were edited by their new assignee since.
func TestTeamActivityShowsOnlyReadableTasks(t *testing.T) {
	parallel(t)
	e := newWorldEnv(t)
	w := newWorld(t, e)
	g := w.as(t, "member", `query($t: ID!) { teamActivity(teamId: $t, first: 100) {
		totalCount nodes { action task { id title description } } edges { node { task { id title } } } } }`,
		map[string]any{"t": w.id(t, "T")})
	if len(g.Errors) > 0 {
		t.Fatalf("teamActivity: %+v", g.Errors)
	}
	var d struct {
		TeamActivity struct {
			TotalCount int
			Nodes      []struct {
				Action string
				Task   *struct{ ID, Title string }
			}
		}
	}
	if err := json.Unmarshal(g.Data, &d); err != nil {
		t.Fatal(err)
	}
	left, seen := w.id(t, "tLeft"), map[string]bool{}
	unassigned := 0
	for _, n := range d.TeamActivity.Nodes {
		if n.Task == nil {
			if n.Action == "unassigned_from_team" {
				unassigned++
			}
			continue
		}
		seen[w.facts[n.Task.ID].name] = true
		if n.Task.ID == left {
			t.Errorf("the member reads tLeft through its old team's activity: %+v", n)
		}
	}
	// The entry stays (it is the team's history); its task is hidden.
	if unassigned != 1 {
		t.Errorf("got %d unassigned_from_team entries with a hidden task, want 1 (tLeft leaving the team)", unassigned)
	}
	if !seen["tTeam"] || !seen["tHanded"] {
		t.Errorf("the member's team activity shows tasks %v, want tTeam and tHanded among them", slices.Sorted(mapsKeys(seen)))
	}
	for _, leak := range []string{`"tLeft"`, "changed by its new assignee"} {
		if strings.Contains(string(g.Data), leak) {
			t.Errorf("teamActivity answers %s", leak)
		}
	}
	if d.TeamActivity.TotalCount != len(d.TeamActivity.Nodes) {
		t.Errorf("totalCount %d, %d entries listed", d.TeamActivity.TotalCount, len(d.TeamActivity.Nodes))
	}
	e.expectData(t, w.users["member"], "task(tLeft) as a member of its old team", `query($id: ID!) { task(id: $id) { title } }`,
		map[string]any{"id": left}, `{"task":null}`)
}

// Finding 2: a team's name, description, POC, creator and roles reached
// non-members through user.teams, user.roles, Task.assignment.team, the
// Assignee union and AuditLog.team.
func TestTeamsReachOnlyTheirMembers(t *testing.T) {
	parallel(t)
	e := newWorldEnv(t)
	w := newWorld(t, e)
	T := w.id(t, "T")
	// The outsider is in T2 only: of T they learn nothing, through any user.
	g := w.as(t, "outsider", `{ users(search: "walk-", first: 20) { nodes { id
		teams { id name description poc { id } createdBy { id } viewerRoles }
		roles { scope team { id name } } } } }`, nil)
	if len(g.Errors) > 0 {
		t.Fatalf("users: %+v", g.Errors)
	}
	var d struct {
		Users struct {
			Nodes []struct {
				ID    string
				Teams []struct{ ID string }
				Roles []struct {
					Scope string
					Team  *struct{ ID string }
				}
			}
		}
	}
	if err := json.Unmarshal(g.Data, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Users.Nodes) != len(worldUsers) {
		t.Fatalf("users: got %d, want the world's %d", len(d.Users.Nodes), len(worldUsers))
	}
	for _, u := range d.Users.Nodes {
		for _, tm := range u.Teams {
			if tm.ID != w.id(t, "T2") {
				t.Errorf("the outsider sees %s in team %s", w.role[u.ID], w.names(tm.ID))
			}
		}
		for _, r := range u.Roles {
			if r.Scope == "TEAM" && (r.Team == nil || r.Team.ID != w.id(t, "T2")) {
				t.Errorf("the outsider sees %s's TEAM role in %+v", w.role[u.ID], r.Team)
			}
		}
	}
	if strings.Contains(string(g.Data), T) || strings.Contains(string(g.Data), "Team T\"") {
		t.Errorf("the user list names team T: %s", w.names(string(g.Data)))
	}
	// ext created tTeam, so reads it, but is not in T: the task shows, its team does not.
	e.expectData(t, w.users["ext"], "the assignment's team and the Assignee union for the creator outside the team",
		`query($id: ID!) { task(id: $id) { title assignment { team { name } assignee { __typename ... on Team { name description poc { id } createdBy { id } viewerRoles } } } } }`,
		map[string]any{"id": w.id(t, "tTeam")}, `{"task":{"title":"tTeam","assignment":{"team":null,"assignee":null}}}`)
	g = w.as(t, "ext", `query($id: ID!) { task(id: $id) { activity { totalCount nodes { action team { name } } } } }`,
		map[string]any{"id": w.id(t, "tTeam")})
	var act struct {
		Task struct {
			Activity struct {
				TotalCount int
				Nodes      []struct {
					Action string
					Team   *struct{ Name string }
				}
			}
		}
	}
	if err := json.Unmarshal(g.Data, &act); err != nil || len(g.Errors) > 0 {
		t.Fatalf("activity: %v %+v", err, g.Errors)
	}
	if len(act.Task.Activity.Nodes) == 0 || act.Task.Activity.TotalCount != len(act.Task.Activity.Nodes) {
		t.Fatalf("tTeam's activity for its creator: %+v", act.Task.Activity)
	}
	for _, n := range act.Task.Activity.Nodes {
		if n.Team != nil {
			t.Errorf("AuditLog.team of a %s entry shows %q to the creator outside the team", n.Action, n.Team.Name)
		}
	}
}

// Finding 4: watching was a grant that outlived membership.
func TestWatchingIsNotAGrant(t *testing.T) {
	parallel(t)
	e := newWorldEnv(t)
	w := newWorld(t, e)
	lost, task := w.users["lostWatcher"], w.id(t, "tTeam")
	const listQ = `{ watchlist { totalCount nodes { id } } tasks(filter: {scope: WATCHED}) { totalCount nodes { id } } }`
	e.expectData(t, lost, "the removed watcher's lists", listQ, nil,
		`{"watchlist":{"totalCount":0,"nodes":[]},"tasks":{"totalCount":0,"nodes":[]}}`)
	e.expectData(t, lost, "the removed watcher reads the task", `query($id: ID!) { task(id: $id) { title activity { totalCount } } }`,
		map[string]any{"id": task}, `{"task":null}`)
	// The member watches tTeam (readable) and tLeft (no longer readable).
	e.expectData(t, w.users["member"], "the member's lists", listQ, nil,
		fmt.Sprintf(`{"watchlist":{"totalCount":1,"nodes":[{"id":%q}]},"tasks":{"totalCount":1,"nodes":[{"id":%q}]}}`, task, task))
	// The watch row stays stored, though not the viewer's to see or end.
	rows, err := e.store.WatchEntries(context.Background(), lost.id, []string{task})
	if err != nil || len(rows) != 1 || !rows[0].IsActive {
		t.Fatalf("the watch row: %+v %v, want it stored and active", rows, err)
	}
	e.expect(t, lost, "the removed watcher unwatches", `mutation($id: ID!) { unwatchTask(taskId: $id) { id } }`,
		map[string]any{"id": task}, "NOT_FOUND", "")
	// Access returns: so does the watched task.
	e.must(t, w.users["owner"], `mutation($t: ID!, $u: ID!) { addTeamMembers(teamId: $t, userIds: [$u]) { id } }`,
		map[string]any{"t": w.id(t, "T"), "u": lost.id}, nil)
	e.expectData(t, lost, "the watcher back in the team", listQ, nil,
		fmt.Sprintf(`{"watchlist":{"totalCount":1,"nodes":[{"id":%q}]},"tasks":{"totalCount":1,"nodes":[{"id":%q}]}}`, task, task))
}

// Finding 3: mutations told unreadable tasks and teams from missing ones.
// For every mutation and query that takes the id of a guarded object, the
// answer for an object the caller may not read must equal, word for word
// once the id is masked, the answer for an id that names nothing. The
// mutations are found by introspection: one that takes an id and is not
// listed here fails the test.
func TestUnreadableLooksMissing(t *testing.T) {
	parallel(t)
	e := newWorldEnv(t)
	w := newWorld(t, e)
	ctx := context.Background()
	own, err := e.store.CreateTask(ctx, w.id(t, "outsider"),
		models.Task{Title: "outsider's own", Priority: models.PriorityLow, Status: models.StatusTodo}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type probe struct {
		name, query string
		vars        func(target string) map[string]any
	}
	taskQ := func(name, q string) []probe {
		// Each kind of task the outsider may not read: a team task, a
		// deleted one, a task with no team, one that left a team.
		var out []probe
		for _, task := range []string{"tTeam", "tDeleted", "tOwn", "tLeft", "tHanded"} {
			out = append(out, probe{name + "(" + task + ")", q, func(target string) map[string]any {
				if target == "" {
					target = w.id(t, task)
				}
				vars := map[string]any{"id": target}
				if strings.Contains(q, "$u") {
					vars["u"] = w.id(t, "member")
				}
				if strings.Contains(q, "$till") {
					vars["till"] = "2099-01-01T00:00:00Z"
				}
				return vars
			}})
		}
		return out
	}
	teamQ := func(name, q string) []probe {
		return []probe{{name + "(T)", q, func(target string) map[string]any {
			if target == "" {
				target = w.id(t, "T")
			}
			vars := map[string]any{"team": target}
			if strings.Contains(q, "$u") {
				vars["u"] = w.id(t, "member")
			}
			if strings.Contains(q, "$own") {
				vars["own"] = own.ID
			}
			return vars
		}}}
	}
	var probes []probe
	for _, p := range [][]probe{
		taskQ("updateTask", `mutation($id: ID!) { updateTask(id: $id, input: {title: "x"}) { id } }`),
		taskQ("deferTask", `mutation($id: ID!, $till: Time!) { deferTask(id: $id, deferredTill: $till) { id } }`),
		taskQ("deleteTask", `mutation($id: ID!) { deleteTask(id: $id) { id } }`),
		taskQ("restoreTask", `mutation($id: ID!) { restoreTask(id: $id) { id } }`),
		taskQ("assignTask", `mutation($id: ID!, $u: ID!) { assignTask(taskId: $id, assignee: {userId: $u}) { id } }`),
		taskQ("unassignTask", `mutation($id: ID!) { unassignTask(taskId: $id) { id } }`),
		taskQ("reassignTaskToMember", `mutation($id: ID!, $u: ID!) { reassignTaskToMember(taskId: $id, userId: $u) { id } }`),
		taskQ("watchTask", `mutation($id: ID!) { watchTask(taskId: $id) { id } }`),
		taskQ("unwatchTask", `mutation($id: ID!) { unwatchTask(taskId: $id) { id } }`),
		taskQ("task", `query($id: ID!) { task(id: $id) { id } }`),
		teamQ("createTask(assignee)", `mutation($team: ID!) { createTask(input: {title: "x", assignee: {teamId: $team}}) { id } }`),
		teamQ("createTask(teamId)", `mutation($team: ID!, $u: ID!) { createTask(input: {title: "x", assignee: {userId: $u}, teamId: $team}) { id } }`),
		teamQ("assignTask(to team)", `mutation($team: ID!, $own: ID!) { assignTask(taskId: $own, assignee: {teamId: $team}) { id } }`),
		teamQ("addTeamMembers", `mutation($team: ID!, $u: ID!) { addTeamMembers(teamId: $team, userIds: [$u]) { id } }`),
		teamQ("removeTeamMember", `mutation($team: ID!, $u: ID!) { removeTeamMember(teamId: $team, userId: $u) { id } }`),
		teamQ("updateTeam", `mutation($team: ID!) { updateTeam(id: $team, input: {name: "x"}) { id } }`),
		teamQ("rotateTeamInviteCode", `mutation($team: ID!) { rotateTeamInviteCode(teamId: $team) { id } }`),
		teamQ("grantTeamRole", `mutation($team: ID!, $u: ID!) { grantTeamRole(teamId: $team, userId: $u, role: ADMIN) { roles } }`),
		teamQ("revokeTeamRole", `mutation($team: ID!, $u: ID!) { revokeTeamRole(teamId: $team, userId: $u, role: MEMBER) { roles } }`),
		teamQ("team", `query($team: ID!) { team(id: $team) { id } }`),
		teamQ("teamActivity", `query($team: ID!) { teamActivity(teamId: $team) { totalCount } }`),
		teamQ("taskSummary", `query($team: ID!) { taskSummary(teamId: $team) { overdue } }`),
		teamQ("tasks(TEAM)", `query($team: ID!) { tasks(filter: {scope: TEAM, teamId: $team}) { totalCount } }`),
	} {
		probes = append(probes, p...)
	}

	// Every mutation that names an object by id must be probed, or say why
	// not: its ids name objects anyone may know of, or it is for admins.
	exempt := map[string]string{
		"createTeam":                     "memberIds and pocId name users, whom anyone may look up",
		"joinTeam":                       "takes a join code, not an id",
		"updateLabel":                    "labels are public; admins only",
		"deleteLabel":                    "labels are public; admins only",
		"retrySync":                      "admins only",
		"resyncDocument":                 "admins only",
		"createLabel":                    "takes no id",
		"generateTeamCreationInviteCode": "takes no id",
		"verifyTeamCreationInviteCode":   "takes a code, not an id",
		"retryAllFailedSyncs":            "takes no id",
		"setReadSource":                  "takes no id; admins only",
	}
	s := introspect(t, e, w)
	for _, f := range s.types["Mutation"].Fields {
		if _, ok := exempt[f.Name]; ok {
			continue
		}
		if !slices.ContainsFunc(probes, func(p probe) bool { return strings.HasPrefix(p.name, f.Name+"(") }) {
			t.Errorf("mutation %s is not probed: add it to TestUnreadableLooksMissing, or exempt it with a reason", f.Name)
		}
	}

	missing := bson.NewObjectID().Hex()
	for _, p := range probes {
		unreadable := p.vars("")
		target, _ := unreadable["id"].(string)
		if _, ok := unreadable["team"]; ok {
			target = unreadable["team"].(string)
		}
		absent := p.vars(missing)
		hidden := w.as(t, "outsider", p.query, unreadable)
		gone := w.as(t, "outsider", p.query, absent)
		h := strings.ReplaceAll(canonical(hidden), target, "<id>")
		m := strings.ReplaceAll(canonical(gone), missing, "<id>")
		if h != m {
			t.Errorf("%s: an unreadable id answers\n\t%s\nbut a missing one\n\t%s", p.name, w.names(h), m)
		}
		if len(gone.Errors) > 0 {
			if code := gone.Errors[0].Extensions["code"]; code != "NOT_FOUND" {
				t.Errorf("%s: a missing id answers %v, want NOT_FOUND", p.name, code)
			}
		} else if !strings.Contains(string(gone.Data), "null") {
			t.Errorf("%s: a missing id answers %s, want null", p.name, gone.Data)
		}
	}
	t.Logf("%d probes: each answers an unreadable id exactly as a missing one", len(probes))
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A read granted in a request holds for the request's answer, not for what
// its later mutations may touch: after leaving team T in a document, a
// member can no longer assign to T in the same document (the review of
// issue 8 found this). The answer of the leave itself still shows the team.
func TestArgumentGatesDecideOnNow(t *testing.T) {
	parallel(t)
	e := newWorldEnv(t)
	w := newWorld(t, e)
	T := w.id(t, "T")
	e.expectData(t, w.users["member"], "the member leaves", `mutation($t: ID!, $me: ID!) {
		removeTeamMember(teamId: $t, userId: $me) { name members { totalCount } } }`,
		map[string]any{"t": T, "me": w.id(t, "member")}, `{"removeTeamMember":{"name":"Team T","members":{"totalCount":2}}}`)
	e.expectData(t, w.users["member"], "the member reads T after leaving", `query($t: ID!) { team(id: $t) { name } }`,
		map[string]any{"t": T}, `{"team":null}`)

	// ext2 joins T, then leaves and tries to act through T in one document.
	if err := e.store.AddMembers(context.Background(), w.id(t, "owner"), T, []string{w.id(t, "ext2")}); err != nil {
		t.Fatal(err)
	}
	g := w.as(t, "ext2", `mutation($t: ID!, $me: ID!, $own: ID!) {
		leave: removeTeamMember(teamId: $t, userId: $me) { id }
		create: createTask(input: {title: "into T after leaving", assignee: {teamId: $t}}) { id }
		move: assignTask(taskId: $own, assignee: {teamId: $t}) { id } }`,
		map[string]any{"t": T, "me": w.id(t, "ext2"), "own": w.id(t, "tLeft")})
	var codes []string
	for _, e := range g.Errors {
		codes = append(codes, fmt.Sprintf("%v@%v", e.Extensions["code"], e.Message))
	}
	want := []string{"NOT_FOUND@not found: team " + T, "NOT_FOUND@not found: team " + T}
	if !slices.Equal(codes, want) {
		t.Errorf("after leaving in the same document: errors %v, want %v", codes, want)
	}
	e.expectData(t, w.users["owner"], "T's tasks after ext2 left", `query($t: ID!) { tasks(filter: {scope: TEAM, teamId: $t}, first: 50) { nodes { title } } }`,
		map[string]any{"t": T}, `{"tasks":{"nodes":[{"title":"tHanded"},{"title":"tTeam"}]}}`)
	e.expectData(t, w.users["owner"], "T's members after ext2 left", `query($t: ID!) { team(id: $t) { members { totalCount } } }`,
		map[string]any{"t": T}, `{"team":{"members":{"totalCount":2}}}`)
}

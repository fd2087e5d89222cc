package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// person is a signed-in test user.
type person struct {
	id, token string
}

func (e *env) person(t *testing.T, email string) person {
	t.Helper()
	tok := e.signIn(t, email)
	g := e.graphqlAs(t, tok, "{ me { id } }", nil)
	var d struct{ Me struct{ ID string } }
	if err := json.Unmarshal(g.Data, &d); err != nil || d.Me.ID == "" {
		t.Fatalf("me: %s %v", g.Data, g.Errors)
	}
	return person{id: d.Me.ID, token: tok}
}

// must runs an operation that must succeed and decodes its data.
func (e *env) must(t *testing.T, p person, query string, vars map[string]any, into any) {
	t.Helper()
	g := e.graphqlAs(t, p.token, query, vars)
	if len(g.Errors) > 0 {
		t.Fatalf("%s\nerrors: %+v", query, g.Errors)
	}
	if into != nil {
		if err := json.Unmarshal(g.Data, into); err != nil {
			t.Fatalf("decode %s: %v", g.Data, err)
		}
	}
}

// code runs an operation that must fail and returns its error code.
func (e *env) code(t *testing.T, p person, query string, vars map[string]any) string {
	t.Helper()
	g := e.graphqlAs(t, p.token, query, vars)
	if len(g.Errors) == 0 {
		t.Fatalf("%s: want an error, got %s", query, g.Data)
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

const createTask = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id displayId status } }`

func ids(t *testing.T, raw json.RawMessage, path ...string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	var out []string
	for _, n := range v.([]any) {
		out = append(out, n.(map[string]any)["id"].(string))
	}
	return out
}

func TestTaskVisibilityAcrossUsers(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	a, b, c := e.person(t, "a@example.com"), e.person(t, "b@example.com"), e.person(t, "c@example.com")
	var created struct {
		CreateTask struct{ ID, DisplayID, Status string }
	}
	e.must(t, a, createTask, map[string]any{"in": map[string]any{"title": "Write the report", "assignee": map[string]any{"userId": b.id}}}, &created)
	id := created.CreateTask.ID
	if !strings.HasPrefix(created.CreateTask.DisplayID, "#") || created.CreateTask.Status != "TODO" {
		t.Errorf("created: got %+v", created.CreateTask)
	}
	list := "{ tasks { totalCount nodes { id } } }"
	g := e.graphqlAs(t, b.token, list, nil)
	if got := ids(t, g.Data, "tasks", "nodes"); len(got) != 1 || got[0] != id {
		t.Fatalf("B's default list: got %v, want [%s]", got, id)
	}
	if got := e.code(t, c, `mutation($id: ID!) { updateTask(id: $id, input: {title: "mine now"}) { id } }`, map[string]any{"id": id}); got != "NOT_FOUND" {
		t.Errorf("C updateTask: got %s, want NOT_FOUND (C may not read the task)", got)
	}
	for _, scope := range []string{"ASSIGNED_TO_ME", "CREATED_BY_ME", "WATCHED"} {
		g := e.graphqlAs(t, c.token, fmt.Sprintf("{ tasks(filter: {scope: %s, includeDone: true, deferred: INCLUDE}) { totalCount nodes { id } } }", scope), nil)
		if strings.Contains(string(g.Data), id) || !strings.Contains(string(g.Data), `"totalCount":0`) {
			t.Errorf("C's %s list shows the task: %s", scope, g.Data)
		}
	}
	var one struct{ Task *struct{ ID string } }
	e.must(t, c, `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": id}, &one)
	if one.Task != nil {
		t.Errorf("C reads the task by id: %+v", one.Task)
	}
	if got := e.code(t, c, `mutation($id: ID!) { watchTask(taskId: $id) { id } }`, map[string]any{"id": id}); got != "NOT_FOUND" {
		t.Errorf("C watches the task: got %s, want NOT_FOUND", got)
	}
}

func TestTeamHandOffAndRemoval(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"ADMIN_EMAILS": "root@example.com"}})
	admin := e.person(t, "root@example.com")
	owner, member := e.person(t, "owner@example.com"), e.person(t, "member@example.com")

	var code struct{ GenerateTeamCreationInviteCode struct{ Code string } }
	e.must(t, admin, `mutation { generateTeamCreationInviteCode(description: "for the owner") { code } }`, nil, &code)
	var team struct {
		CreateTeam struct {
			ID, InviteCode string
			Poc            struct{ ID string }
		}
	}
	e.must(t, owner, `mutation($c: String!) { createTeam(input: {name: "Platform", creationCode: $c}) { id inviteCode poc { id } } }`,
		map[string]any{"c": code.GenerateTeamCreationInviteCode.Code}, &team)
	teamID := team.CreateTeam.ID
	if team.CreateTeam.Poc.ID != owner.id || len(team.CreateTeam.InviteCode) < 8 {
		t.Fatalf("team: got %+v, want the owner as POC and a join code of 8+ characters", team.CreateTeam)
	}
	if got := e.code(t, owner, `mutation($c: String!) { createTeam(input: {name: "Again", creationCode: $c}) { id } }`,
		map[string]any{"c": code.GenerateTeamCreationInviteCode.Code}); got != "BAD_USER_INPUT" {
		t.Errorf("reusing a creation code: got %s", got)
	}
	e.must(t, member, `mutation($c: String!) { joinTeam(inviteCode: $c) { id } }`, map[string]any{"c": team.CreateTeam.InviteCode}, nil)

	var task struct{ CreateTask struct{ ID string } }
	e.must(t, owner, createTask, map[string]any{"in": map[string]any{"title": "Team job", "assignee": map[string]any{"teamId": teamID}}}, &task)
	taskID := task.CreateTask.ID
	var handed struct {
		ReassignTaskToMember struct {
			Assignment struct {
				Assignee struct{ ID string }
				Team     struct{ ID string }
			}
		}
	}
	e.must(t, owner, `mutation($t: ID!, $u: ID!) { reassignTaskToMember(taskId: $t, userId: $u) {
		assignment { assignee { ... on User { id } } team { id } } } }`, map[string]any{"t": taskID, "u": member.id}, &handed)
	if got := handed.ReassignTaskToMember.Assignment; got.Assignee.ID != member.id || got.Team.ID != teamID {
		t.Fatalf("after hand-off: got %+v, want the member, in the team", got)
	}
	e.must(t, owner, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }`,
		map[string]any{"t": teamID, "u": member.id}, nil)
	var after struct {
		Task struct {
			Assignment struct {
				Assignee struct {
					Typename string `json:"__typename"`
					ID       string
				}
			}
		}
	}
	e.must(t, owner, `query($t: ID!) { task(id: $t) { assignment { assignee { __typename ... on Team { id } } } } }`,
		map[string]any{"t": taskID}, &after)
	if got := after.Task.Assignment.Assignee; got.Typename != "Team" || got.ID != teamID {
		t.Errorf("after removal: assignee %+v, want the team", got)
	}
	var act struct {
		TeamActivity struct {
			Nodes []struct {
				Action     string
				TargetUser *struct{ ID string }
				Actor      *struct{ ID string }
			}
		}
	}
	e.must(t, owner, `query($t: ID!) { teamActivity(teamId: $t, first: 50) { nodes { action actor { id } targetUser { id } } } }`,
		map[string]any{"t": teamID}, &act)
	steps := map[string]string{}
	for _, n := range act.TeamActivity.Nodes {
		target := ""
		if n.TargetUser != nil {
			target = n.TargetUser.ID
		}
		if _, seen := steps[n.Action]; !seen {
			steps[n.Action] = target
		}
	}
	for action, subject := range map[string]string{"team_created": "", "member_joined_team": member.id,
		"assigned_to_team": "", "reassign_executor": member.id, "member_removed_from_team": member.id} {
		got, ok := steps[action]
		if !ok || got != subject {
			t.Errorf("activity %s: present %v, subject %q, want %q (all: %v)", action, ok, got, subject, steps)
		}
	}
}

func TestQueryLimitsRefuseBeforeAnyDatabaseWork(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	p := e.person(t, "limits@example.com")
	deep := "{ tasks { nodes { assignment { task { assignment { task { assignment { task { assignment { task { assignment { task { assignment { task { id } } } } } } } } } } } } } } }"
	for name, q := range map[string]string{
		"15 levels deep": deep,
		"first: 1000":    "{ tasks(first: 1000) { nodes { id } } }",
		"nested 1000":    "{ teams { tasks(first: 1000) { totalCount } } }",
	} {
		before := e.commands(t)
		g := e.graphqlAs(t, p.token, q, nil)
		if len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Errorf("%s: got %s %+v, want BAD_USER_INPUT", name, g.Data, g.Errors)
		}
		if d := e.commands(t) - before; d != 0 {
			t.Errorf("%s: %v MongoDB commands ran, want none", name, d)
		}
	}
}

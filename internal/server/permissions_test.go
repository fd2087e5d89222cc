package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// The permission matrix of SPEC §5.3: every mutation of the schema, and the
// queries that must not leak, as every kind of caller. Each mutation cell
// runs on a fresh fixture (its own users, team and tasks), so no cell sees
// what another one changed; the read-only query cells share one fixture.

// The callers, in the matrix's column order.
var permActors = []struct{ role, col string }{
	{"creator", "cre"},    // created both fixture tasks; in no team
	{"assignee", "asg"},   // direct assignee of the user task; in no team
	{"member", "mem"},     // team member, neither POC nor admin
	{"poc", "poc"},        // the team's POC, a plain member otherwise
	{"teamAdmin", "tadm"}, // holds the TEAM role ADMIN, not the owner
	{"owner", "own"},      // created the team: OWNER, ADMIN and MEMBER
	{"outsider", "out"},   // signed in, related to nothing
	{"admin", "gadm"},     // GLOBAL admin (email in ADMIN_EMAILS), in no team
	{"anonymous", "anon"}, // no token
}

// Users of a fixture that are not callers: victim is a plain member that
// cells act on (removed, promoted, handed tasks); newbie is a signed-up
// user outside the team (added, granted MEMBER).
var permUsers = []string{"creator", "assignee", "member", "poc", "teamAdmin", "owner", "outsider", "admin", "victim", "newbie"}

// Outcome tokens: ok (no error), F (FORBIDDEN), NF (NOT_FOUND), UA
// (UNAUTHENTICATED), C (CONFLICT), BAD (BAD_USER_INPUT), UNP
// (UNPROCESSABLE); queries add null, code, email, absent, "-" (the
// enclosing task is not visible) and task sets (U, T, U+T). A caller who may
// not read an object gets what a missing one gets: NF from a mutation or a
// non-null query field, null (or absent from a list) from a query field.
var permCodeTokens = map[string]string{"FORBIDDEN": "F", "NOT_FOUND": "NF", "UNAUTHENTICATED": "UA", "CONFLICT": "C",
	"BAD_USER_INPUT": "BAD", "UNPROCESSABLE": "UNP", "RATE_LIMITED": "RL", "INTERNAL": "ERR"}

// permFixturesMax bounds fixture numbers: ADMIN_EMAILS lists one admin per number.
const permFixturesMax = 400

func permEmail(idx int, role string) string {
	return fmt.Sprintf("perm%03d-%s@perm.example.com", idx, role)
}

// permFixture is one team with an owner, an admin, a POC and members, and
// two tasks by the creator: one assigned to the assignee, one to the team.
type permFixture struct {
	idx                int
	users              map[string]person
	emails             map[string]string
	team               models.Team
	userTask, teamTask models.Task
	// Set by the setups of the cells that need them.
	ownTask      string
	creationCode string
	label        models.Label
}

func (f *permFixture) as(role string) person {
	if role == "anonymous" {
		return person{}
	}
	return f.users[role]
}

// id returns the caller's id, or the creator's for anonymous callers (whose
// cells fail before the id matters).
func (f *permFixture) id(p person) string {
	if p.token == "" {
		return f.users["creator"].id
	}
	return p.id
}

// permPeople signs in the users of the fixtures of one env. The fixtures
// of an env share them: every rule the matrix checks is relative to a
// fixture's own team and tasks, which each fixture makes anew.
type permPeople struct {
	users  map[string]person
	emails map[string]string
}

func (e *env) newPermPeople(t *testing.T, idx int) permPeople {
	t.Helper()
	if idx >= permFixturesMax {
		t.Fatalf("fixture %d: raise permFixturesMax (ADMIN_EMAILS lists only %d admins)", idx, permFixturesMax)
	}
	ctx := context.Background()
	p := permPeople{users: map[string]person{}, emails: map[string]string{}}
	for _, role := range permUsers {
		email := permEmail(idx, role)
		u, err := e.store.SignInByEmail(ctx, email, role)
		if err != nil {
			t.Fatal(err)
		}
		if admin := e.cfg.IsAdminEmail(email); admin != (role == "admin") {
			t.Fatalf("%s: IsAdminEmail = %v, want %v", email, admin, role == "admin")
		}
		if role == "admin" { // as every sign-in path does for ADMIN_EMAILS
			if err := e.store.GrantGlobalRole(ctx, u.ID, models.RoleAdmin, "system"); err != nil {
				t.Fatal(err)
			}
		}
		tok, _, err := e.auth.Tokens().Issue(u.ID, auth.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		p.users[role], p.emails[role] = person{id: u.ID, token: tok}, email
	}
	return p
}

// newPermFixture makes fixture idx (its team, code and tasks) for people.
func (e *env) newPermFixture(t *testing.T, people permPeople, idx int) *permFixture {
	t.Helper()
	ctx := context.Background()
	f := &permFixture{idx: idx, users: people.users, emails: people.emails}
	u := f.users
	code, err := e.store.GenerateCreationCode(ctx, u["admin"].id, "permission fixture")
	if err != nil {
		t.Fatal(err)
	}
	f.team, err = e.store.CreateTeam(ctx, u["owner"].id, storage.NewTeam{Name: fmt.Sprintf("Perm %03d", idx),
		POCID: u["poc"].id, MemberIDs: []string{u["teamAdmin"].id, u["member"].id, u["victim"].id}, CreationCode: code.Code})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.GrantTeamRole(ctx, u["owner"].id, f.team.ID, u["teamAdmin"].id, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	task := models.Task{Title: "user task", Priority: models.PriorityLow, Status: models.StatusTodo}
	if f.userTask, err = e.store.CreateTask(ctx, u["creator"].id, task,
		&storage.NewAssignment{AssigneeID: u["assignee"].id, Type: models.AssigneeUser}); err != nil {
		t.Fatal(err)
	}
	task.Title = "team task"
	if f.teamTask, err = e.store.CreateTask(ctx, u["creator"].id, task,
		&storage.NewAssignment{AssigneeID: f.team.ID, Type: models.AssigneeTeam, TeamID: f.team.ID}); err != nil {
		t.Fatal(err)
	}
	return f
}

type permSetup func(t *testing.T, e *env, f *permFixture, as person)

func permDeleted(which func(*permFixture) models.Task) permSetup {
	return func(t *testing.T, e *env, f *permFixture, _ person) {
		t.Helper()
		before := which(f)
		after := before
		after.IsDeleted = true
		if _, err := e.store.UpdateTask(context.Background(), before.CreatedBy, before, after, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func permWatching(which func(*permFixture) models.Task) permSetup {
	return func(t *testing.T, e *env, f *permFixture, as person) {
		t.Helper()
		if err := e.store.WatchTask(context.Background(), f.id(as), which(f).ID, true); err != nil {
			t.Fatal(err)
		}
	}
}

// permOwnTask: an unassigned task created by the caller.
func permOwnTask(t *testing.T, e *env, f *permFixture, as person) {
	t.Helper()
	task, err := e.store.CreateTask(context.Background(), f.id(as),
		models.Task{Title: "own task", Priority: models.PriorityLow, Status: models.StatusTodo}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ownTask = task.ID
}

func permCreationCode(t *testing.T, e *env, f *permFixture, _ person) {
	t.Helper()
	c, err := e.store.GenerateCreationCode(context.Background(), f.users["admin"].id, "for a cell")
	if err != nil {
		t.Fatal(err)
	}
	f.creationCode = c.Code
}

func permLabel(t *testing.T, e *env, f *permFixture, _ person) {
	t.Helper()
	l, err := e.store.CreateLabel(context.Background(), f.users["admin"].id, fmt.Sprintf("perm-label-%03d", f.idx), "#123456")
	if err != nil {
		t.Fatal(err)
	}
	f.label = l
}

func permVictimIsAdmin(t *testing.T, e *env, f *permFixture, _ person) {
	t.Helper()
	if err := e.store.GrantTeamRole(context.Background(), f.users["owner"].id, f.team.ID, f.users["victim"].id, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
}

func permUserTask(f *permFixture) models.Task { return f.userTask }
func permTeamTask(f *permFixture) models.Task { return f.teamTask }

type permVars func(f *permFixture, as person) map[string]any

func permTaskID(which func(*permFixture) models.Task) permVars {
	return func(f *permFixture, _ person) map[string]any { return map[string]any{"id": which(f).ID} }
}

func permTeamAnd(role string) permVars {
	return func(f *permFixture, _ person) map[string]any {
		return map[string]any{"team": f.team.ID, "user": f.users[role].id}
	}
}

// A mutation row: want lists the outcomes for the signed-in callers in
// column order; anonymous callers always get UNAUTHENTICATED.
type permMutation struct {
	name  string
	setup permSetup
	query string
	vars  permVars
	want  string
}

const (
	permUpdateQ   = `mutation($id: ID!) { updateTask(id: $id, input: {title: "changed"}) { id } }`
	permDeferQ    = `mutation($id: ID!, $till: Time!) { deferTask(id: $id, deferredTill: $till) { id } }`
	permDeleteQ   = `mutation($id: ID!) { deleteTask(id: $id) { id } }`
	permRestoreQ  = `mutation($id: ID!) { restoreTask(id: $id) { id } }`
	permAssignQ   = `mutation($id: ID!, $to: AssigneeInput!) { assignTask(taskId: $id, assignee: $to) { id } }`
	permUnassignQ = `mutation($id: ID!) { unassignTask(taskId: $id) { id } }`
	permWatchQ    = `mutation($id: ID!) { watchTask(taskId: $id) { id } }`
	permUnwatchQ  = `mutation($id: ID!) { unwatchTask(taskId: $id) { id } }`
	permRemoveQ   = `mutation($team: ID!, $user: ID!) { removeTeamMember(teamId: $team, userId: $user) { id } }`
	permGrantQ    = `mutation($team: ID!, $user: ID!, $role: RoleName!) { grantTeamRole(teamId: $team, userId: $user, role: $role) { roles } }`
	permRevokeQ   = `mutation($team: ID!, $user: ID!, $role: RoleName!) { revokeTeamRole(teamId: $team, userId: $user, role: $role) { roles } }`
)

func permDeferVars(which func(*permFixture) models.Task) permVars {
	return func(f *permFixture, _ person) map[string]any {
		return map[string]any{"id": which(f).ID, "till": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)}
	}
}

func permRoleVars(role string, target string) permVars {
	return func(f *permFixture, as person) map[string]any {
		user := f.id(as)
		if target != "self" {
			user = f.users[target].id
		}
		return map[string]any{"team": f.team.ID, "user": user, "role": role}
	}
}

var permMutations = []permMutation{
	// want, by column: cre asg mem poc tadm own out gadm (anon is always UA)
	{name: "createTask", query: `mutation { createTask(input: {title: "new"}) { id } }`,
		want: "ok ok ok ok ok ok ok ok"},
	{name: "createTask(to team)", query: `mutation($team: ID!) { createTask(input: {title: "new", assignee: {teamId: $team}}) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any { return map[string]any{"team": f.team.ID} },
		want: "NF NF ok ok ok ok NF NF"},
	{name: "updateTask(user task)", query: permUpdateQ, vars: permTaskID(permUserTask), want: "ok ok NF NF NF NF NF ok"},
	{name: "updateTask(team task)", query: permUpdateQ, vars: permTaskID(permTeamTask), want: "ok NF F ok F F NF ok"},
	{name: "deferTask(user task)", query: permDeferQ, vars: permDeferVars(permUserTask), want: "ok ok NF NF NF NF NF ok"},
	{name: "deferTask(team task)", query: permDeferQ, vars: permDeferVars(permTeamTask), want: "ok NF F ok F F NF ok"},
	{name: "deleteTask(user task)", query: permDeleteQ, vars: permTaskID(permUserTask), want: "ok ok NF NF NF NF NF ok"},
	{name: "deleteTask(team task)", query: permDeleteQ, vars: permTaskID(permTeamTask), want: "ok NF F ok F F NF ok"},
	{name: "restoreTask(user task)", setup: permDeleted(permUserTask), query: permRestoreQ, vars: permTaskID(permUserTask), want: "ok ok NF NF NF NF NF ok"},
	{name: "restoreTask(team task)", setup: permDeleted(permTeamTask), query: permRestoreQ, vars: permTaskID(permTeamTask), want: "ok NF F ok F F NF ok"},
	// assign / unassign: creator, current assignee, POC or admin of the team
	// involved; assigning to a team needs membership of it. The SPEC does
	// not list global admins here (it does for reading and editing).
	{name: "assignTask(user task to user)", query: permAssignQ,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"id": f.userTask.ID, "to": map[string]any{"userId": f.users["newbie"].id}}
		},
		want: "ok ok NF NF NF NF NF F"},
	{name: "assignTask(team task to member)", query: permAssignQ,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"id": f.teamTask.ID, "to": map[string]any{"userId": f.users["victim"].id}}
		},
		want: "ok NF F ok ok ok NF F"},
	// Someone else's task, which the team's people cannot even read: being
	// POC or admin of the target team does not make them one "involved".
	{name: "assignTask(user task to team)", query: permAssignQ,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"id": f.userTask.ID, "to": map[string]any{"teamId": f.team.ID}}
		},
		want: "NF NF NF NF NF NF NF NF"},
	{name: "assignTask(own task to team)", setup: permOwnTask, query: permAssignQ,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"id": f.ownTask, "to": map[string]any{"teamId": f.team.ID}}
		},
		want: "NF NF ok ok ok ok NF NF"},
	{name: "unassignTask(user task)", query: permUnassignQ, vars: permTaskID(permUserTask), want: "ok ok NF NF NF NF NF F"},
	{name: "unassignTask(team task)", query: permUnassignQ, vars: permTaskID(permTeamTask), want: "ok NF F ok ok ok NF F"},
	{name: "reassignTaskToMember", query: `mutation($id: ID!, $user: ID!) { reassignTaskToMember(taskId: $id, userId: $user) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"id": f.teamTask.ID, "user": f.users["victim"].id}
		},
		want: "F NF F ok ok ok NF F"},
	{name: "watchTask(user task)", query: permWatchQ, vars: permTaskID(permUserTask), want: "ok ok NF NF NF NF NF ok"},
	{name: "watchTask(team task)", query: permWatchQ, vars: permTaskID(permTeamTask), want: "ok NF ok ok ok ok NF ok"},
	{name: "unwatchTask(user task)", query: permUnwatchQ, vars: permTaskID(permUserTask), want: "ok ok NF NF NF NF NF ok"},
	{name: "unwatchTask(team task)", query: permUnwatchQ, vars: permTaskID(permTeamTask), want: "ok NF ok ok ok ok NF ok"},
	// A watch is not a grant: a watcher who may not read the task gets
	// what a missing task gets.
	{name: "unwatchTask(user task, watching)", setup: permWatching(permUserTask), query: permUnwatchQ, vars: permTaskID(permUserTask),
		want: "ok ok NF NF NF NF NF ok"},
	{name: "createTeam", setup: permCreationCode, query: `mutation($code: String!) { createTeam(input: {name: "Fresh", creationCode: $code}) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any { return map[string]any{"code": f.creationCode} },
		want: "ok ok ok ok ok ok ok ok"},
	{name: "joinTeam", query: `mutation($code: String!) { joinTeam(inviteCode: $code) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any { return map[string]any{"code": f.team.InviteCode} },
		want: "ok ok C C C C ok ok"},
	{name: "addTeamMembers", query: `mutation($team: ID!, $user: ID!) { addTeamMembers(teamId: $team, userIds: [$user]) { id } }`,
		vars: permTeamAnd("newbie"), want: "NF NF F F ok ok NF NF"},
	{name: "removeTeamMember(other)", query: permRemoveQ, vars: permTeamAnd("victim"), want: "NF NF F F ok ok NF NF"},
	{name: "removeTeamMember(self = leave)", query: permRemoveQ,
		vars: func(f *permFixture, as person) map[string]any {
			return map[string]any{"team": f.team.ID, "user": f.id(as)}
		},
		want: "NF NF ok F ok F NF NF"},
	{name: "updateTeam(name)", query: `mutation($team: ID!) { updateTeam(id: $team, input: {name: "Renamed"}) { id } }`,
		vars: permTeamAnd("member"), want: "NF NF F F ok ok NF NF"},
	{name: "updateTeam(POC)", query: `mutation($team: ID!, $user: ID!) { updateTeam(id: $team, input: {pocId: $user}) { id } }`,
		vars: permTeamAnd("member"), want: "NF NF F F ok ok NF NF"},
	{name: "rotateTeamInviteCode", query: `mutation($team: ID!) { rotateTeamInviteCode(teamId: $team) { id } }`,
		vars: permTeamAnd("member"), want: "NF NF F F ok ok NF NF"},
	{name: "grantTeamRole(ADMIN)", query: permGrantQ, vars: permRoleVars("ADMIN", "victim"), want: "NF NF F F F ok NF NF"},
	{name: "grantTeamRole(MEMBER)", query: permGrantQ, vars: permRoleVars("MEMBER", "newbie"), want: "NF NF F F ok ok NF NF"},
	{name: "grantTeamRole(OWNER)", query: permGrantQ, vars: permRoleVars("OWNER", "victim"), want: "NF NF F F F ok NF NF"},
	{name: "grantTeamRole(ADMIN to self)", query: permGrantQ, vars: permRoleVars("ADMIN", "self"), want: "NF NF F F F F NF NF"},
	{name: "revokeTeamRole(MEMBER)", query: permRevokeQ, vars: permRoleVars("MEMBER", "victim"), want: "NF NF F F ok ok NF NF"},
	{name: "revokeTeamRole(ADMIN)", setup: permVictimIsAdmin, query: permRevokeQ, vars: permRoleVars("ADMIN", "victim"), want: "NF NF F F F ok NF NF"},
	{name: "generateTeamCreationInviteCode", query: `mutation { generateTeamCreationInviteCode(description: "x") { code } }`,
		want: "F F F F F F F ok"},
	{name: "verifyTeamCreationInviteCode", setup: permCreationCode, query: `mutation($code: String!) { verifyTeamCreationInviteCode(code: $code) }`,
		vars: func(f *permFixture, _ person) map[string]any { return map[string]any{"code": f.creationCode} },
		want: "ok ok ok ok ok ok ok ok"},
	{name: "createLabel", query: `mutation($name: String!) { createLabel(input: {name: $name, color: "#abc"}) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"name": fmt.Sprintf("perm-new-%03d", f.idx)}
		},
		want: "F F F F F F F ok"},
	{name: "updateLabel", setup: permLabel, query: `mutation($id: ID!, $name: String!) { updateLabel(id: $id, input: {name: $name, color: "#abc"}) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any {
			return map[string]any{"id": f.label.ID, "name": fmt.Sprintf("perm-renamed-%03d", f.idx)}
		},
		want: "F F F F F F F ok"},
	{name: "deleteLabel", setup: permLabel, query: `mutation($id: ID!) { deleteLabel(id: $id) { id } }`,
		vars: func(f *permFixture, _ person) map[string]any { return map[string]any{"id": f.label.ID} },
		want: "F F F F F F F ok"},
}

// A query row: outcome names what a successful answer shows.
type permQuery struct {
	name    string
	query   string
	vars    permVars
	outcome func(f *permFixture, data json.RawMessage) string
	want    string
}

// permDig decodes data and walks it along path; a missing step or null yields nil.
func permDig(data json.RawMessage, path ...string) any {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Sprintf("undecodable: %v", err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func permPresence(path ...string) func(*permFixture, json.RawMessage) string {
	return func(_ *permFixture, data json.RawMessage) string {
		if permDig(data, path...) == nil {
			return "null"
		}
		return "ok"
	}
}

// permTaskSet names the fixture tasks a list shows: U, T, U+T or "-".
func permTaskSet(f *permFixture, data json.RawMessage) string {
	var d struct {
		Tasks struct {
			TotalCount int
			Nodes      []struct{ ID string }
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "undecodable"
	}
	var names []string
	for _, n := range d.Tasks.Nodes {
		switch n.ID {
		case f.userTask.ID:
			names = append(names, "U")
		case f.teamTask.ID:
			names = append(names, "T")
		default:
			names = append(names, "?"+n.ID)
		}
	}
	slices.Sort(names)
	slices.Reverse(names) // U before T
	out := strings.Join(names, "+")
	if out == "" {
		out = "-"
	}
	if d.Tasks.TotalCount != len(d.Tasks.Nodes) {
		out += fmt.Sprintf("(totalCount %d)", d.Tasks.TotalCount)
	}
	return out
}

// permInviteCode reads Team.inviteCode of the fixture team among the teams
// at path: code (the real one), null, absent (the team is not listed), or
// "wrong" for any other value.
func permInviteCode(path ...string) func(*permFixture, json.RawMessage) string {
	return func(f *permFixture, data json.RawMessage) string {
		v := permDig(data, path...)
		teams, ok := v.([]any)
		if !ok {
			teams = []any{v}
		}
		for _, x := range teams {
			team, _ := x.(map[string]any)
			if team == nil || team["id"] != f.team.ID {
				continue
			}
			switch team["inviteCode"] {
			case nil:
				return "null"
			case f.team.InviteCode:
				return "code"
			default:
				return fmt.Sprintf("wrong(%v)", team["inviteCode"])
			}
		}
		return "absent"
	}
}

// permTeamListed reports whether the fixture team is among the teams at path
// (a nested error is reported before this runs).
func permTeamListed(path ...string) func(*permFixture, json.RawMessage) string {
	return func(f *permFixture, data json.RawMessage) string {
		teams, _ := permDig(data, path...).([]any)
		for _, x := range teams {
			if team, _ := x.(map[string]any); team != nil && team["id"] == f.team.ID {
				return "ok"
			}
		}
		return "absent"
	}
}

func permEmailOf(role string, path ...string) func(*permFixture, json.RawMessage) string {
	return func(f *permFixture, data json.RawMessage) string {
		switch v := permDig(data, path...); v {
		case nil:
			return "null"
		case f.emails[role]:
			return "email"
		default:
			return fmt.Sprintf("wrong(%v)", v)
		}
	}
}

// permOrHidden turns an answer whose enclosing task is null into "-".
func permOrHidden(taskPath []string, inner func(*permFixture, json.RawMessage) string) func(*permFixture, json.RawMessage) string {
	return func(f *permFixture, data json.RawMessage) string {
		if permDig(data, taskPath...) == nil {
			return "-"
		}
		return inner(f, data)
	}
}

func permScope(scope string) permVars {
	return func(f *permFixture, _ person) map[string]any {
		filter := map[string]any{"scope": scope}
		if scope == "TEAM" {
			filter["teamId"] = f.team.ID
		}
		return map[string]any{"f": filter}
	}
}

func permTeamVar(f *permFixture, _ person) map[string]any { return map[string]any{"team": f.team.ID} }

const permTasksQuery = `query($f: TaskFilter) { tasks(filter: $f, first: 100) { totalCount nodes { id } } }`

// The SPEC reserves reading a team (its members, its activity, its tasks)
// to its members; global admins are not listed there.
var permQueries = []permQuery{
	// want, by column: cre asg mem poc tadm own out gadm (anon is always UA)
	{name: "task(user task)", query: `query($id: ID!) { task(id: $id) { id } }`, vars: permTaskID(permUserTask),
		outcome: permPresence("task"), want: "ok ok null null null null null ok"},
	{name: "task(team task)", query: `query($id: ID!) { task(id: $id) { id } }`, vars: permTaskID(permTeamTask),
		outcome: permPresence("task"), want: "ok null ok ok ok ok null ok"},
	{name: "tasks(ASSIGNED_TO_ME)", query: permTasksQuery, vars: permScope("ASSIGNED_TO_ME"), outcome: permTaskSet,
		want: "- U - T - - - -"},
	{name: "tasks(CREATED_BY_ME)", query: permTasksQuery, vars: permScope("CREATED_BY_ME"), outcome: permTaskSet,
		want: "U+T - - - - - - -"},
	{name: "tasks(WATCHED)", query: permTasksQuery, vars: permScope("WATCHED"), outcome: permTaskSet,
		want: "U - T - - - - -"}, // the fixture has the creator watch U and the member watch T
	{name: "tasks(TEAM)", query: permTasksQuery, vars: permScope("TEAM"), outcome: permTaskSet,
		want: "NF NF T T T T NF NF"},
	{name: "taskSummary(team)", query: `query($team: ID) { taskSummary(teamId: $team) { overdue } }`, vars: permTeamVar,
		outcome: permPresence("taskSummary"), want: "NF NF ok ok ok ok NF NF"},
	{name: "team(id)", query: `query($team: ID!) { team(id: $team) { id } }`, vars: permTeamVar,
		outcome: permPresence("team"), want: "null null ok ok ok ok null null"},
	{name: "teamActivity", query: `query($team: ID!) { teamActivity(teamId: $team) { nodes { action } } }`, vars: permTeamVar,
		outcome: permPresence("teamActivity"), want: "NF NF ok ok ok ok NF NF"},
	{name: "Team.inviteCode via team(id)", query: `query($team: ID!) { team(id: $team) { id inviteCode } }`, vars: permTeamVar,
		outcome: permInviteCode("team"), want: "absent absent null code code code absent absent"},
	{name: "Team.inviteCode via task assignee", query: `query($id: ID!) { task(id: $id) { assignment { assignee { ... on Team { id inviteCode } } } } }`,
		vars: permTaskID(permTeamTask), outcome: permOrHidden([]string{"task"}, permInviteCode("task", "assignment", "assignee")),
		want: "absent - null code code code - absent"},
	{name: "Team.inviteCode via user.teams", query: `query($user: ID!) { user(id: $user) { teams { id inviteCode } } }`,
		vars:    func(f *permFixture, _ person) map[string]any { return map[string]any{"user": f.users["victim"].id} },
		outcome: permInviteCode("user", "teams"), want: "absent absent null code code code absent absent"},
	{name: "Team.members via task assignee", query: `query($id: ID!) { task(id: $id) { assignment { assignee { ... on Team { members { totalCount } } } } } }`,
		vars: permTaskID(permTeamTask), outcome: permOrHidden([]string{"task"}, permPresence("task", "assignment", "assignee", "members")),
		want: "null - ok ok ok ok - null"},
	{name: "Team.members via user.teams", query: `query($user: ID!) { user(id: $user) { teams { id members { totalCount } } } }`,
		vars:    func(f *permFixture, _ person) map[string]any { return map[string]any{"user": f.users["victim"].id} },
		outcome: permTeamListed("user", "teams"), want: "absent absent ok ok ok ok absent absent"},
	{name: "User.email of a team member", query: `query($user: ID!) { user(id: $user) { email } }`,
		vars:    func(f *permFixture, _ person) map[string]any { return map[string]any{"user": f.users["victim"].id} },
		outcome: permEmailOf("victim", "user", "email"), want: "null null email email email email null email"},
	{name: "User.email of the task creator", query: `query($id: ID!) { task(id: $id) { createdBy { email } } }`,
		vars: permTaskID(permUserTask), outcome: permOrHidden([]string{"task"}, permEmailOf("creator", "task", "createdBy", "email")),
		want: "email null - - - - - email"},
	{name: "auditLogs", query: `{ auditLogs(first: 1) { nodes { action } } }`, outcome: permPresence("auditLogs"),
		want: "F F F F F F F ok"},
	{name: "teamCreationInviteCodes", query: `{ teamCreationInviteCodes(first: 1) { nodes { code } } }`,
		outcome: permPresence("teamCreationInviteCodes"), want: "F F F F F F F ok"},
}

// permCell is one answered cell of the matrix.
type permCell struct {
	got, want string
}

type permMatrix struct {
	mu    sync.Mutex
	cells map[[2]string]permCell
}

func (m *permMatrix) put(row, actor string, c permCell) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[[2]string{row, actor}] = c
}

func (m *permMatrix) render(title string, rows []string) string {
	var b strings.Builder
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	fmt.Fprintf(&b, "\n%-*s", width+2, title)
	for _, a := range permActors {
		fmt.Fprintf(&b, " %-10s", a.col)
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "\n%-*s", width+2, r)
		for _, a := range permActors {
			c, ok := m.cells[[2]string{r, a.role}]
			s := c.got
			switch {
			case !ok:
				s = "(not run)"
			case !permWanted(c.want, c.got):
				s = "!" + c.got + "/" + c.want
			}
			fmt.Fprintf(&b, " %-10s", s)
		}
	}
	return b.String()
}

// permWanted: every cell has exactly one right answer.
func permWanted(want, got string) bool { return want == got }

// permWants splits a row's expectations into one per caller, anonymous last.
func permWants(t *testing.T, row, want string) []string {
	t.Helper()
	w := strings.Fields(want)
	if len(w) != len(permActors)-1 {
		t.Fatalf("%s: %d expectations, want %d", row, len(w), len(permActors)-1)
	}
	return append(w, "UA")
}

// permAnswer runs query as p and names the outcome: the first error's code, or
// what outcome reads from the data.
func (e *env) permAnswer(t *testing.T, f *permFixture, p person, query string, vars map[string]any,
	outcome func(*permFixture, json.RawMessage) string) (string, gqlResponse) {
	t.Helper()
	g := e.graphqlAs(t, p.token, query, vars)
	if len(g.Errors) > 0 {
		code, _ := g.Errors[0].Extensions["code"].(string)
		if tok, ok := permCodeTokens[code]; ok {
			return tok, g
		}
		return "code(" + code + ")", g
	}
	if outcome == nil {
		return "ok", g
	}
	return outcome(f, g.Data), g
}

// newPermEnv serves the handler on fresh databases whose ADMIN_EMAILS
// lists every fixture's global admin.
func newPermEnv(t *testing.T) *env {
	t.Helper()
	admins := make([]string, permFixturesMax)
	for i := range admins {
		admins[i] = permEmail(i, "admin")
	}
	return newEnv(t, opts{cfg: map[string]string{"ADMIN_EMAILS": strings.Join(admins, ",")}, unmirrored: true})
}

// TestPermissionMatrix walks every mutation and the leak-prone queries as
// every kind of caller and checks each answer against SPEC §5.3.
//
// Each mutation row gets an env of its own, and each of its cells a fresh
// fixture in it (a team, its code and tasks; the env's users are shared). One env for all ~370 fixtures would be simpler, but
// FerretDB v1 scans whole collections for `$in` and `_id` lookups
// (reference/infrastructure.md), so every request grows slower with every
// fixture: a single env did not finish in 15 minutes under -race.
func TestPermissionMatrix(t *testing.T) {
	long(t)
	start := time.Now()
	matrix := &permMatrix{cells: map[[2]string]permCell{}}
	var mutationRows []string
	for _, row := range permMutations {
		mutationRows = append(mutationRows, row.name)
	}

	// Rows run a few at a time (t.Run may be called from several
	// goroutines); they share nothing but the database servers.
	t.Run("mutations", func(t *testing.T) {
		rows := make(chan int)
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rows {
					row := permMutations[r]
					t.Run(row.name, func(t *testing.T) {
						e := newPermEnv(t)
						w := permWants(t, row.name, row.want)
						people := e.newPermPeople(t, r+1)
						for a, actor := range permActors {
							t.Run(actor.role, func(t *testing.T) {
								f := e.newPermFixture(t, people, r*len(permActors)+a+1)
								as := f.as(actor.role)
								if row.setup != nil {
									row.setup(t, e, f, as)
								}
								var vars map[string]any
								if row.vars != nil {
									vars = row.vars(f, as)
								}
								got, g := e.permAnswer(t, f, as, row.query, vars, nil)
								matrix.put(row.name, actor.role, permCell{got, w[a]})
								if !permWanted(w[a], got) {
									t.Errorf("%s as %s: got %s, want %s (errors: %+v)", row.name, actor.role, got, w[a], g.Errors)
								}
							})
						}
					})
				}
			}()
		}
		for r := range permMutations {
			rows <- r
		}
		close(rows)
		wg.Wait()
	})

	// The queries only read: one fixture serves every cell.
	var queryRows []string
	for _, q := range permQueries {
		queryRows = append(queryRows, q.name)
	}
	t.Run("queries", func(t *testing.T) {
		e := newPermEnv(t)
		f := e.newPermFixture(t, e.newPermPeople(t, 0), 0)
		permWatching(permUserTask)(t, e, f, f.users["creator"])
		permWatching(permTeamTask)(t, e, f, f.users["member"])
		for _, q := range permQueries {
			w := permWants(t, q.name, q.want)
			for a, actor := range permActors {
				t.Run(q.name+"/"+actor.role, func(t *testing.T) {
					as := f.as(actor.role)
					var vars map[string]any
					if q.vars != nil {
						vars = q.vars(f, as)
					}
					got, g := e.permAnswer(t, f, as, q.query, vars, q.outcome)
					matrix.put(q.name, actor.role, permCell{got, w[a]})
					if !permWanted(w[a], got) {
						t.Errorf("%s as %s: got %s, want %s (data: %s, errors: %+v)", q.name, actor.role, got, w[a], g.Data, g.Errors)
					}
				})
			}
		}
	})

	t.Logf("permission matrix (SPEC §5.3): %d mutation cells, each on a fresh fixture, and %d query cells, in %v;"+
		" !got/want marks a cell that differs from the SPEC%s%s", len(permMutations)*len(permActors),
		len(permQueries)*len(permActors), time.Since(start).Round(time.Millisecond),
		matrix.render("mutation", mutationRows), matrix.render("query", queryRows))
}

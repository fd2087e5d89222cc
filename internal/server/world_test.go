package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// The world of the authorization tests: two teams with a history, and the
// callers SPEC §5.3 tells apart. It also holds the ground truth the tests
// judge answers by, written from how the world was built, not read back
// from the service.

// worldActors are the callers, in report order: the kinds issue 8 names,
// and ext, who created team T's tasks without being in T.
var worldActors = []string{"outsider", "former", "member", "lostWatcher", "teamAdmin", "owner", "admin", "ext"}

// worldUsers are the actors plus ext2, who takes a task out of the team.
var worldUsers = append(slices.Clone(worldActors), "ext2")

type world struct {
	e     *env
	users map[string]person      // by role
	role  map[string]string      // user id → role
	teams map[string]models.Team // "T", "T2"
	tasks map[string]models.Task // by name
	code  models.TeamCreationInviteCode

	// Ground truth.
	members  map[string][]string // team id → roles of its members now
	codeSeen map[string][]string // team id → roles who may see its join code
	facts    map[string]taskFacts
}

// taskFacts: who a task belongs to, as built.
type taskFacts struct {
	name     string
	creator  string   // role
	assignee string   // role of the direct user assignee, or ""
	teams    []string // ids of its team context and assigned team
}

func worldEmail(role string) string { return "walk-" + strings.ToLower(role) + "@world.example.com" }

// newWorldEnv serves the handler with the world's admin in ADMIN_EMAILS.
func newWorldEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, opts{cfg: map[string]string{"ADMIN_EMAILS": worldEmail("admin")}, unmirrored: true})
}

// newWorld builds, through the storage facade (which records the audit log
// as the API would):
//
//	team T   owner (OWNER, ADMIN), teamAdmin (ADMIN, POC), member; former and
//	         lostWatcher were members and were removed
//	team T2  ext (owner, POC), ext2, outsider
//	tTeam    by ext, assigned to T; watched by member and lostWatcher
//	tHanded  by ext, assigned to T, handed by teamAdmin to member; watched by owner
//	tLeft    by ext, assigned to T, then to ext2 outside the team, edited by
//	         ext2; watched by member (who may no longer read it)
//	tT2      by ext2, assigned to T2; watched by outsider
//	tOwn     by member, unassigned
//	tDeleted by owner, assigned to T, soft-deleted
func newWorld(t *testing.T, e *env) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{e: e, users: map[string]person{}, role: map[string]string{}, teams: map[string]models.Team{},
		tasks: map[string]models.Task{}, members: map[string][]string{}, codeSeen: map[string][]string{}, facts: map[string]taskFacts{}}
	for _, r := range worldUsers {
		p := e.person(t, worldEmail(r))
		w.users[r], w.role[p.id] = p, r
	}
	u := func(r string) string { return w.users[r].id }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	w.code, err = e.store.GenerateCreationCode(ctx, u("admin"), "world")
	must(err)
	code2, err := e.store.GenerateCreationCode(ctx, u("admin"), "world 2")
	must(err)
	w.teams["T"], err = e.store.CreateTeam(ctx, u("owner"), storage.NewTeam{Name: "Team T", POCID: u("teamAdmin"),
		MemberIDs: []string{u("teamAdmin"), u("member"), u("former"), u("lostWatcher")}, CreationCode: w.code.Code})
	must(err)
	must(e.store.GrantTeamRole(ctx, u("owner"), w.teams["T"].ID, u("teamAdmin"), models.RoleAdmin))
	w.teams["T2"], err = e.store.CreateTeam(ctx, u("ext"), storage.NewTeam{Name: "Team T2", POCID: u("ext"),
		MemberIDs: []string{u("ext2"), u("outsider")}, CreationCode: code2.Code})
	must(err)
	T, T2 := w.teams["T"].ID, w.teams["T2"].ID

	create := func(name, creator string, to *storage.NewAssignment) models.Task {
		t.Helper()
		task, err := e.store.CreateTask(ctx, u(creator), models.Task{Title: name, Description: ptr("about " + name),
			Priority: models.PriorityMedium, Status: models.StatusTodo}, to)
		must(err)
		w.tasks[name] = task
		return task
	}
	toTeam := func(id string) *storage.NewAssignment {
		return &storage.NewAssignment{AssigneeID: id, Type: models.AssigneeTeam, TeamID: id}
	}
	current := func(task models.Task) models.TaskAssignment {
		t.Helper()
		as, err := e.store.ActiveAssignments(ctx, []string{task.ID})
		must(err)
		if len(as) != 1 {
			t.Fatalf("%s: %d active assignments", task.Title, len(as))
		}
		return as[0]
	}
	create("tTeam", "ext", toTeam(T))
	handed := create("tHanded", "ext", toTeam(T))
	_, err = e.store.HandToMember(ctx, u("teamAdmin"), handed, current(handed), u("member"))
	must(err)
	left := create("tLeft", "ext", toTeam(T))
	c := current(left)
	_, err = e.store.AssignTask(ctx, u("ext"), left, &c, storage.NewAssignment{AssigneeID: u("ext2"), Type: models.AssigneeUser})
	must(err)
	edited := left
	edited.Title = "tLeft"
	edited.Description = ptr("changed by its new assignee")
	w.tasks["tLeft"], err = e.store.UpdateTask(ctx, u("ext2"), left, edited, "")
	must(err)
	create("tT2", "ext2", toTeam(T2))
	create("tOwn", "member", nil)
	del := create("tDeleted", "owner", toTeam(T))
	gone := del
	gone.IsDeleted = true
	w.tasks["tDeleted"], err = e.store.UpdateTask(ctx, u("owner"), del, gone, T)
	must(err)

	for _, wt := range []struct{ who, task string }{{"member", "tTeam"}, {"lostWatcher", "tTeam"}, {"owner", "tHanded"},
		{"member", "tLeft"}, {"outsider", "tT2"}} {
		must(e.store.WatchTask(ctx, u(wt.who), w.tasks[wt.task].ID, true))
	}
	for _, gone := range []string{"former", "lostWatcher"} {
		ms, err := e.store.MembershipsOfUsers(ctx, []string{u(gone)})
		must(err)
		if len(ms) != 1 {
			t.Fatalf("%s: %d memberships", gone, len(ms))
		}
		must(e.store.RemoveMember(ctx, u("owner"), w.teams["T"], ms[0]))
	}

	w.members[T] = []string{"owner", "teamAdmin", "member"}
	w.members[T2] = []string{"ext", "ext2", "outsider"}
	w.codeSeen[T] = []string{"owner", "teamAdmin"} // the creator and OWNER; the POC and ADMIN
	w.codeSeen[T2] = []string{"ext"}
	for name, f := range map[string]taskFacts{
		"tTeam":    {creator: "ext", teams: []string{T}},
		"tHanded":  {creator: "ext", assignee: "member", teams: []string{T}},
		"tLeft":    {creator: "ext", assignee: "ext2"},
		"tT2":      {creator: "ext2", teams: []string{T2}},
		"tOwn":     {creator: "member"},
		"tDeleted": {creator: "owner", teams: []string{T}},
	} {
		f.name = name
		w.facts[w.tasks[name].ID] = f
	}
	return w
}

func ptr[T any](v T) *T { return &v }

// The oracle: SPEC §5.3's read rules over the ground truth.

func (w *world) isAdmin(actor string) bool { return actor == "admin" }

func (w *world) readsTeam(actor, teamID string) bool {
	return slices.Contains(w.members[teamID], actor)
}

func (w *world) readsTask(t *testing.T, actor, taskID string) bool {
	t.Helper()
	f, ok := w.facts[taskID]
	if !ok {
		t.Fatalf("the answer names a task %s the world did not make", taskID)
	}
	if f.creator == actor || f.assignee == actor || w.isAdmin(actor) {
		return true
	}
	return slices.ContainsFunc(f.teams, func(team string) bool { return w.readsTeam(actor, team) })
}

func (w *world) seesEmail(actor, userID string) bool {
	target := w.role[userID]
	if target == actor || w.isAdmin(actor) {
		return true
	}
	for _, ms := range w.members {
		if slices.Contains(ms, actor) && slices.Contains(ms, target) {
			return true
		}
	}
	return false
}

func (w *world) seesInviteCode(actor, teamID string) bool {
	return slices.Contains(w.codeSeen[teamID], actor)
}

// id returns the id of the named user, team or task.
func (w *world) id(t *testing.T, name string) string {
	t.Helper()
	if p, ok := w.users[name]; ok {
		return p.id
	}
	if tm, ok := w.teams[name]; ok {
		return tm.ID
	}
	if tk, ok := w.tasks[name]; ok {
		return tk.ID
	}
	t.Fatalf("the world has no %q", name)
	return ""
}

// as runs a query as the named actor.
func (w *world) as(t *testing.T, actor, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return w.e.graphqlAs(t, w.users[actor].token, query, vars)
}

// String names the world's ids in s, for readable failures.
func (w *world) names(s string) string {
	for id, r := range w.role {
		s = strings.ReplaceAll(s, id, "<"+r+">")
	}
	for n, tm := range w.teams {
		s = strings.ReplaceAll(s, tm.ID, "<"+n+">")
	}
	for n, tk := range w.tasks {
		s = strings.ReplaceAll(s, tk.ID, "<"+n+">")
	}
	return s
}

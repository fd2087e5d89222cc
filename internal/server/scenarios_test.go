package server_test

// Client sessions, one per frontend screen (original-system.md §10): each
// test signs people in, drives the real handler over HTTP the way the screen
// would, and checks what the screen would show.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

const scenarioAdmin = "root@example.com"

// missingID is a well-formed id that names nothing.
const missingID = "0000000000000000000000ab"

// newScenarioEnv is newEnv with an admin, and with MongoDB prepared as
// `todo serve` prepares it: the unique indexes that make membership, watch
// and assignment writes idempotent exist.
//
// reads is READS_FROM_POSTGRES: with "all", every read family with a
// PostgreSQL read path is served from the mirror and every read is
// shadowed on MongoDB; when the test ends, the mirror must have served
// reads and no shadow read may have found a mismatch.
func newScenarioEnv(t *testing.T, reads string) (*env, person) {
	t.Helper()
	cfg := map[string]string{"ADMIN_EMAILS": scenarioAdmin}
	if reads != "" {
		cfg["READS_FROM_POSTGRES"], cfg["READ_SHADOW_PERCENT"] = reads, "100"
	}
	e := newEnv(t, opts{cfg: cfg})
	if err := e.mongo.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if reads != "" {
		t.Cleanup(func() {
			e.store.WaitShadows()
			for _, st := range e.store.ReadStates() {
				if !storage.ReadableFromPostgres(st.Family) {
					continue
				}
				if st.Mismatched != 0 || (st.Served == 0 && st.Fallbacks > 0) {
					t.Errorf("%s: the mirror served %d reads, %d shadow mismatches (matched %d, lag %d, candidate errors %d, fallbacks %d); want no mismatch, and some served if any was asked",
						st.ReadSetting, st.Served, st.Mismatched, st.Matched, st.Lag, st.CandidateErrors, st.Fallbacks)
				}
				t.Logf("%s: served %d, matched %d, lag %d, mismatched %d, candidate errors %d, fallbacks %d",
					st.ReadSetting, st.Served, st.Matched, st.Lag, st.Mismatched, st.CandidateErrors, st.Fallbacks)
			}
		})
	}
	return e, e.person(t, scenarioAdmin)
}

// bothSources runs a scenario twice, with identical expectations: every
// read family on MongoDB, then every one on PostgreSQL (shadowed at 100 %).
func bothSources(t *testing.T, scenario func(t *testing.T, reads string)) {
	t.Parallel()
	for _, src := range []struct{ name, reads string }{{"mongodb", ""}, {"postgres", "all"}} {
		t.Run(src.name, func(t *testing.T) {
			parallel(t)
			scenario(t, src.reads)
		})
	}
}

// task is what the screens read of a task.
type task struct {
	ID, Title, Status, Priority string
	Description                 *string
	DueAt, StartedAt, UpdatedAt *time.Time
	CreatedAt                   time.Time
	InWatchlist                 bool
	Labels                      []struct{ ID, Name string }
	CreatedBy                   *struct{ ID string }
	DeferredDetails             *struct {
		DeferredTill time.Time
		DeferredBy   *struct{ ID string }
	}
	Assignment *struct {
		Assignee *struct {
			Typename string `json:"__typename"`
			ID       string
		}
		Team *struct{ ID string }
	}
}

const taskFields = `id title description status priority dueAt startedAt createdAt updatedAt inWatchlist
	labels { id name } createdBy { id } deferredDetails { deferredTill deferredBy { id } }
	assignment { assignee { __typename ... on User { id } ... on Team { id } } team { id } }`

// assignee reads "User:<id>", "Team:<id>" or "" (unassigned).
func (x task) assignee() string {
	if x.Assignment == nil || x.Assignment.Assignee == nil {
		return ""
	}
	return x.Assignment.Assignee.Typename + ":" + x.Assignment.Assignee.ID
}

func (x task) teamContext() string {
	if x.Assignment == nil || x.Assignment.Team == nil {
		return ""
	}
	return x.Assignment.Team.ID
}

func (x task) labelNames() []string {
	out := []string{}
	for _, l := range x.Labels {
		out = append(out, l.Name)
	}
	return out
}

type pageInfo struct {
	HasNextPage bool
	EndCursor   *string
}

type taskPage struct {
	TotalCount int
	PageInfo   pageInfo
	Edges      []struct {
		Cursor string
		Node   task
	}
}

func (p taskPage) titles() []string {
	out := []string{}
	for _, e := range p.Edges {
		out = append(out, e.Node.Title)
	}
	return out
}

func titles(ts []task) []string {
	out := []string{}
	for _, x := range ts {
		out = append(out, x.Title)
	}
	return out
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// create runs createTask as p.
func (e *env) create(t *testing.T, p person, in map[string]any) task {
	t.Helper()
	var d struct{ CreateTask task }
	e.must(t, p, `mutation($in: CreateTaskInput!) { createTask(input: $in) { `+taskFields+` } }`, map[string]any{"in": in}, &d)
	return d.CreateTask
}

// mutate runs a task mutation, e.g. `updateTask(id: $id, input: $in)`.
func (e *env) mutate(t *testing.T, p person, call string, vars map[string]any) task {
	t.Helper()
	var d map[string]task
	e.must(t, p, fmt.Sprintf(`mutation(%s) { r: %s { %s } }`, varDecls(vars), call, taskFields), vars, &d)
	return d["r"]
}

// varDecls declares the variables task mutations use.
func varDecls(vars map[string]any) string {
	types := map[string]string{"id": "ID!", "in": "UpdateTaskInput!", "till": "Time!", "u": "ID!"}
	var out []string
	for k := range vars {
		out = append(out, "$"+k+": "+types[k])
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (e *env) update(t *testing.T, p person, id string, in map[string]any) task {
	t.Helper()
	return e.mutate(t, p, "updateTask(id: $id, input: $in)", map[string]any{"id": id, "in": in})
}

func (e *env) deferTo(t *testing.T, p person, id string, till time.Time) task {
	t.Helper()
	return e.mutate(t, p, "deferTask(id: $id, deferredTill: $till)", map[string]any{"id": id, "till": rfc(till)})
}

// read returns the task as p sees it (nil: not visible).
func (e *env) read(t *testing.T, p person, id string) *task {
	t.Helper()
	var d struct{ Task *task }
	e.must(t, p, `query($id: ID!) { task(id: $id) { `+taskFields+` } }`, map[string]any{"id": id}, &d)
	return d.Task
}

const listQuery = `query($f: TaskFilter, $o: TaskOrder, $n: Int, $a: String) {
	tasks(filter: $f, orderBy: $o, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor }
	edges { cursor node { ` + taskFields + ` } } } }`

func (e *env) listTasks(t *testing.T, p person, f, o map[string]any, first, after any) taskPage {
	t.Helper()
	var d struct{ Tasks taskPage }
	e.must(t, p, listQuery, map[string]any{"f": f, "o": o, "n": first, "a": after}, &d)
	return d.Tasks
}

// collect pages through a task list from after (nil: the start) in pages of
// size, checking that no task shows twice, that every page is at most size
// long and ends at its endCursor, and that the pages list exactly
// totalCount tasks.
func (e *env) collect(t *testing.T, p person, f, o map[string]any, size int, after any) []task {
	t.Helper()
	var out []task
	seen := map[string]bool{}
	total := -1
	for range 100 {
		pg := e.listTasks(t, p, f, o, size, after)
		if total < 0 {
			total = pg.TotalCount
		} else if pg.TotalCount != total {
			t.Errorf("filter %v order %v: totalCount changed between pages: got %d, want %d", f, o, pg.TotalCount, total)
		}
		if len(pg.Edges) > size {
			t.Fatalf("filter %v order %v: got a page of %d, want at most %d", f, o, len(pg.Edges), size)
		}
		for _, ed := range pg.Edges {
			if seen[ed.Node.ID] {
				t.Errorf("filter %v order %v: %q listed twice", f, o, ed.Node.Title)
			}
			seen[ed.Node.ID] = true
			out = append(out, ed.Node)
		}
		if n := len(pg.Edges); n > 0 && (pg.PageInfo.EndCursor == nil || *pg.PageInfo.EndCursor != pg.Edges[n-1].Cursor) {
			t.Errorf("filter %v order %v: endCursor %v, want the last edge's cursor", f, o, pg.PageInfo.EndCursor)
		}
		if !pg.PageInfo.HasNextPage {
			return out
		}
		if pg.PageInfo.EndCursor == nil || len(pg.Edges) == 0 {
			t.Fatalf("filter %v order %v: hasNextPage true on an empty page", f, o)
		}
		after = *pg.PageInfo.EndCursor
	}
	t.Fatalf("filter %v order %v: more than 100 pages", f, o)
	return nil
}

// allTasks lists a whole selection and checks totalCount counts exactly it.
func (e *env) allTasks(t *testing.T, p person, f, o map[string]any, size int) []task {
	t.Helper()
	first := e.listTasks(t, p, f, o, size, nil)
	all := e.collect(t, p, f, o, size, nil)
	if len(all) != first.TotalCount {
		t.Errorf("filter %v order %v: the pages list %d tasks, totalCount says %d", f, o, len(all), first.TotalCount)
	}
	return all
}

// sameTitles checks got lists exactly the wanted tasks, in any order.
func sameTitles(t *testing.T, what string, got []task, want ...task) {
	t.Helper()
	g, w := titles(got), titles(want)
	sort.Strings(g)
	sort.Strings(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %q, want %q", what, g, w)
	}
}

// expect runs an operation that must fail with code (and field, when not
// empty). No failure may be INTERNAL.
func (e *env) expect(t *testing.T, p person, what, query string, vars map[string]any, code, field string) {
	t.Helper()
	g := e.graphqlAs(t, p.token, query, vars)
	if len(g.Errors) == 0 {
		t.Errorf("%s: got success %s, want %s", what, g.Data, code)
		return
	}
	gotCode, _ := g.Errors[0].Extensions["code"].(string)
	gotField, _ := g.Errors[0].Extensions["field"].(string)
	if gotCode != code || (field != "" && gotField != field) {
		t.Errorf("%s: got %s field %q (%s), want %s field %q", what, gotCode, gotField, g.Errors[0].Message, code, field)
	}
}

// expectData runs query as p and wants exactly the data want, with no error.
func (e *env) expectData(t *testing.T, p person, what, query string, vars map[string]any, want string) {
	t.Helper()
	g := e.graphqlAs(t, p.token, query, vars)
	if len(g.Errors) > 0 || string(g.Data) != want {
		t.Errorf("%s: got %s %+v, want %s and no error", what, g.Data, g.Errors, want)
	}
}

// patchTask changes a stored task behind the API's back, to give it a past
// (due dates, creation and change times the API would not accept).
func (e *env) patchTask(t *testing.T, id string, change func(*models.Task)) {
	t.Helper()
	ctx := context.Background()
	before, err := e.store.Task(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	after := before
	change(&after)
	saved, err := e.mongo.UpdateTask(ctx, before, after)
	if err != nil {
		t.Fatal(err)
	}
	// Into the mirror too, as a backfill would copy it: reads may come
	// from there.
	if _, err := e.mirror.Upsert(ctx, saved); err != nil {
		t.Fatal(err)
	}
}

// newTeam has admin mint a code and owner create a team with members.
func (e *env) newTeam(t *testing.T, admin, owner person, name string, members ...person) (id, joinCode string) {
	t.Helper()
	var code struct{ GenerateTeamCreationInviteCode struct{ Code string } }
	e.must(t, admin, `mutation { generateTeamCreationInviteCode { code } }`, nil, &code)
	ids := []string{}
	for _, m := range members {
		ids = append(ids, m.id)
	}
	var d struct {
		CreateTeam struct{ ID, InviteCode string }
	}
	e.must(t, owner, `mutation($in: CreateTeamInput!) { createTeam(input: $in) { id inviteCode } }`,
		map[string]any{"in": map[string]any{"name": name, "memberIds": ids, "creationCode": code.GenerateTeamCreationInviteCode.Code}}, &d)
	return d.CreateTeam.ID, d.CreateTeam.InviteCode
}

// labelIDs maps the label names to their ids.
func (e *env) labelIDs(t *testing.T, p person) map[string]string {
	t.Helper()
	var d struct {
		Labels struct{ Nodes []struct{ ID, Name string } }
	}
	e.must(t, p, `{ labels(first: 100) { nodes { id name } } }`, nil, &d)
	out := map[string]string{}
	for _, l := range d.Labels.Nodes {
		out[l.Name] = l.ID
	}
	return out
}

// weekOf returns the Monday-to-Monday week around now in loc.
func weekOf(now time.Time, loc *time.Location) (start, end time.Time) {
	l := now.In(loc)
	start = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -((int(l.Weekday()) + 6) % 7))
	return start, start.AddDate(0, 0, 7)
}

var priorityRank = map[string]int{"HIGH": 1, "MEDIUM": 2, "LOW": 3}

// checkOrder checks ts is sorted by the order field in the direction. Tasks
// without a due date may sit at either end of a DUE_AT order, together.
func checkOrder(t *testing.T, what string, ts []task, field string, desc bool) {
	t.Helper()
	cmpTime := func(a, b time.Time) int { return a.Compare(b) }
	if field == "DUE_AT" {
		var dated []task
		firstNil, lastNil := -1, -1
		for i, x := range ts {
			if x.DueAt == nil {
				if firstNil < 0 {
					firstNil = i
				}
				lastNil = i
				continue
			}
			dated = append(dated, x)
		}
		if firstNil >= 0 && (lastNil-firstNil+1 != len(ts)-len(dated) || (firstNil != 0 && lastNil != len(ts)-1)) {
			t.Errorf("%s: tasks without a due date are scattered: %q", what, titles(ts))
		}
		ts = dated
	}
	for i := 1; i < len(ts); i++ {
		a, b := ts[i-1], ts[i]
		var c int
		switch field {
		case "TITLE":
			c = strings.Compare(a.Title, b.Title)
		case "PRIORITY":
			c = priorityRank[a.Priority] - priorityRank[b.Priority]
		case "DUE_AT":
			c = cmpTime(*a.DueAt, *b.DueAt)
		case "CREATED_AT":
			c = cmpTime(a.CreatedAt, b.CreatedAt)
		default:
			c = cmpTime(*a.UpdatedAt, *b.UpdatedAt)
		}
		if (desc && c < 0) || (!desc && c > 0) {
			t.Errorf("%s: %q comes before %q, out of %s order (desc %v): %q", what, a.Title, b.Title, field, desc, titles(ts))
			return
		}
	}
}

// TestDashboardScenario is the personal dashboard: the All, Deferred and
// include-done views, the filters and orders of the task list, and the
// summary card.
func TestDashboardScenario(t *testing.T) { bothSources(t, testDashboardScenario) }

func testDashboardScenario(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	me, other := e.person(t, "me@example.com"), e.person(t, "other@example.com")
	myTeam, _ := e.newTeam(t, admin, me, "Mine", other)      // me: owner and POC
	theirTeam, _ := e.newTeam(t, admin, other, "Theirs", me) // me: a plain member
	label := e.labelIDs(t, me)

	now := time.Now().UTC().Truncate(time.Second)
	tz := "UTC"
	if _, end := weekOf(now, time.UTC); end.Sub(now) < 2*time.Hour {
		tz = "Etc/GMT+12" // keep "due this week" well inside the week
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	_, weekEnd := weekOf(now, loc)
	dueSoon := now.Add(weekEnd.Sub(now) / 2).Truncate(time.Second)
	dueLater := weekEnd.Add(48 * time.Hour)

	mine := func(title string, extra map[string]any) task {
		in := map[string]any{"title": title, "assignee": map[string]any{"userId": me.id}}
		for k, v := range extra {
			in[k] = v
		}
		return e.create(t, me, in)
	}
	a := mine("Fix login bug", map[string]any{"priority": "HIGH", "labelIds": []string{label["Bug"]}, "dueAt": rfc(dueSoon), "timezone": tz})
	b := e.create(t, me, map[string]any{"title": "Deploy the team service", "priority": "MEDIUM", "status": "IN_PROGRESS",
		"assignee": map[string]any{"teamId": myTeam}})
	c := mine("Close the sprint", map[string]any{"status": "DONE"})
	c2 := mine("Archive old chore", map[string]any{"status": "DONE"})
	d := mine("Parked idea", map[string]any{"priority": "MEDIUM"})
	e.deferTo(t, me, d.ID, now.Add(24*time.Hour))
	h := mine("Match a.*b literally", map[string]any{"status": "BLOCKED", "priority": "MEDIUM", "labelIds": []string{label["API"]},
		"dueAt": rfc(dueLater), "timezone": tz})
	o := mine("Send the report", map[string]any{"description": "Follow up on the LOGIN page"})
	p := e.create(t, other, map[string]any{"title": "Review pull request", "priority": "HIGH", "assignee": map[string]any{"userId": me.id}})
	e.create(t, me, map[string]any{"title": "Someone else's job", "assignee": map[string]any{"userId": other.id}})
	e.create(t, me, map[string]any{"title": "Unassigned draft"})
	e.create(t, other, map[string]any{"title": "Their team work", "assignee": map[string]any{"teamId": theirTeam}})
	gone := mine("Deleted task", nil)
	e.mutate(t, me, "deleteTask(id: $id)", map[string]any{"id": gone.ID})
	// History the API would not write: o is overdue, c2 was made and closed a month ago.
	e.patchTask(t, o.ID, func(x *models.Task) { due := now.Add(-48 * time.Hour); x.DueAt = &due })
	e.patchTask(t, c2.ID, func(x *models.Task) { old := now.AddDate(0, 0, -30); x.CreatedAt, x.UpdatedAt = old, &old })
	time.Sleep(5 * time.Millisecond)
	h = e.update(t, me, h.ID, map[string]any{"isAcknowledged": true}) // the last one touched

	open := e.allTasks(t, me, nil, nil, 2)
	sameTitles(t, "default list (assigned to me or my POC team, not done, not deferred)", open, a, b, h, o, p)
	if len(open) > 0 && open[0].ID != h.ID {
		t.Errorf("default order: got %q first, want the last updated %q", open[0].Title, h.Title)
	}
	checkOrder(t, "default order", open, "UPDATED_AT", true)

	for _, tc := range []struct {
		name string
		f    map[string]any
		want []task
	}{
		{"includeDone", map[string]any{"includeDone": true}, []task{a, b, c, c2, h, o, p}},
		{"Deferred tab", map[string]any{"deferred": "ONLY"}, []task{d}},
		{"deferred INCLUDE", map[string]any{"deferred": "INCLUDE"}, []task{a, b, d, h, o, p}},
		{"statuses DEFERRED", map[string]any{"statuses": []string{"DEFERRED"}}, []task{d}},
		{"statuses TODO (a deferred task is not TODO)", map[string]any{"statuses": []string{"TODO"}, "deferred": "INCLUDE"}, []task{a, o, p}},
		{"statuses TODO and DEFERRED", map[string]any{"statuses": []string{"TODO", "DEFERRED"}}, []task{a, d, o, p}},
		{"statuses DONE", map[string]any{"statuses": []string{"DONE"}}, []task{c, c2}},
		{"statuses IN_PROGRESS and BLOCKED", map[string]any{"statuses": []string{"IN_PROGRESS", "BLOCKED"}}, []task{b, h}},
		{"priorities HIGH", map[string]any{"priorities": []string{"HIGH"}}, []task{a, p}},
		{"priorities MEDIUM and LOW", map[string]any{"priorities": []string{"MEDIUM", "LOW"}}, []task{b, h, o}},
		{"labelIds Bug", map[string]any{"labelIds": []string{label["Bug"]}}, []task{a}},
		{"labelIds Bug or API", map[string]any{"labelIds": []string{label["Bug"], label["API"]}}, []task{a, h}},
		{"search LOGIN (title or description, any case)", map[string]any{"search": "LOGIN"}, []task{a, o}},
		{"search fix login", map[string]any{"search": "fix login"}, []task{a}},
		{"search .* (literal)", map[string]any{"search": ".*"}, []task{h}},
		{"search a.*b (literal)", map[string]any{"search": "a.*b"}, []task{h}},
		{"search . (literal)", map[string]any{"search": "."}, []task{h}},
		{"search ( (literal)", map[string]any{"search": "("}, nil},
		{"dueBefore now", map[string]any{"dueBefore": rfc(now)}, []task{o}},
		{"dueBefore end of week", map[string]any{"dueBefore": rfc(weekEnd)}, []task{a, o}},
		{"dueAfter end of week", map[string]any{"dueAfter": rfc(weekEnd)}, []task{h}},
		{"due between now and end of week", map[string]any{"dueAfter": rfc(now), "dueBefore": rfc(weekEnd)}, []task{a}},
		{"HIGH and search review", map[string]any{"priorities": []string{"HIGH"}, "search": "review"}, []task{p}},
	} {
		sameTitles(t, tc.name, e.allTasks(t, me, tc.f, nil, 2), tc.want...)
	}

	everything := map[string]any{"includeDone": true, "deferred": "INCLUDE"}
	for _, field := range []string{"UPDATED_AT", "CREATED_AT", "DUE_AT", "PRIORITY", "TITLE"} {
		for _, dir := range []string{"ASC", "DESC"} {
			what := field + " " + dir
			got := e.allTasks(t, me, everything, map[string]any{"field": field, "direction": dir}, 3)
			sameTitles(t, what, got, a, b, c, c2, d, h, o, p)
			checkOrder(t, what, got, field, dir == "DESC")
		}
	}
	for field, desc := range map[string]bool{"UPDATED_AT": true, "CREATED_AT": true, "TITLE": false, "PRIORITY": false} {
		checkOrder(t, field+" default direction", e.allTasks(t, me, everything, map[string]any{"field": field}, 3), field, desc)
	}
	if got := e.allTasks(t, me, everything, map[string]any{"field": "CREATED_AT", "direction": "ASC"}, 3); len(got) > 0 && got[0].ID != c2.ID {
		t.Errorf("CREATED_AT ASC: got %q first, want the month-old %q", got[0].Title, c2.Title)
	}

	const summaryQ = `query($team: ID, $tz: String) { taskSummary(teamId: $team, timezone: $tz) {
		byStatus { status count } overdue dueThisWeek completedThisWeek createdThisWeek } }`
	type summary struct {
		ByStatus []struct {
			Status string
			Count  int
		}
		Overdue, DueThisWeek, CompletedThisWeek, CreatedThisWeek int
	}
	check := func(who person, team any, want map[string]int, overdue, dueWeek, doneWeek, createdWeek int) {
		t.Helper()
		var s struct{ TaskSummary summary }
		e.must(t, who, summaryQ, map[string]any{"team": team, "tz": tz}, &s)
		got := map[string]int{}
		for _, bs := range s.TaskSummary.ByStatus {
			got[bs.Status] = bs.Count
		}
		for _, st := range []string{"TODO", "IN_PROGRESS", "DEFERRED", "BLOCKED", "DONE"} {
			if _, listed := got[st]; !listed || got[st] != want[st] {
				t.Errorf("summary (team %v) %s: got %d (listed %v), want %d", team, st, got[st], listed, want[st])
			}
		}
		ts := s.TaskSummary
		if ts.Overdue != overdue || ts.DueThisWeek != dueWeek || ts.CompletedThisWeek != doneWeek || ts.CreatedThisWeek != createdWeek {
			t.Errorf("summary (team %v): got overdue %d, dueThisWeek %d, completedThisWeek %d, createdThisWeek %d; want %d, %d, %d, %d",
				team, ts.Overdue, ts.DueThisWeek, ts.CompletedThisWeek, ts.CreatedThisWeek, overdue, dueWeek, doneWeek, createdWeek)
		}
	}
	check(me, nil, map[string]int{"TODO": 3, "IN_PROGRESS": 1, "DEFERRED": 1, "BLOCKED": 1, "DONE": 2}, 1, 1, 1, 7)
	check(me, myTeam, map[string]int{"IN_PROGRESS": 1}, 0, 0, 0, 1)
	check(me, theirTeam, map[string]int{"TODO": 1}, 0, 0, 0, 1)
	stranger := e.person(t, "stranger@example.com")
	e.expect(t, stranger, "a stranger's summary of my team", summaryQ, map[string]any{"team": myTeam}, "NOT_FOUND", "")
}

// TestTeamTasksScenario is a team's Todos page: tasks assigned to the team
// and tasks handed to its members, for members only.
func TestTeamTasksScenario(t *testing.T) { bothSources(t, testTeamTasksScenario) }

func testTeamTasksScenario(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	owner, member, outsider := e.person(t, "owner@example.com"), e.person(t, "member@example.com"), e.person(t, "outsider@example.com")
	teamID, _ := e.newTeam(t, admin, owner, "Support", member)

	toTeam := map[string]any{"teamId": teamID}
	t1 := e.create(t, owner, map[string]any{"title": "Team backlog item", "assignee": toTeam})
	t2 := e.create(t, owner, map[string]any{"title": "Made on the team page", "assignee": map[string]any{"userId": member.id}, "teamId": teamID})
	t3 := e.create(t, owner, map[string]any{"title": "Handed to the member", "assignee": toTeam})
	t3 = e.mutate(t, owner, "reassignTaskToMember(taskId: $id, userId: $u)", map[string]any{"id": t3.ID, "u": member.id})
	if t3.assignee() != "User:"+member.id || t3.teamContext() != teamID {
		t.Errorf("handed task: got assignee %s team %s, want the member in the team", t3.assignee(), t3.teamContext())
	}
	t4 := e.create(t, owner, map[string]any{"title": "Direct to the member", "assignee": map[string]any{"userId": member.id}})
	t5 := e.create(t, owner, map[string]any{"title": "Finished team item", "status": "DONE", "assignee": toTeam})

	scope := map[string]any{"scope": "TEAM", "teamId": teamID}
	sameTitles(t, "scope TEAM", e.allTasks(t, member, scope, nil, 2), t1, t2, t3)
	sameTitles(t, "scope TEAM with done", e.allTasks(t, member, map[string]any{"scope": "TEAM", "teamId": teamID, "includeDone": true}, nil, 2),
		t1, t2, t3, t5)

	const teamTasksQ = `query($t: ID!, $f: TaskFilter) { team(id: $t) { tasks(filter: $f, first: 50) { totalCount nodes { id title } } } }`
	var tt struct {
		Team struct {
			Tasks struct {
				TotalCount int
				Nodes      []task
			}
		}
	}
	e.must(t, member, teamTasksQ, map[string]any{"t": teamID}, &tt)
	sameTitles(t, "team(id){tasks}", tt.Team.Tasks.Nodes, t1, t2, t3)
	if tt.Team.Tasks.TotalCount != 3 {
		t.Errorf("team(id){tasks} totalCount: got %d, want 3", tt.Team.Tasks.TotalCount)
	}
	// A filter given to team(id){tasks} cannot widen it to another scope.
	e.must(t, member, teamTasksQ, map[string]any{"t": teamID, "f": map[string]any{"scope": "ASSIGNED_TO_ME"}}, &tt)
	sameTitles(t, "team(id){tasks} with scope ASSIGNED_TO_ME", tt.Team.Tasks.Nodes, t1, t2, t3)

	sameTitles(t, "the member's dashboard", e.allTasks(t, member, nil, nil, 5), t2, t3, t4)
	sameTitles(t, "the POC's dashboard", e.allTasks(t, owner, nil, nil, 5), t1)

	e.expect(t, outsider, "outsider lists scope TEAM", listQuery, map[string]any{"f": scope}, "NOT_FOUND", "")
	e.expectData(t, outsider, "outsider reads team(id){tasks}", teamTasksQ, map[string]any{"t": teamID}, `{"team":null}`)
	e.expect(t, member, "scope TEAM without teamId", listQuery, map[string]any{"f": map[string]any{"scope": "TEAM"}}, "BAD_USER_INPUT", "filter.teamId")
	if got := e.read(t, outsider, t1.ID); got != nil {
		t.Errorf("outsider reads a team task: got %+v, want null", got)
	}
	if got := e.read(t, member, t1.ID); got == nil || got.assignee() != "Team:"+teamID {
		t.Errorf("member reads the team task: got %+v, want it assigned to the team", got)
	}
}

// TestCreateAndEditTaskScenario is the task form: create with everything,
// the due-date rule in the caller's zone, and partial edits.
func TestCreateAndEditTaskScenario(t *testing.T) { bothSources(t, testCreateAndEditTaskScenario) }

func testCreateAndEditTaskScenario(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	me, mate, outsider := e.person(t, "me@example.com"), e.person(t, "mate@example.com"), e.person(t, "outsider@example.com")
	teamID, _ := e.newTeam(t, admin, me, "Design", mate)
	label := e.labelIDs(t, me)
	const createQ = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`

	tomorrow := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
	full := e.create(t, me, map[string]any{"title": "Ship the new onboarding", "description": "Three screens", "priority": "HIGH",
		"labelIds": []string{label["Bug"], label["Feature"]}, "dueAt": rfc(tomorrow), "timezone": "Europe/Berlin",
		"assignee": map[string]any{"userId": mate.id}, "teamId": teamID})
	if full.Title != "Ship the new onboarding" || full.Description == nil || *full.Description != "Three screens" ||
		full.Priority != "HIGH" || full.Status != "TODO" || full.StartedAt != nil {
		t.Errorf("created: got %q %v %s %s startedAt %v, want the input, TODO, not started", full.Title, full.Description, full.Priority, full.Status, full.StartedAt)
	}
	if got := full.labelNames(); !slices.Equal(got, []string{"Bug", "Feature"}) {
		t.Errorf("created labels: got %q, want [Bug Feature]", got)
	}
	if full.DueAt == nil || !full.DueAt.Equal(tomorrow) {
		t.Errorf("created dueAt: got %v, want %v", full.DueAt, tomorrow)
	}
	if full.assignee() != "User:"+mate.id || full.teamContext() != teamID || full.CreatedBy == nil || full.CreatedBy.ID != me.id {
		t.Errorf("created: got assignee %s team %s createdBy %+v, want the mate, in the team, by me", full.assignee(), full.teamContext(), full.CreatedBy)
	}
	if got := e.read(t, mate, full.ID); got == nil || got.Title != full.Title {
		t.Errorf("the assignee reads the task: got %+v", got)
	}

	// Due dates are judged by the calendar in the caller's zone.
	const kiri = "Pacific/Kiritimati" // UTC+14: its "today" starts on another UTC day at most hours
	kloc, err := time.LoadLocation(kiri)
	if err != nil {
		t.Fatal(err)
	}
	kn := time.Now().In(kloc)
	todayStart := time.Date(kn.Year(), kn.Month(), kn.Day(), 0, 0, 0, 0, kloc)
	early := e.create(t, me, map[string]any{"title": "Due at midnight", "dueAt": rfc(todayStart), "timezone": kiri})
	if early.DueAt == nil || !early.DueAt.Equal(todayStart) {
		t.Errorf("due earlier today in %s: got %v, want %v", kiri, early.DueAt, todayStart)
	}
	e.expect(t, me, "due yesterday in the caller's zone", createQ,
		map[string]any{"in": map[string]any{"title": "Late", "dueAt": rfc(todayStart.Add(-time.Second)), "timezone": kiri}}, "BAD_USER_INPUT", "input.dueAt")
	e.expect(t, me, "dueAt without timezone", createQ,
		map[string]any{"in": map[string]any{"title": "No zone", "dueAt": rfc(tomorrow)}}, "BAD_USER_INPUT", "input.timezone")
	e.expect(t, me, "an unknown timezone", createQ,
		map[string]any{"in": map[string]any{"title": "Mars", "dueAt": rfc(tomorrow), "timezone": "Mars/Olympus"}}, "BAD_USER_INPUT", "input.timezone")

	before := time.Now().Add(-time.Second)
	started := e.create(t, me, map[string]any{"title": "Already going", "status": "IN_PROGRESS"})
	if started.Status != "IN_PROGRESS" || started.StartedAt == nil || started.StartedAt.Before(before) || started.StartedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("created IN_PROGRESS: got status %s startedAt %v, want startedAt now", started.Status, started.StartedAt)
	}

	for _, tc := range []struct {
		what, field, code string
		in                map[string]any
	}{
		{"a label that does not exist", "input.labelIds", "BAD_USER_INPUT", map[string]any{"labelIds": []string{label["Bug"], missingID}}},
		{"status DEFERRED", "input.status", "BAD_USER_INPUT", map[string]any{"status": "DEFERRED"}},
		{"an assignee that does not exist", "input.assignee.userId", "BAD_USER_INPUT", map[string]any{"assignee": map[string]any{"userId": missingID}}},
		{"both userId and teamId", "input.assignee", "BAD_USER_INPUT", map[string]any{"assignee": map[string]any{"userId": me.id, "teamId": teamID}}},
		{"a team context whose team the assignee is not in", "input.assignee.userId", "BAD_USER_INPUT",
			map[string]any{"assignee": map[string]any{"userId": outsider.id}, "teamId": teamID}},
		{"a blank title", "input.title", "BAD_USER_INPUT", map[string]any{"title": "   "}},
	} {
		in := map[string]any{"title": "Refused"}
		for k, v := range tc.in {
			in[k] = v
		}
		e.expect(t, me, "createTask with "+tc.what, createQ, map[string]any{"in": in}, tc.code, tc.field)
	}
	e.expect(t, outsider, "a non-member assigns to the team", createQ,
		map[string]any{"in": map[string]any{"title": "Push", "assignee": map[string]any{"teamId": teamID}}}, "NOT_FOUND", "")
	e.expect(t, outsider, "a non-member creates in the team's context", createQ,
		map[string]any{"in": map[string]any{"title": "Push", "assignee": map[string]any{"userId": outsider.id}, "teamId": teamID}}, "NOT_FOUND", "")

	// Partial edits: omitted fields stay, explicit nulls clear.
	x := e.create(t, me, map[string]any{"title": "Draft", "description": "Long text", "priority": "HIGH",
		"labelIds": []string{label["Bug"], label["API"]}, "dueAt": rfc(tomorrow), "timezone": "UTC"})
	same := func(what string, got task, title string, desc *string, due *time.Time, labels int) {
		t.Helper()
		if got.Title != title || (got.Description == nil) != (desc == nil) || (desc != nil && *got.Description != *desc) ||
			(got.DueAt == nil) != (due == nil) || (due != nil && !got.DueAt.Equal(*due)) || got.Priority != "HIGH" || len(got.Labels) != labels {
			t.Errorf("%s: got title %q description %v dueAt %v priority %s %d labels; want %q %v %v HIGH %d labels",
				what, got.Title, got.Description, got.DueAt, got.Priority, len(got.Labels), title, desc, due, labels)
		}
	}
	text := "Long text"
	same("after renaming", e.update(t, me, x.ID, map[string]any{"title": "Renamed"}), "Renamed", &text, &tomorrow, 2)
	same("after clearing the description", e.update(t, me, x.ID, map[string]any{"description": nil}), "Renamed", nil, &tomorrow, 2)
	same("after clearing the due date", e.update(t, me, x.ID, map[string]any{"dueAt": nil}), "Renamed", nil, nil, 2)
	const updateQ = `mutation($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { id } }`
	for _, tc := range []struct {
		what, field string
		in          map[string]any
	}{
		{"title null", "input.title", map[string]any{"title": nil}},
		{"a blank title", "input.title", map[string]any{"title": " "}},
		{"a label that does not exist", "input.labelIds", map[string]any{"labelIds": []string{missingID}}},
		{"status DEFERRED", "input.status", map[string]any{"status": "DEFERRED"}},
		{"a due date yesterday in the caller's zone", "input.dueAt", map[string]any{"dueAt": rfc(todayStart.Add(-time.Second)), "timezone": kiri}},
		{"dueAt without timezone", "input.timezone", map[string]any{"dueAt": rfc(tomorrow)}},
		{"startedAt in the future", "input.startedAt", map[string]any{"startedAt": rfc(tomorrow)}},
	} {
		e.expect(t, me, "updateTask with "+tc.what, updateQ, map[string]any{"id": x.ID, "in": tc.in}, "BAD_USER_INPUT", tc.field)
	}
	if got := e.read(t, me, x.ID); got == nil {
		t.Fatal("the edited task vanished")
	} else {
		same("after the refused edits", *got, "Renamed", nil, nil, 2)
	}
	if got := e.update(t, me, x.ID, map[string]any{"dueAt": rfc(todayStart), "timezone": kiri}); got.DueAt == nil || !got.DueAt.Equal(todayStart) {
		t.Errorf("update dueAt earlier today in %s: got %v, want %v", kiri, got.DueAt, todayStart)
	}
	if got := e.update(t, me, x.ID, map[string]any{"status": "IN_PROGRESS"}); got.Status != "IN_PROGRESS" || got.StartedAt == nil {
		t.Errorf("update to IN_PROGRESS: got %s startedAt %v, want startedAt set", got.Status, got.StartedAt)
	}
	if got := e.update(t, me, x.ID, map[string]any{"labelIds": []string{}}); len(got.Labels) != 0 || got.Title != "Renamed" {
		t.Errorf("update labelIds []: got %q %q, want no labels, title kept", got.labelNames(), got.Title)
	}
	e.expect(t, outsider, "a stranger edits the task", updateQ, map[string]any{"id": x.ID, "in": map[string]any{"title": "Mine"}}, "NOT_FOUND", "")
}

// TestDeferScenario is the defer dialog and what deferral does to a task.
func TestDeferScenario(t *testing.T) { bothSources(t, testDeferScenario) }

func testDeferScenario(t *testing.T, reads string) {
	e, _ := newScenarioEnv(t, reads)
	me := e.person(t, "me@example.com")
	now := time.Now().UTC().Truncate(time.Second)
	due := now.Add(72 * time.Hour)
	x := e.create(t, me, map[string]any{"title": "Quarterly plan", "dueAt": rfc(due), "timezone": "UTC", "assignee": map[string]any{"userId": me.id}})
	const deferQ = `mutation($id: ID!, $till: Time!) { deferTask(id: $id, deferredTill: $till) { id } }`

	e.expect(t, me, "defer to the past", deferQ, map[string]any{"id": x.ID, "till": rfc(now.Add(-time.Hour))}, "BAD_USER_INPUT", "deferredTill")
	e.expect(t, me, "defer past the due date", deferQ, map[string]any{"id": x.ID, "till": rfc(due.Add(time.Hour))}, "UNPROCESSABLE", "")
	e.expect(t, me, "defer to the due date", deferQ, map[string]any{"id": x.ID, "till": rfc(due)}, "UNPROCESSABLE", "")
	if got := e.read(t, me, x.ID); got == nil || got.Status != "TODO" || got.DeferredDetails != nil {
		t.Fatalf("after refused deferrals: got %+v, want TODO and no deferral", got)
	}

	till := now.Add(24 * time.Hour)
	got := e.deferTo(t, me, x.ID, till)
	if got.Status != "DEFERRED" || got.DeferredDetails == nil || !got.DeferredDetails.DeferredTill.Equal(till) ||
		got.DeferredDetails.DeferredBy == nil || got.DeferredDetails.DeferredBy.ID != me.id {
		t.Fatalf("deferred: got status %s details %+v, want DEFERRED till %v by me", got.Status, got.DeferredDetails, till)
	}
	if r := e.read(t, me, x.ID); r == nil || r.Status != "DEFERRED" {
		t.Errorf("read after deferring: got %+v, want DEFERRED", r)
	}
	sameTitles(t, "default list while deferred", e.allTasks(t, me, nil, nil, 5))
	sameTitles(t, "Deferred tab", e.allTasks(t, me, map[string]any{"deferred": "ONLY"}, nil, 5), x)
	if r := e.update(t, me, x.ID, map[string]any{"title": "Quarterly plan v2"}); r.Status != "DEFERRED" || r.DeferredDetails == nil {
		t.Errorf("a title edit: got status %s details %+v, want the deferral kept", r.Status, r.DeferredDetails)
	}
	if r := e.update(t, me, x.ID, map[string]any{"status": "TODO"}); r.Status != "TODO" || r.DeferredDetails != nil {
		t.Errorf("explicit status TODO: got status %s details %+v, want TODO and the deferral cleared", r.Status, r.DeferredDetails)
	}
	if r := e.read(t, me, x.ID); r != nil {
		sameTitles(t, "default list after undeferring", e.allTasks(t, me, nil, nil, 5), *r)
	}
	e.deferTo(t, me, x.ID, till)
	if r := e.update(t, me, x.ID, map[string]any{"status": "BLOCKED"}); r.Status != "BLOCKED" || r.DeferredDetails != nil {
		t.Errorf("explicit status BLOCKED: got status %s details %+v, want BLOCKED and the deferral cleared", r.Status, r.DeferredDetails)
	}

	open := e.create(t, me, map[string]any{"title": "Someday"})
	if r := e.deferTo(t, me, open.ID, now.AddDate(1, 0, 0)); r.Status != "DEFERRED" {
		t.Errorf("defer a task without due date a year: got %s, want DEFERRED", r.Status)
	}
	done := e.create(t, me, map[string]any{"title": "Shipped", "status": "DONE"})
	e.expect(t, me, "defer a DONE task", deferQ, map[string]any{"id": done.ID, "till": rfc(till)}, "CONFLICT", "")
	if r := e.read(t, me, done.ID); r == nil || r.Status != "DONE" || r.DeferredDetails != nil {
		t.Errorf("the DONE task after a refused deferral: got %+v", r)
	}
}

// TestWatchlistScenario is the Watch List tab and the watch toggle.
func TestWatchlistScenario(t *testing.T) { bothSources(t, testWatchlistScenario) }

func testWatchlistScenario(t *testing.T, reads string) {
	e, _ := newScenarioEnv(t, reads)
	me, b, c := e.person(t, "me@example.com"), e.person(t, "b@example.com"), e.person(t, "c@example.com")
	var w []task
	for _, title := range []string{"Watch one", "Watch two", "Watch three"} {
		w = append(w, e.create(t, me, map[string]any{"title": title, "assignee": map[string]any{"userId": b.id}}))
	}
	watch := func(p person, x task) task {
		t.Helper()
		time.Sleep(3 * time.Millisecond) // distinct watch times
		return e.mutate(t, p, "watchTask(taskId: $id)", map[string]any{"id": x.ID})
	}
	unwatch := func(p person, x task) task {
		t.Helper()
		return e.mutate(t, p, "unwatchTask(taskId: $id)", map[string]any{"id": x.ID})
	}
	const listQ = `query($n: Int, $a: String) { watchlist(first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor }
		edges { cursor node { id title inWatchlist } } } }`
	watchlist := func(p person, first, after any) taskPage {
		t.Helper()
		var d struct{ Watchlist taskPage }
		e.must(t, p, listQ, map[string]any{"n": first, "a": after}, &d)
		for _, ed := range d.Watchlist.Edges {
			if !ed.Node.InWatchlist {
				t.Errorf("watchlist: %q has inWatchlist false", ed.Node.Title)
			}
		}
		return d.Watchlist
	}
	wantList := func(what string, p person, want ...task) {
		t.Helper()
		got := watchlist(p, nil, nil)
		if !slices.Equal(got.titles(), titles(want)) || got.TotalCount != len(want) {
			t.Errorf("%s: got %q (totalCount %d), want %q", what, got.titles(), got.TotalCount, titles(want))
		}
	}

	for _, x := range w {
		if got := watch(me, x); !got.InWatchlist {
			t.Errorf("watchTask %q: inWatchlist false", x.Title)
		}
	}
	if got := watch(me, w[0]); !got.InWatchlist {
		t.Errorf("watching twice: inWatchlist false")
	}
	wantList("three watched", me, w[2], w[1], w[0])
	if r := e.read(t, b, w[0].ID); r == nil || r.InWatchlist {
		t.Errorf("another user's inWatchlist: got %+v, want false", r)
	}
	watch(b, w[0])
	wantList("b's watchlist", b, w[0])
	wantList("mine after b watched", me, w[2], w[1], w[0])

	if got := unwatch(me, w[1]); got.InWatchlist {
		t.Errorf("unwatchTask: inWatchlist true")
	}
	if got := unwatch(me, w[1]); got.InWatchlist {
		t.Errorf("unwatching twice: inWatchlist true")
	}
	wantList("after unwatching two", me, w[2], w[0])
	if got := watch(me, w[1]); !got.InWatchlist {
		t.Errorf("re-watching after unwatching: inWatchlist false")
	}
	wantList("after re-watching two", me, w[1], w[2], w[0])

	e.mutate(t, me, "deleteTask(id: $id)", map[string]any{"id": w[2].ID})
	wantList("after deleting three", me, w[1], w[0])
	sameTitles(t, "scope WATCHED", e.allTasks(t, me, map[string]any{"scope": "WATCHED"}, nil, 1), w[0], w[1])

	p1 := watchlist(me, 1, nil)
	if !slices.Equal(p1.titles(), []string{"Watch two"}) || !p1.PageInfo.HasNextPage || p1.PageInfo.EndCursor == nil {
		t.Fatalf("watchlist first 1: got %q %+v, want [Watch two] and a next page", p1.titles(), p1.PageInfo)
	}
	p2 := watchlist(me, 1, *p1.PageInfo.EndCursor)
	if !slices.Equal(p2.titles(), []string{"Watch one"}) || p2.PageInfo.HasNextPage {
		t.Errorf("watchlist second page: got %q %+v, want [Watch one] and no next page", p2.titles(), p2.PageInfo)
	}
	e.expect(t, c, "a stranger watches the task", `mutation($id: ID!) { watchTask(taskId: $id) { id } }`, map[string]any{"id": w[0].ID}, "NOT_FOUND", "")
}

type activity struct {
	Action                  string
	Actor, TargetUser, Task *struct{ ID string }
	From, To                *string
	CreatedAt               time.Time
}

func idOf(p *struct{ ID string }) string {
	if p == nil {
		return ""
	}
	return p.ID
}

func strOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestTeamsScenario is the Teams screens: create, join, members, POC,
// join-code rotation, removal and leaving, and the activity timeline.
func TestTeamsScenario(t *testing.T) { bothSources(t, testTeamsScenario) }

func testTeamsScenario(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	owner := e.person(t, "owner@example.com")
	m1, m2, m3 := e.person(t, "m1@example.com"), e.person(t, "m2@example.com"), e.person(t, "m3@example.com")
	guesser, late, outsider := e.person(t, "guesser@example.com"), e.person(t, "late@example.com"), e.person(t, "outsider@example.com")

	var minted struct{ GenerateTeamCreationInviteCode struct{ Code string } }
	e.must(t, admin, `mutation { generateTeamCreationInviteCode(description: "platform") { code } }`, nil, &minted)
	code := minted.GenerateTeamCreationInviteCode.Code
	verify := func(c string) bool {
		t.Helper()
		var d struct{ VerifyTeamCreationInviteCode bool }
		e.must(t, owner, `mutation($c: String!) { verifyTeamCreationInviteCode(code: $c) }`, map[string]any{"c": c}, &d)
		return d.VerifyTeamCreationInviteCode
	}
	const createQ = `mutation($in: CreateTeamInput!) { createTeam(input: $in) { id name inviteCode poc { id } } }`
	teamIn := func(extra map[string]any) map[string]any {
		in := map[string]any{"name": "Platform", "description": "Runs the platform", "memberIds": []string{m1.id}, "creationCode": code}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	e.expect(t, owner, "createTeam with an unknown member", createQ, teamIn(map[string]any{"memberIds": []string{m1.id, missingID}}), "BAD_USER_INPUT", "input.memberIds")
	e.expect(t, owner, "createTeam with a malformed member id", createQ, teamIn(map[string]any{"memberIds": []string{"zzz"}}), "BAD_USER_INPUT", "input.memberIds")
	e.expect(t, owner, "createTeam with a POC outside the team", createQ, teamIn(map[string]any{"pocId": m2.id}), "BAD_USER_INPUT", "input.pocId")
	if !verify(code) {
		t.Errorf("after refused creates: the creation code verifies false, want it still unused")
	}
	var created struct {
		CreateTeam struct {
			ID, Name, InviteCode string
			Poc                  struct{ ID string }
		}
	}
	e.must(t, owner, createQ, teamIn(nil), &created)
	teamID, joinCode := created.CreateTeam.ID, created.CreateTeam.InviteCode
	if created.CreateTeam.Poc.ID != owner.id || len(joinCode) < 8 {
		t.Errorf("created team: got %+v, want the owner as POC and a join code of 8+ characters", created.CreateTeam)
	}
	e.expect(t, owner, "reusing the creation code", createQ, teamIn(map[string]any{"name": "Again"}), "BAD_USER_INPUT", "input.creationCode")
	if verify(code) {
		t.Errorf("after use: the creation code verifies true, want false")
	}

	const joinQ = `mutation($c: String!) { joinTeam(inviteCode: $c) { id } }`
	var joined struct{ JoinTeam struct{ ID string } }
	e.must(t, m2, joinQ, map[string]any{"c": joinCode}, &joined)
	if joined.JoinTeam.ID != teamID {
		t.Errorf("joinTeam: got team %s, want %s", joined.JoinTeam.ID, teamID)
	}
	e.expect(t, m2, "joining twice", joinQ, map[string]any{"c": joinCode}, "CONFLICT", "")
	e.expect(t, owner, "the owner joins", joinQ, map[string]any{"c": joinCode}, "CONFLICT", "")
	for i := range storage.JoinAttempts {
		e.expect(t, guesser, fmt.Sprintf("wrong code %d", i+1), joinQ, map[string]any{"c": fmt.Sprintf("WRONG0%04d", i)}, "BAD_USER_INPUT", "inviteCode")
	}
	e.expect(t, guesser, "the right code after 10 wrong ones", joinQ, map[string]any{"c": joinCode}, "RATE_LIMITED", "")
	e.expect(t, late, "another user's wrong code", joinQ, map[string]any{"c": "WRONG0CODE"}, "BAD_USER_INPUT", "inviteCode")

	const membersQ = `query($t: ID!) { team(id: $t) { viewerRoles members(first: 50) { totalCount
		nodes { user { id } roles addedAt tasksAssignedCount } } } }`
	type member struct {
		Roles              []string
		TasksAssignedCount int
	}
	members := func(p person) (viewer []string, byUser map[string]member, total int) {
		t.Helper()
		var d struct {
			Team struct {
				ViewerRoles []string
				Members     struct {
					TotalCount int
					Nodes      []struct {
						User               struct{ ID string }
						Roles              []string
						AddedAt            time.Time
						TasksAssignedCount int
					}
				}
			}
		}
		e.must(t, p, membersQ, map[string]any{"t": teamID}, &d)
		byUser = map[string]member{}
		for _, n := range d.Team.Members.Nodes {
			if n.AddedAt.IsZero() {
				t.Errorf("member %s: no addedAt", n.User.ID)
			}
			sort.Strings(n.Roles)
			byUser[n.User.ID] = member{n.Roles, n.TasksAssignedCount}
		}
		return d.Team.ViewerRoles, byUser, d.Team.Members.TotalCount
	}
	viewer, ms, total := members(m1)
	if !slices.Equal(viewer, []string{"MEMBER"}) || total != 3 || len(ms) != 3 {
		t.Errorf("members as m1: got viewerRoles %v, %d members (totalCount %d), want [MEMBER], 3", viewer, len(ms), total)
	}
	if got := ms[owner.id].Roles; !slices.Equal(got, []string{"ADMIN", "MEMBER", "OWNER"}) {
		t.Errorf("owner's roles: got %v, want ADMIN, MEMBER, OWNER", got)
	}
	for _, p := range []person{m1, m2} {
		if got := ms[p.id].Roles; !slices.Equal(got, []string{"MEMBER"}) {
			t.Errorf("%s's roles: got %v, want MEMBER", p.id, got)
		}
	}

	const addQ = `mutation($t: ID!, $u: [ID!]!) { addTeamMembers(teamId: $t, userIds: $u) { id } }`
	e.must(t, owner, addQ, map[string]any{"t": teamID, "u": []string{m3.id}}, nil)
	e.must(t, owner, addQ, map[string]any{"t": teamID, "u": []string{m3.id, m1.id}}, nil)
	if _, ms, total = members(owner); total != 4 || len(ms) != 4 {
		t.Errorf("after adding m3 twice: got %d members (totalCount %d), want 4", len(ms), total)
	}
	e.expect(t, m2, "a plain member adds someone", addQ, map[string]any{"t": teamID, "u": []string{outsider.id}}, "FORBIDDEN", "")
	e.expect(t, owner, "adding an unknown user", addQ, map[string]any{"t": teamID, "u": []string{missingID}}, "BAD_USER_INPUT", "userIds")

	// m3's work in the team, in every state; and one task handed to m1.
	inTeam := func(title string, extra map[string]any) task {
		in := map[string]any{"title": title, "assignee": map[string]any{"userId": m3.id}, "teamId": teamID}
		for k, v := range extra {
			in[k] = v
		}
		return e.create(t, owner, in)
	}
	r1 := inTeam("Migrate the cluster", map[string]any{"status": "IN_PROGRESS"})
	r2 := inTeam("Rotate certificates", nil)
	e.deferTo(t, m3, r2.ID, time.Now().Add(24*time.Hour))
	r3 := inTeam("Write the runbook", map[string]any{"status": "DONE"})
	r4 := inTeam("Tune alerts", nil)
	r5 := e.create(t, owner, map[string]any{"title": "Personal favour", "assignee": map[string]any{"userId": m3.id}})
	h1 := e.create(t, owner, map[string]any{"title": "Triage incidents", "assignee": map[string]any{"teamId": teamID}})
	e.mutate(t, owner, "reassignTaskToMember(taskId: $id, userId: $u)", map[string]any{"id": h1.ID, "u": m1.id})
	_, ms, _ = members(owner)
	for p, want := range map[string]int{m3.id: 4, m1.id: 1, owner.id: 0, m2.id: 0} {
		if got := ms[p].TasksAssignedCount; got != want {
			t.Errorf("tasksAssignedCount of %s: got %d, want %d", p, got, want)
		}
	}

	const updateQ = `mutation($t: ID!, $in: UpdateTeamInput!) { updateTeam(id: $t, input: $in) { name description poc { id } } }`
	type teamView struct {
		UpdateTeam struct {
			Name        string
			Description *string
			Poc         struct{ ID string }
		}
	}
	e.expect(t, owner, "a POC who is not a member", updateQ, map[string]any{"t": teamID, "in": map[string]any{"pocId": outsider.id}}, "BAD_USER_INPUT", "input.pocId")
	e.expect(t, m2, "a plain member renames the team", updateQ, map[string]any{"t": teamID, "in": map[string]any{"name": "Mine now"}}, "FORBIDDEN", "")
	var up teamView
	e.must(t, owner, updateQ, map[string]any{"t": teamID, "in": map[string]any{"pocId": m1.id, "name": "Platform Core"}}, &up)
	if u := up.UpdateTeam; u.Poc.ID != m1.id || u.Name != "Platform Core" || strOf(u.Description) != "Runs the platform" {
		t.Errorf("updateTeam POC and name: got %+v, want m1, Platform Core, the description kept", u)
	}
	e.must(t, owner, updateQ, map[string]any{"t": teamID, "in": map[string]any{"description": nil}}, &up)
	if u := up.UpdateTeam; u.Description != nil || u.Name != "Platform Core" || u.Poc.ID != m1.id {
		t.Errorf("updateTeam description null: got %+v, want it cleared, the rest kept", u)
	}

	const codeQ = `query($t: ID!) { team(id: $t) { inviteCode } }`
	inviteCode := func(p person) *string {
		t.Helper()
		var d struct{ Team struct{ InviteCode *string } }
		e.must(t, p, codeQ, map[string]any{"t": teamID}, &d)
		return d.Team.InviteCode
	}
	if got := inviteCode(owner); strOf(got) != joinCode {
		t.Errorf("owner's inviteCode: got %v, want %s", strOf(got), joinCode)
	}
	if got := inviteCode(m1); strOf(got) != joinCode {
		t.Errorf("POC's inviteCode: got %v, want %s", strOf(got), joinCode)
	}
	if got := inviteCode(m2); got != nil {
		t.Errorf("a plain member's inviteCode: got %q, want null", *got)
	}

	const rotateQ = `mutation($t: ID!) { rotateTeamInviteCode(teamId: $t) { inviteCode } }`
	e.expect(t, m2, "a plain member rotates the code", rotateQ, map[string]any{"t": teamID}, "FORBIDDEN", "")
	var rot struct{ RotateTeamInviteCode struct{ InviteCode string } }
	e.must(t, owner, rotateQ, map[string]any{"t": teamID}, &rot)
	newCode := rot.RotateTeamInviteCode.InviteCode
	if newCode == joinCode || len(newCode) < 8 {
		t.Errorf("rotated code: got %q (old %q), want a new code of 8+ characters", newCode, joinCode)
	}
	e.expect(t, late, "joining with the old code", joinQ, map[string]any{"c": joinCode}, "BAD_USER_INPUT", "inviteCode")
	e.must(t, late, joinQ, map[string]any{"c": strings.ToLower(newCode)}, nil)

	const removeQ = `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }`
	e.expect(t, owner, "removing the owner", removeQ, map[string]any{"t": teamID, "u": owner.id}, "FORBIDDEN", "")
	e.expect(t, owner, "removing the POC", removeQ, map[string]any{"t": teamID, "u": m1.id}, "FORBIDDEN", "")
	e.expect(t, m1, "the POC leaves", removeQ, map[string]any{"t": teamID, "u": m1.id}, "FORBIDDEN", "")
	e.expect(t, m2, "a plain member removes another", removeQ, map[string]any{"t": teamID, "u": m3.id}, "FORBIDDEN", "")
	e.expect(t, owner, "removing a non-member", removeQ, map[string]any{"t": teamID, "u": outsider.id}, "NOT_FOUND", "")
	e.must(t, owner, removeQ, map[string]any{"t": teamID, "u": m3.id}, nil)
	toTeam, toM3 := "Team:"+teamID, "User:"+m3.id
	for _, tc := range []struct {
		x              task
		status, assign string
		deferred       bool
	}{
		{r1, "TODO", toTeam, false}, {r2, "TODO", toTeam, false}, {r3, "DONE", toM3, false}, {r4, "TODO", toTeam, false}, {r5, "TODO", toM3, false},
	} {
		got := e.read(t, owner, tc.x.ID)
		if got == nil || got.Status != tc.status || got.assignee() != tc.assign || (got.DeferredDetails != nil) != tc.deferred {
			t.Errorf("after removing m3, %q: got %+v, want status %s, assignee %s, deferred %v", tc.x.Title, got, tc.status, tc.assign, tc.deferred)
		}
	}
	if _, ms, total = members(owner); total != 4 || len(ms) != 4 {
		t.Errorf("after removing m3: got %d members (totalCount %d), want 4 (owner, m1, m2, late)", len(ms), total)
	} else if _, still := ms[m3.id]; still {
		t.Errorf("after removing m3: m3 is still listed")
	}
	e.expectData(t, m3, "the removed member reads the team", membersQ, map[string]any{"t": teamID}, `{"team":null}`)

	e.must(t, m2, removeQ, map[string]any{"t": teamID, "u": m2.id}, nil)
	var mine struct{ Teams []struct{ ID string } }
	e.must(t, m2, `{ teams { id } }`, nil, &mine)
	for _, tm := range mine.Teams {
		if tm.ID == teamID {
			t.Errorf("after leaving: the team is still in m2's teams")
		}
	}

	var act struct {
		TeamActivity struct {
			TotalCount int
			Nodes      []activity
		}
	}
	e.must(t, owner, `query($t: ID!) { teamActivity(teamId: $t, first: 100) { totalCount
		nodes { action actor { id } targetUser { id } task { id } from to createdAt } } }`, map[string]any{"t": teamID}, &act)
	nodes := act.TeamActivity.Nodes
	if act.TeamActivity.TotalCount != len(nodes) {
		t.Errorf("teamActivity: totalCount %d, %d entries listed", act.TeamActivity.TotalCount, len(nodes))
	}
	for i := 1; i < len(nodes); i++ {
		if nodes[i].CreatedAt.After(nodes[i-1].CreatedAt) {
			t.Errorf("teamActivity: %s (%v) listed after %s (%v), want newest first", nodes[i].Action, nodes[i].CreatedAt, nodes[i-1].Action, nodes[i-1].CreatedAt)
			break
		}
	}
	has := func(action, actor, target, taskID, from, to string) bool {
		for _, n := range nodes {
			if n.Action == action && (actor == "" || idOf(n.Actor) == actor) && (target == "" || idOf(n.TargetUser) == target) &&
				(taskID == "" || idOf(n.Task) == taskID) && (from == "" || strOf(n.From) == from) && (to == "" || strOf(n.To) == to) {
				return true
			}
		}
		return false
	}
	for _, w := range []struct{ action, actor, target, task, from, to string }{
		{"team_created", owner.id, "", "", "", ""},
		{"member_joined_team", m2.id, m2.id, "", "", ""},
		{"member_joined_team", late.id, late.id, "", "", ""},
		{"member_added_to_team", owner.id, m3.id, "", "", ""},
		{"reassign_executor", owner.id, m1.id, h1.ID, "", m1.id},
		{"poc_changed", owner.id, m1.id, "", owner.id, m1.id},
		{"invite_code_rotated", owner.id, "", "", "", ""},
		{"status_changed", owner.id, "", r1.ID, "IN_PROGRESS", "TODO"},
		{"assigned_to_team", owner.id, "", r1.ID, m3.id, teamID},
		{"assigned_to_team", owner.id, "", r2.ID, m3.id, teamID},
		{"assigned_to_team", owner.id, "", r4.ID, m3.id, teamID},
		{"member_removed_from_team", owner.id, m3.id, "", "", ""},
		{"member_left_team", m2.id, m2.id, "", "", ""},
	} {
		if !has(w.action, w.actor, w.target, w.task, w.from, w.to) {
			t.Errorf("teamActivity lacks %+v", w)
		}
	}
	if has("assigned_to_team", "", "", r3.ID, m3.id, "") {
		t.Errorf("teamActivity: the DONE task %q was given back to the team", r3.Title)
	}
}

// TestAdminCodesScenario is the admin page of team-creation codes.
func TestAdminCodesScenario(t *testing.T) { bothSources(t, testAdminCodesScenario) }

func testAdminCodesScenario(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	founder := e.person(t, "founder@example.com")
	const genQ = `mutation($d: String) { generateTeamCreationInviteCode(description: $d) { id code description isUsed createdBy { id } usedBy { id } usedAt } }`
	type code struct {
		ID, Code    string
		Description *string
		IsUsed      bool
		CreatedBy   *struct{ ID string }
		UsedBy      *struct{ ID string }
		UsedAt      *time.Time
	}
	gen := func(desc string) code {
		t.Helper()
		var d struct{ GenerateTeamCreationInviteCode code }
		e.must(t, admin, genQ, map[string]any{"d": desc}, &d)
		return d.GenerateTeamCreationInviteCode
	}
	e.expect(t, founder, "a non-admin mints a code", genQ, nil, "FORBIDDEN", "")
	c1, c2 := gen("first"), gen("second")
	if c1.Code == c2.Code || len(c1.Code) < 8 || c1.IsUsed || idOf(c1.CreatedBy) != admin.id || strOf(c1.Description) != "first" {
		t.Errorf("minted: got %+v and %+v, want two unused distinct codes of 8+ characters by the admin", c1, c2)
	}

	const listQ = `query($n: Int, $a: String) { teamCreationInviteCodes(first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor }
		nodes { code description isUsed usedAt usedBy { id } createdBy { id } } } }`
	type codePage struct {
		TotalCount int
		PageInfo   pageInfo
		Nodes      []code
	}
	list := func(first, after any) codePage {
		t.Helper()
		var d struct{ TeamCreationInviteCodes codePage }
		e.must(t, admin, listQ, map[string]any{"n": first, "a": after}, &d)
		return d.TeamCreationInviteCodes
	}
	codesOf := func(p codePage) []string {
		out := []string{}
		for _, n := range p.Nodes {
			out = append(out, n.Code)
		}
		return out
	}
	e.expect(t, founder, "a non-admin lists codes", listQ, nil, "FORBIDDEN", "")
	all := list(10, nil)
	if !slices.Equal(codesOf(all), []string{c2.Code, c1.Code}) || all.PageInfo.HasNextPage {
		t.Errorf("codes: got %q %+v, want [%s %s] newest first, no next page", codesOf(all), all.PageInfo, c2.Code, c1.Code)
	}
	if all.TotalCount != 2 {
		t.Errorf("codes totalCount: got %d, want 2", all.TotalCount)
	}
	p1 := list(1, nil)
	if !slices.Equal(codesOf(p1), []string{c2.Code}) || !p1.PageInfo.HasNextPage || p1.PageInfo.EndCursor == nil {
		t.Fatalf("codes first 1: got %q %+v", codesOf(p1), p1.PageInfo)
	}
	if p2 := list(1, *p1.PageInfo.EndCursor); !slices.Equal(codesOf(p2), []string{c1.Code}) || p2.PageInfo.HasNextPage {
		t.Errorf("codes second page: got %q %+v, want [%s] and no next page", codesOf(p2), p2.PageInfo, c1.Code)
	}

	verify := func(c string) bool {
		t.Helper()
		var d struct{ VerifyTeamCreationInviteCode bool }
		e.must(t, founder, `mutation($c: String!) { verifyTeamCreationInviteCode(code: $c) }`, map[string]any{"c": c}, &d)
		return d.VerifyTeamCreationInviteCode
	}
	if first, second := verify(c1.Code), verify(c1.Code); !first || !second {
		t.Errorf("verifying an unused code (twice): got false, want true both times")
	}
	if verify("NOT-A-CODE") {
		t.Errorf("verifying a made-up code: got true")
	}
	e.must(t, founder, `mutation($c: String!) { createTeam(input: {name: "Founders", creationCode: $c}) { id } }`, map[string]any{"c": c1.Code}, nil)
	after := list(10, nil)
	for _, n := range after.Nodes {
		switch n.Code {
		case c1.Code:
			if !n.IsUsed || idOf(n.UsedBy) != founder.id || n.UsedAt == nil {
				t.Errorf("the used code: got isUsed %v usedBy %v usedAt %v, want used by the founder", n.IsUsed, idOf(n.UsedBy), n.UsedAt)
			}
		case c2.Code:
			if n.IsUsed || n.UsedBy != nil || n.UsedAt != nil {
				t.Errorf("the unused code: got %+v, want unused", n)
			}
		}
	}
	if verify(c1.Code) {
		t.Errorf("verifying the used code: got true, want false")
	}
	if !verify(c2.Code) {
		t.Errorf("verifying the other code: got false, want true")
	}
}

// TestBadInputsScenario sends what a broken or hostile client might: none of
// it may answer INTERNAL or HTTP 500, and ids name the offending field.
func TestBadInputsScenario(t *testing.T) { bothSources(t, testBadInputsScenario) }

func testBadInputsScenario(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	me := e.person(t, "me@example.com")
	teamID, _ := e.newTeam(t, admin, me, "Ops")
	x := e.create(t, me, map[string]any{"title": "Real task", "assignee": map[string]any{"userId": me.id}})
	titleOrder := e.listTasks(t, me, nil, map[string]any{"field": "TITLE"}, 1, nil)
	if len(titleOrder.Edges) != 1 {
		t.Fatalf("want one task, got %d", len(titleOrder.Edges))
	}
	titleCursor := titleOrder.Edges[0].Cursor
	const id23 = "0123456789abcdef0123456"
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"k":["x"],"i":"zzz"}`))

	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"task id zzz", `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": "zzz"}, "id"},
		{"task id of 23 hex", `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": id23}, "id"},
		{"task id of 24 non-hex", `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": strings.Repeat("z", 24)}, "id"},
		{"updateTask id", `mutation($id: ID!) { updateTask(id: $id, input: {title: "x"}) { id } }`, map[string]any{"id": "zzz"}, "id"},
		{"deferTask id", `mutation($id: ID!) { deferTask(id: $id, deferredTill: "2099-01-01T00:00:00Z") { id } }`, map[string]any{"id": id23}, "id"},
		{"deleteTask id", `mutation($id: ID!) { deleteTask(id: $id) { id } }`, map[string]any{"id": "zzz"}, "id"},
		{"watchTask taskId", `mutation($id: ID!) { watchTask(taskId: $id) { id } }`, map[string]any{"id": "zzz"}, "taskId"},
		{"unwatchTask taskId", `mutation($id: ID!) { unwatchTask(taskId: $id) { id } }`, map[string]any{"id": id23}, "taskId"},
		{"assignTask taskId", `mutation($id: ID!, $u: ID!) { assignTask(taskId: $id, assignee: {userId: $u}) { id } }`, map[string]any{"id": "zzz", "u": me.id}, "taskId"},
		{"assignTask userId", `mutation($id: ID!, $u: ID!) { assignTask(taskId: $id, assignee: {userId: $u}) { id } }`, map[string]any{"id": x.ID, "u": "zzz"}, "assignee.userId"},
		{"reassignTaskToMember userId", `mutation($id: ID!, $u: ID!) { reassignTaskToMember(taskId: $id, userId: $u) { id } }`, map[string]any{"id": x.ID, "u": id23}, "userId"},
		{"createTask assignee", `mutation($u: ID!) { createTask(input: {title: "x", assignee: {userId: $u}}) { id } }`, map[string]any{"u": "zzz"}, "input.assignee.userId"},
		{"createTask team assignee", `mutation($u: ID!) { createTask(input: {title: "x", assignee: {teamId: $u}}) { id } }`, map[string]any{"u": id23}, "input.assignee.teamId"},
		{"createTask labelIds", `mutation($l: ID!) { createTask(input: {title: "x", labelIds: [$l]}) { id } }`, map[string]any{"l": "zzz"}, "input.labelIds"},
		{"createTask teamId", `mutation($u: ID!, $t: ID!) { createTask(input: {title: "x", assignee: {userId: $u}, teamId: $t}) { id } }`,
			map[string]any{"u": me.id, "t": "zzz"}, "input.teamId"},
		{"tasks filter.teamId", listQuery, map[string]any{"f": map[string]any{"scope": "TEAM", "teamId": "zzz"}}, "filter.teamId"},
		{"tasks filter.labelIds", listQuery, map[string]any{"f": map[string]any{"labelIds": []string{id23}}}, "filter.labelIds"},
		{"taskSummary teamId", `query($t: ID) { taskSummary(teamId: $t) { overdue } }`, map[string]any{"t": "zzz"}, "teamId"},
		{"user id", `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": "zzz"}, "id"},
		{"team id", `query($id: ID!) { team(id: $id) { id } }`, map[string]any{"id": "zzz"}, "id"},
		{"teamActivity teamId", `query($t: ID!) { teamActivity(teamId: $t) { totalCount } }`, map[string]any{"t": "zzz"}, "teamId"},
		{"updateTeam id", `mutation($id: ID!) { updateTeam(id: $id, input: {name: "x"}) { id } }`, map[string]any{"id": id23}, "id"},
		{"updateTeam pocId", `mutation($id: ID!, $p: ID) { updateTeam(id: $id, input: {pocId: $p}) { id } }`, map[string]any{"id": teamID, "p": "zzz"}, "input.pocId"},
		{"rotateTeamInviteCode teamId", `mutation($t: ID!) { rotateTeamInviteCode(teamId: $t) { id } }`, map[string]any{"t": "zzz"}, "teamId"},
		{"addTeamMembers teamId", `mutation($t: ID!) { addTeamMembers(teamId: $t, userIds: ["` + me.id + `"]) { id } }`, map[string]any{"t": id23}, "teamId"},
		{"addTeamMembers userIds", `mutation($t: ID!) { addTeamMembers(teamId: $t, userIds: ["zzz"]) { id } }`, map[string]any{"t": teamID}, "userIds"},
		{"removeTeamMember teamId", `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }`, map[string]any{"t": "zzz", "u": me.id}, "teamId"},
		{"removeTeamMember userId", `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }`, map[string]any{"t": teamID, "u": "zzz"}, "userId"},
		{"grantTeamRole userId", `mutation($t: ID!) { grantTeamRole(teamId: $t, userId: "zzz", role: ADMIN) { roles } }`, map[string]any{"t": teamID}, "userId"},
		{"createTeam memberIds", `mutation { createTeam(input: {name: "x", memberIds: ["zzz"], creationCode: "ABCDEFGHJKMN"}) { id } }`, nil, "input.memberIds"},
		// Cursors that this server never handed out.
		{"tasks after garbage", listQuery, map[string]any{"a": "garbage!!"}, "after"},
		{"tasks after a forged cursor", listQuery, map[string]any{"a": forged}, "after"},
		{"tasks after a TITLE cursor, ordered by DUE_AT", listQuery, map[string]any{"a": titleCursor, "o": map[string]any{"field": "DUE_AT"}}, "after"},
		{"tasks after a TITLE cursor, ordered by PRIORITY", listQuery, map[string]any{"a": titleCursor, "o": map[string]any{"field": "PRIORITY"}}, "after"},
		{"labels after garbage", `{ labels(after: "%%%") { totalCount } }`, nil, "after"},
		{"watchlist after garbage", `{ watchlist(after: "nope") { totalCount } }`, nil, "after"},
		{"members after garbage", `query($t: ID!) { team(id: $t) { members(after: "nope") { totalCount } } }`, map[string]any{"t": teamID}, "after"},
		{"teamActivity after garbage", `query($t: ID!) { teamActivity(teamId: $t, after: "nope") { totalCount } }`, map[string]any{"t": teamID}, "after"},
		// Sizes.
		{"a 501-character title", `mutation($s: String!) { createTask(input: {title: $s}) { id } }`, map[string]any{"s": strings.Repeat("t", 501)}, "input.title"},
		{"a 100,000-character title", `mutation($s: String!) { createTask(input: {title: $s}) { id } }`, map[string]any{"s": strings.Repeat("t", 100000)}, "input.title"},
		{"a huge title on update", `mutation($id: ID!, $s: String) { updateTask(id: $id, input: {title: $s}) { id } }`, map[string]any{"id": x.ID, "s": strings.Repeat("t", 501)}, "input.title"},
		{"a 10,001-character description", `mutation($s: String) { createTask(input: {title: "x", description: $s}) { id } }`, map[string]any{"s": strings.Repeat("d", 10001)}, "input.description"},
		{"a 201-character search", listQuery, map[string]any{"f": map[string]any{"search": strings.Repeat("s", 201)}}, "filter.search"},
		{"a 101-character team name", `mutation($s: String!) { createTeam(input: {name: $s, creationCode: "ABCDEFGHJKMN"}) { id } }`, map[string]any{"s": strings.Repeat("n", 101)}, "input.name"},
		{"a 65-character join code", `mutation($s: String!) { joinTeam(inviteCode: $s) { id } }`, map[string]any{"s": strings.Repeat("A", 65)}, "inviteCode"},
		// Unknown enum values and wrong variable types: refused before running.
		{"an unknown status literal", `{ tasks(filter: {statuses: [WAITING]}) { totalCount } }`, nil, ""},
		{"an unknown status variable", listQuery, map[string]any{"f": map[string]any{"statuses": []string{"WAITING"}}}, ""},
		{"an unknown order field", `{ tasks(orderBy: {field: ASSIGNEE}) { totalCount } }`, nil, ""},
		{"an unknown priority variable", createTaskQ, map[string]any{"in": map[string]any{"title": "x", "priority": "URGENT"}}, ""},
		{"a lower-case enum", createTaskQ, map[string]any{"in": map[string]any{"title": "x", "priority": "high"}}, ""},
		{"first as a string", listQuery, map[string]any{"n": "ten"}, ""},
		{"a number as title", createTaskQ, map[string]any{"in": map[string]any{"title": 123}}, ""},
		{"an object as id", `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": map[string]any{"$gt": ""}}, ""},
		{"an unknown input field", createTaskQ, map[string]any{"in": map[string]any{"title": "x", "owner": "me"}}, ""},
		{"a malformed time", `mutation($id: ID!, $t: Time!) { deferTask(id: $id, deferredTill: $t) { id } }`, map[string]any{"id": x.ID, "t": "tomorrow"}, ""},
		{"a missing title", createTaskQ, map[string]any{"in": map[string]any{"description": "x"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := e.graphqlAs(t, me.token, tc.query, tc.vars)
			if len(g.Errors) == 0 {
				t.Fatalf("got success %s, want BAD_USER_INPUT", truncate(g.Data))
			}
			code, _ := g.Errors[0].Extensions["code"].(string)
			field, _ := g.Errors[0].Extensions["field"].(string)
			if code != "BAD_USER_INPUT" || (tc.field != "" && field != tc.field) {
				t.Errorf("got %s field %q (%s), want BAD_USER_INPUT field %q", code, field, g.Errors[0].Message, tc.field)
			}
		})
	}

	// A body over the size limit is refused by HTTP, not by a crash.
	body, _ := json.Marshal(map[string]any{"query": createTaskQ, "variables": map[string]any{"in": map[string]any{"title": strings.Repeat("t", 2<<20)}}})
	r := e.do(t, http.MethodPost, "/graphql", "application/json", string(body), "Authorization", "Bearer "+me.token)
	if r.status < 400 || r.status >= 500 {
		t.Errorf("a 2 MB title: got HTTP %d, want a 4xx", r.status)
	}
	// Nothing above was stored.
	if got := e.allTasks(t, me, map[string]any{"scope": "CREATED_BY_ME", "includeDone": true, "deferred": "INCLUDE"}, nil, 10); len(got) != 1 {
		t.Errorf("after the bad inputs: got %q created, want only the real task", titles(got))
	}
}

const createTaskQ = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`

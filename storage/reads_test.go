package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
	"github.com/todo-backend/todo/storage/postgres"
)

// twoSources are two facades over the same stores and mirror: one reads
// the tasks family from MongoDB, the other from the mirror.
type twoSources struct {
	mongo, mirror *Store
	engine        *mirror.Engine
}

func newTwoSources(t *testing.T, db *postgres.DB) twoSources {
	t.Helper()
	_, m := newSeeded(t)
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := mirror.NewEngine(m, mirror.New(db), mirror.EngineOptions{Enabled: true})
	e.SetReady()
	// The seeds, as serve copies them.
	if _, err := e.Backfill(t.Context(), []string{mirror.Labels, mirror.Roles}, 100, nil); err != nil {
		t.Fatal(err)
	}
	families, err := ReadDefaults([]string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	return twoSources{
		mongo:  New(m, Options{Engine: e}),
		mirror: New(m, Options{Engine: e, Reads: ReadOptions{Postgres: families, ShadowBudget: NoShadowBudget}}),
		engine: e,
	}
}

// mirrorDialects opens a fresh migrated mirror of each kind.
var mirrorDialects = []struct {
	name string
	open func(t *testing.T) *postgres.DB
}{
	{"postgres", func(t *testing.T) *postgres.DB {
		db, err := postgres.Open(testenv.PostgresTemplateDSN(t, "mirror-migrated", postgres.MigrateDSN))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}},
	{"sqlite", func(t *testing.T) *postgres.DB {
		db, err := postgres.OpenSQLite(filepath.Join(t.TempDir(), "mirror.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}},
}

// world is what the randomized workload made: who, which teams, which
// labels.
type world struct {
	users  []string
	teams  []string
	labels []string
}

// mixedWorkload writes a random mix through the facade, as the API
// would: tasks with every field set or not (ties in every order key
// included), assignments to users and teams, hand-overs, deferrals that
// ended and that did not, status changes, deletions, watches on and off.
func mixedWorkload(t *testing.T, s *Store, rng *rand.Rand, n int) world {
	t.Helper()
	ctx := t.Context()
	w := world{}
	for _, name := range []string{"Ann Example", "ann example", "Bob", "Ann Example", "Élodie Ünal"} { // ties in the user search's order, a name beyond ASCII
		u, err := s.SignInByEmail(ctx, fmt.Sprintf("u%d@example.com", rng.IntN(1e9)), name)
		if err != nil {
			t.Fatal(err)
		}
		w.users = append(w.users, u.ID)
	}
	for i := range 2 {
		code, err := s.GenerateCreationCode(ctx, w.users[0], "")
		if err != nil {
			t.Fatal(err)
		}
		team, err := s.CreateTeam(ctx, w.users[0], NewTeam{Name: fmt.Sprintf("team %d", i), MemberIDs: w.users[1:3],
			POCID: w.users[1+i], CreationCode: code.Code})
		if err != nil {
			t.Fatal(err)
		}
		w.teams = append(w.teams, team.ID)
	}
	for range 3 {
		w.labels = append(w.labels, bson.NewObjectID().Hex())
	}
	base := time.Now().UTC().Truncate(time.Hour)
	titles := []string{"Alpha", "alpha", "Beta report", "beta", "Zeta 100%", "under_score", "Écrire"}
	statuses := []models.TaskStatus{models.StatusTodo, models.StatusInProgress, models.StatusBlocked, models.StatusDone}
	for i := range n {
		actor := w.users[rng.IntN(len(w.users))]
		task := models.Task{Title: titles[rng.IntN(len(titles))], Priority: models.Priority(1 + rng.IntN(3)),
			Status: statuses[rng.IntN(len(statuses))]}
		if rng.IntN(3) > 0 {
			task.Description = ptr(fmt.Sprintf("note %d %s", i, titles[rng.IntN(len(titles))]))
		}
		if rng.IntN(3) > 0 {
			task.DueAt = ptr(base.Add(time.Duration(rng.IntN(10)-5) * 24 * time.Hour))
		}
		for _, l := range w.labels {
			if rng.IntN(3) == 0 {
				task.LabelIDs = append(task.LabelIDs, l)
			}
		}
		var assign *NewAssignment
		switch rng.IntN(4) {
		case 0:
			assign = &NewAssignment{AssigneeID: w.users[rng.IntN(len(w.users))], Type: models.AssigneeUser}
		case 1:
			team := w.teams[rng.IntN(len(w.teams))]
			assign = &NewAssignment{AssigneeID: team, Type: models.AssigneeTeam, TeamID: team}
		}
		created, err := s.CreateTask(ctx, actor, task, assign)
		if err != nil {
			t.Fatal(err)
		}
		switch rng.IntN(6) {
		case 0: // deferred, now or in the past
			after := created
			till := base.Add(time.Duration(rng.IntN(4)-1) * 48 * time.Hour)
			after.DeferredDetails = &models.DeferredDetails{DeferredAt: base.Add(-time.Hour), DeferredTill: till, DeferredBy: actor}
			if _, err := s.UpdateTask(ctx, actor, created, after, ""); err != nil {
				t.Fatal(err)
			}
		case 1:
			after := created
			after.Status = statuses[rng.IntN(len(statuses))]
			after.Title = titles[rng.IntN(len(titles))]
			if _, err := s.UpdateTask(ctx, actor, created, after, ""); err != nil {
				t.Fatal(err)
			}
		case 2:
			after := created
			after.IsDeleted = true
			if _, err := s.UpdateTask(ctx, actor, created, after, ""); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range w.users {
			if rng.IntN(4) == 0 {
				if err := s.WatchTask(ctx, u, created.ID, true); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(3) == 0 {
					if err := s.WatchTask(ctx, u, created.ID, false); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	// A deleted team: its POC no longer sees the tasks assigned to it.
	team, err := s.Team(ctx, w.teams[1])
	if err != nil {
		t.Fatal(err)
	}
	gone := team
	gone.IsDeleted = true
	if _, err := s.UpdateTeam(ctx, w.users[0], team, gone); err != nil {
		t.Fatal(err)
	}
	return w
}

// lists are the list requests compared: every scope, each filter alone
// and some together, every order both ways.
func lists(w world, now time.Time) []TaskList {
	var out []TaskList
	scopes := []TaskList{{Scope: ScopeCreatedByMe}, {Scope: ScopeAssignedToMe}, {Scope: ScopeTeam, TeamID: w.teams[0]},
		{Scope: ScopeTeam, TeamID: w.teams[1]}}
	filters := []func(*TaskList){
		func(*TaskList) {},
		func(l *TaskList) { l.IncludeDone = true },
		func(l *TaskList) { l.Statuses = []models.TaskStatus{models.StatusDeferred} },
		func(l *TaskList) { l.Statuses = []models.TaskStatus{models.StatusTodo, models.StatusDone} },
		func(l *TaskList) { l.Deferred = DeferredOnly },
		func(l *TaskList) { l.Deferred, l.IncludeDone = DeferredInclude, true },
		func(l *TaskList) { l.Priorities = []models.Priority{models.PriorityHigh, models.PriorityLow} },
		func(l *TaskList) { l.LabelIDs = w.labels[:2] },
		func(l *TaskList) { l.Search = "ALPHA" },
		func(l *TaskList) { l.Search = "ÉCRIRE" }, // case beyond ASCII
		func(l *TaskList) { l.Search = "%" },
		func(l *TaskList) { l.Search = "_" },
		func(l *TaskList) { l.DueBefore, l.DueAfter = ptr(now.Add(48*time.Hour)), ptr(now.Add(-72*time.Hour)) },
	}
	orders := []string{"", OrderCreatedAt, OrderDueAt, OrderPriority, OrderTitle, OrderUpdatedAt}
	// The team members: one is a POC, both are assignees and watchers.
	for _, u := range w.users[1:3] {
		for _, sc := range scopes {
			for fi, f := range filters {
				for oi, o := range orders {
					// Every filter in the default order, every order
					// unfiltered and with one filter in turn.
					if fi != 0 && oi != 0 && (fi+oi)%len(orders) != 0 {
						continue
					}
					for _, desc := range []bool{false, true} {
						l := sc
						l.Viewer, l.Order, l.Desc = u, o, desc
						f(&l)
						out = append(out, l)
					}
				}
			}
		}
	}
	return out
}

// TestTaskReadsAgreeOnBothStores drives a randomized mixed workload, then
// reads every list (each page through its cursors, with totalCount), the
// tasks by id, the assignments and the summaries from MongoDB and from the
// mirror, on PostgreSQL and on the embedded SQLite file, and wants the same
// answers, in the same order; the mirror must have served them (no
// fallback).
func TestTaskReadsAgreeOnBothStores(t *testing.T) {
	t.Parallel()
	for _, d := range mirrorDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 14))
			two := newTwoSources(t, d.open(t))
			start := time.Now()
			w := mixedWorkload(t, two.mongo, rng, 50)
			t.Logf("workload %v", time.Since(start))
			ctx := t.Context()
			pages := 0
			for _, l := range lists(w, time.Now()) {
				pages += comparePaged(t, two, l)
			}
			var ids []string
			page, err := two.mongo.Tasks(ctx, TaskList{Viewer: w.users[0], Scope: ScopeCreatedByMe, IncludeDone: true, Deferred: DeferredInclude,
				Page: PageArgs{First: ptr(100)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Edges {
				ids = append(ids, e.Node.ID)
			}
			ids = append(ids, bson.NewObjectID().Hex()) // none such
			same(t, two, "tasksByIds", compareTasks, func(s *Store) ([]models.Task, error) { return s.TasksByIDs(ctx, ids) })
			same(t, two, "activeAssignments", compareAssignments, func(s *Store) ([]models.TaskAssignment, error) { return s.ActiveAssignments(ctx, ids) })
			same(t, two, "assignmentsInTeams", compareAssignments, func(s *Store) ([]models.TaskAssignment, error) {
				return s.AssignmentsInTeams(ctx, w.teams)
			})
			for _, u := range w.users {
				for _, team := range append([]string{""}, w.teams...) {
					same(t, two, "taskSummary "+u+" "+team, func(a, b Summary) []Difference { return diffValues("summary", a, b) },
						func(s *Store) (Summary, error) { return s.TaskSummary(ctx, u, team, time.UTC) })
				}
			}
			everything := func(_ context.Context, tasks []models.Task) ([]bool, error) {
				out := make([]bool, len(tasks))
				for i := range out {
					out[i] = true
				}
				return out, nil
			}
			for _, u := range w.users {
				pages += comparePaged(t, two, TaskList{Viewer: u, Scope: ScopeWatched, IncludeDone: true, Readable: everything})
				same(t, two, "watchEntries "+u, func(a, b []models.WatchlistEntry) []Difference {
					return diffDocs(a, b, func(w models.WatchlistEntry) string { return w.ID }, false)
				}, func(s *Store) ([]models.WatchlistEntry, error) { return s.WatchEntries(ctx, u, ids) })
				var after *string
				for {
					var pa, pb TaskPage
					same(t, two, "watchlist "+u, comparePages, func(s *Store) (TaskPage, error) {
						p, err := s.Watchlist(ctx, u, PageArgs{First: ptr(3), After: after}, everything)
						if s == two.mongo {
							pa = p
						} else {
							pb = p
						}
						return p, err
					})
					if ca, cb := must(pa.Count(ctx)), must(pb.Count(ctx)); ca != cb {
						t.Fatalf("watchlist %s: totalCount %d vs %d", u, ca, cb)
					}
					if !pa.HasNextPage {
						break
					}
					after = &pa.Edges[len(pa.Edges)-1].Cursor
				}
			}
			compareLabelsAndUsers(t, two, w)
			compareTeamsAndAudit(t, two, w)
			for _, st := range two.mirror.ReadStates() {
				if !ReadableFromPostgres(st.Family) {
					continue
				}
				if st.Fallbacks != 0 || st.Served == 0 {
					t.Fatalf("%s on the mirror: fallbacks %d, served %d; want no fallback", st.ReadSetting, st.Fallbacks, st.Served)
				}
			}
			if st := two.mirror.ReadStates()[0]; st.Served < int64(pages) {
				t.Fatalf("tasks: the mirror served %d reads, want at least the %d pages", st.Served, pages)
			}
			t.Logf("%d pages compared", pages)
		})
	}
}

// comparePaged walks every page of l on both sources and compares them.
func comparePaged(t *testing.T, two twoSources, l TaskList) int {
	t.Helper()
	ctx := t.Context()
	l.Page.First = ptr(8)
	n := 0
	for {
		a, err := two.mongo.Tasks(ctx, l)
		if err != nil {
			t.Fatalf("%s: mongodb: %v", l.describe(), err)
		}
		b, err := two.mirror.Tasks(ctx, l)
		if err != nil {
			t.Fatalf("%s: mirror: %v", l.describe(), err)
		}
		n++
		if d := comparePages(a, b); len(d) > 0 {
			t.Fatalf("%s: page %d differs: %+v\nmongodb: %v\nmirror:  %v", l.describe(), n, d, nodeIDs(a), nodeIDs(b))
		}
		for i := range a.Edges {
			if a.Edges[i].Cursor != b.Edges[i].Cursor {
				t.Fatalf("%s: cursor %d: %s vs %s", l.describe(), i, a.Edges[i].Cursor, b.Edges[i].Cursor)
			}
		}
		if n == 1 { // the count does not depend on the page
			ca, err := a.Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := b.Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ca != cb {
				t.Fatalf("%s: totalCount %d on mongodb, %d on the mirror", l.describe(), ca, cb)
			}
		}
		if !a.HasNextPage {
			return n
		}
		l.Page.After = &a.Edges[len(a.Edges)-1].Cursor
	}
}

func nodeIDs(p TaskPage) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.ID
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// same reads from both sources and wants the same answer.
func same[T any](t *testing.T, two twoSources, what string, cmp comparer[T], read func(*Store) (T, error)) {
	t.Helper()
	a, err := read(two.mongo)
	if err != nil {
		t.Fatalf("%s: mongodb: %v", what, err)
	}
	b, err := read(two.mirror)
	if err != nil {
		t.Fatalf("%s: mirror: %v", what, err)
	}
	if d := cmp(a, b); len(d) > 0 {
		t.Fatalf("%s differs: %+v\nmongodb: %+v\nmirror:  %+v", what, d, a, b)
	}
}

// compareLabelsAndUsers compares the labels and users families: every
// page of the label list (with searches, LIKE's wildcards and letters
// beyond ASCII among them),
// the counts, by ids, and the user search in both groups.
func compareLabelsAndUsers(t *testing.T, two twoSources, w world) {
	t.Helper()
	ctx := t.Context()
	for i, name := range []string{"Ops 100%", "ops_team", "Alpha", "alpha", "Zed", "Élan ÜBER"} {
		if _, err := two.mongo.CreateLabel(ctx, w.users[0], name, fmt.Sprintf("#00000%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	labelPage := comparePage(func(l models.Label) string { return l.ID })
	var all []string
	for _, search := range []string{"", "ops", "%", "_", "ALPHA", "élan über", "ÉLAN", "no such"} {
		var after *string
		for {
			var got Page[models.Label]
			same(t, two, "labels "+search, labelPage, func(s *Store) (Page[models.Label], error) {
				p, err := s.Labels(ctx, LabelFilter{Search: search}, PageArgs{First: ptr(2), After: after})
				got = p
				return p, err
			})
			for _, e := range got.Edges {
				all = append(all, e.Node.ID)
			}
			if !got.HasNextPage {
				break
			}
			after = &got.Edges[len(got.Edges)-1].Cursor
		}
		same(t, two, "countLabels "+search, func(a, b int) []Difference { return diffValues("count", a, b) },
			func(s *Store) (int, error) { return s.CountLabels(ctx, LabelFilter{Search: search}) })
	}
	same(t, two, "labelsByIds", func(a, b []models.Label) []Difference {
		return diffDocs(a, b, func(l models.Label) string { return l.ID }, false)
	}, func(s *Store) ([]models.Label, error) { return s.LabelsByIDs(ctx, append(all, w.labels...)) })
	same(t, two, "usersByIds", func(a, b []models.User) []Difference {
		return diffDocs(a, b, func(u models.User) string { return u.ID }, false)
	}, func(s *Store) ([]models.User, error) { return s.UsersByIDs(ctx, w.users) })
	userPage := comparePage(func(u models.User) string { return u.ID })
	for _, search := range []string{"ann", "EXAMPLE", "ÉLODIE", "ünal", "nobody"} {
		var after *string
		for {
			var got Page[models.User]
			same(t, two, "searchUsers "+search, userPage, func(s *Store) (Page[models.User], error) {
				p, _, err := s.SearchUsers(ctx, UserSearch{Search: search, Teammates: w.users[1:3]}, PageArgs{First: ptr(1), After: after})
				got = p
				return p, err
			})
			if !got.HasNextPage {
				break
			}
			after = &got.Edges[len(got.Edges)-1].Cursor
		}
	}
}

// compareTeamsAndAudit compares the teams and audit families: teams by
// id, memberships both ways, every page of each team's members with the
// count, and every page of the audit log under several filters.
func compareTeamsAndAudit(t *testing.T, two twoSources, w world) {
	t.Helper()
	ctx := t.Context()
	same(t, two, "teamsByIds", func(a, b []models.Team) []Difference {
		return diffDocs(a, b, func(x models.Team) string { return x.ID }, false)
	}, func(s *Store) ([]models.Team, error) { return s.TeamsByIDs(ctx, w.teams) })
	same(t, two, "memberships", compareMemberships, func(s *Store) ([]models.TeamMembership, error) { return s.Memberships(ctx, w.teams) })
	same(t, two, "membershipsOfUsers", compareMemberships, func(s *Store) ([]models.TeamMembership, error) {
		return s.MembershipsOfUsers(ctx, w.users)
	})
	memberPage := comparePage(func(m models.TeamMember) string { return m.UserID })
	for _, team := range w.teams {
		var after *string
		for first := true; ; first = false {
			var got Page[models.TeamMember]
			var counts []int
			same(t, two, "members "+team, memberPage, func(s *Store) (Page[models.TeamMember], error) {
				p, count, err := s.Members(ctx, team, PageArgs{First: ptr(1), After: after})
				if err == nil && first {
					counts = append(counts, must(count(ctx)))
				}
				got = p
				return p, err
			})
			if first && counts[0] != counts[1] {
				t.Fatalf("members %s: totalCount %d vs %d", team, counts[0], counts[1])
			}
			if !got.HasNextPage {
				break
			}
			after = &got.Edges[len(got.Edges)-1].Cursor
		}
	}
	logPage := comparePage(func(l models.AuditLog) string { return l.ID })
	for _, f := range []AuditFilter{{}, {Action: "task_created"}, {ActorID: w.users[1]}, {TeamID: w.teams[0]},
		{Since: ptr(time.Now().Add(-time.Hour)), Until: ptr(time.Now().Add(time.Hour))}} {
		var after *string
		for first := true; ; first = false {
			var got Page[models.AuditLog]
			var counts []int
			same(t, two, fmt.Sprintf("auditLogs %+v", f), logPage, func(s *Store) (Page[models.AuditLog], error) {
				p, count, err := s.AuditLogs(ctx, f, PageArgs{First: ptr(25), After: after})
				if err == nil && first {
					counts = append(counts, must(count(ctx)))
				}
				got = p
				return p, err
			})
			if first && counts[0] != counts[1] {
				t.Fatalf("auditLogs %+v: totalCount %d vs %d", f, counts[0], counts[1])
			}
			if !got.HasNextPage {
				break
			}
			after = &got.Edges[len(got.Edges)-1].Cursor
		}
	}
}

// TestReadSourceReachesEveryInstance: a flag set on one instance is stored
// in MongoDB and read by another on its next refresh; a source or family
// this version does not know, or a share out of range, is refused.
func TestReadSourceReachesEveryInstance(t *testing.T) {
	t.Parallel()
	two := newTwoSources(t, mirrorDialects[1].open(t))
	a, b := two.mongo, New(two.mongo.mongo, Options{Engine: two.engine})
	ctx := t.Context()
	if err := a.SetReadSource(ctx, bson.NewObjectID().Hex(), FamilyLabels, SourcePostgres, ptr(25)); err != nil {
		t.Fatal(err)
	}
	if got := b.ReadStates()[3].ReadSetting; got.Source != SourceMongoDB {
		t.Fatalf("before its refresh, the other instance reads %s", got)
	}
	if err := b.RefreshReadSettings(ctx); err != nil {
		t.Fatal(err)
	}
	want := ReadSetting{Family: FamilyLabels, Source: SourcePostgres, ShadowPercent: 25}
	if got := b.ReadStates()[3].ReadSetting; got != want {
		t.Fatalf("after its refresh: %s, want %s", got, want)
	}
	for _, bad := range []struct {
		family, source string
		shadow         int
	}{
		{"tasks2", SourcePostgres, 0}, {FamilyTasks, "mysql", 0}, {FamilyTasks, SourcePostgres, 101}, {FamilyTasks, SourcePostgres, -1},
	} {
		if err := a.SetReadSource(ctx, "x", bad.family, bad.source, &bad.shadow); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetReadSource(%q, %q, %d): %v, want ErrInvalid", bad.family, bad.source, bad.shadow, err)
		}
	}
}

// TestReadMemoSendsOnlyTheBehindFamilyBack: within a query, the mirror is
// asked once which collections have intents; a family whose collections
// have one reads MongoDB, the others the mirror.
func TestReadMemoSendsOnlyTheBehindFamilyBack(t *testing.T) {
	t.Parallel()
	two := newTwoSources(t, mirrorDialects[1].open(t))
	w := mixedWorkload(t, two.mongo, rand.New(rand.NewPCG(3, 4)), 3)
	m := two.mongo.mongo
	now := time.Now().UTC()
	if err := m.InsertIntents(t.Context(), []mongo.Intent{{ID: bson.NewObjectID(), Coll: mongo.CollTasks, DocID: bson.NewObjectID().Hex(),
		Token: "pending-elsewhere", State: mongo.IntentPending, CreatedAt: now, NextAttemptAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	ctx := WithReadMemo(t.Context())
	if _, err := two.mirror.UsersByIDs(ctx, w.users); err != nil {
		t.Fatal(err)
	}
	if _, err := two.mirror.TasksByIDs(ctx, []string{bson.NewObjectID().Hex()}); err != nil {
		t.Fatal(err)
	}
	if _, err := two.mirror.LabelsByIDs(ctx, w.labels); err != nil {
		t.Fatal(err)
	}
	wantServed(t, two.mirror, map[string][2]int64{FamilyUsers: {1, 0}, FamilyTasks: {0, 1}, FamilyLabels: {1, 0}})
}

// TestEveryAuditedChangeReachesTheMirror: the writes whose audit entries
// carry values rather than ids (a read source change, a role granted and
// revoked), after a mixed workload, leave no intent behind on either
// mirror, and verify finds every collection as MongoDB holds it. The
// setting "tasks=postgres shadow=100%" used to go to assignee_from, a
// varchar(24) column: PostgreSQL refused it for good, SQLite stored it,
// and the permanently FAILED intents piled up until every read fell back.
func TestEveryAuditedChangeReachesTheMirror(t *testing.T) {
	onBothMirrors(t, func(t *testing.T, two twoSources) {
		s, ctx := two.mongo, t.Context()
		w := mixedWorkload(t, s, rand.New(rand.NewPCG(5, 14)), 5)
		for _, src := range []string{SourcePostgres, SourceMongoDB} {
			if err := s.SetReadSource(ctx, w.users[0], FamilyTasks, src, ptr(100)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.GrantTeamRole(ctx, w.users[0], w.teams[0], w.users[1], models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeTeamRole(ctx, w.users[0], w.teams[0], w.users[1], models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		noIntentsLeft(t, s.mongo)
		res, err := two.engine.Verify(ctx, mirror.Collections, false, 100, nil, func(d mirror.Difference) {
			t.Errorf("verify: %+v", d)
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Missing+res.Extra+res.Different != 0 {
			t.Errorf("verify: %d missing, %d extra, %d different", res.Missing, res.Extra, res.Different)
		}
		logs, _, err := two.mirror.AuditLogs(ctx, AuditFilter{Action: "read_source_changed"}, PageArgs{First: ptr(10)})
		if err != nil {
			t.Fatal(err)
		}
		var changes []string
		for _, e := range logs.Edges {
			changes = append(changes, e.Node.ValueFrom+" -> "+e.Node.ValueTo)
		}
		want := []string{"tasks=postgres shadow=100% -> tasks=mongodb shadow=100%", "tasks=mongodb shadow=0% -> tasks=postgres shadow=100%"}
		if fmt.Sprint(changes) != fmt.Sprint(want) {
			t.Errorf("read_source_changed from the mirror: %q, want %q", changes, want)
		}
		wantServed(t, two.mirror, map[string][2]int64{FamilyAudit: {1, 0}}) // the audit read came from the mirror
	})
}

// TestGoogleProfileFitsTheMirror: a profile longer than the users table's
// columns signs in with its name cut and its picture dropped, or, for an
// address too long, is refused; the user it makes reaches either mirror.
func TestGoogleProfileFitsTheMirror(t *testing.T) {
	onBothMirrors(t, func(t *testing.T, two twoSources) {
		s, ctx := two.mongo, t.Context()
		u, err := s.SignInGoogle(ctx, GoogleProfile{Subject: "sub-" + bson.NewObjectID().Hex(), Email: "long@example.com",
			Name: strings.Repeat("ü", 300), Picture: "https://pics.example/" + strings.Repeat("p", 500)})
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != strings.Repeat("ü", 255) || u.Picture != "" {
			t.Errorf("stored name of %d characters, picture %q; want 255 and none", utf8.RuneCountInString(u.Name), u.Picture)
		}
		_, err = s.SignInGoogle(ctx, GoogleProfile{Subject: "sub-x", Email: strings.Repeat("a", 250) + "@example.com"})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("an address of 262 characters: %v, want ErrInvalid", err)
		}
		noIntentsLeft(t, s.mongo)
		got, err := two.mirror.UsersByIDs(ctx, []string{u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Name != u.Name {
			t.Errorf("the mirror's user: %+v", got)
		}
	})
}

// TestABacklogElsewhereLeavesTasksOnTheMirror: more intents than the
// request's one scan reads, all of audit_logs (a backlog, or failures
// parked for good), send the audit family back to MongoDB and nothing
// else: the tasks family, with none, is still served from the mirror.
// Past the scan every collection counted as behind.
func TestABacklogElsewhereLeavesTasksOnTheMirror(t *testing.T) {
	t.Parallel()
	two := newTwoSources(t, mirrorDialects[1].open(t))
	w := mixedWorkload(t, two.mongo, rand.New(rand.NewPCG(3, 5)), 3)
	m := two.mongo.mongo
	now := time.Now().UTC()
	backlog := make([]mongo.Intent, 300)
	for i := range backlog {
		backlog[i] = mongo.Intent{ID: bson.NewObjectID(), Coll: mongo.CollAuditLogs, DocID: bson.NewObjectID().Hex(),
			Token: "parked", State: mongo.IntentFailed, Permanent: true, CreatedAt: now, NextAttemptAt: now.Add(time.Hour)}
	}
	if err := m.InsertIntents(t.Context(), backlog); err != nil {
		t.Fatal(err)
	}
	ctx := WithReadMemo(t.Context())
	if _, err := two.mirror.TasksByIDs(ctx, []string{bson.NewObjectID().Hex()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := two.mirror.AuditLogs(ctx, AuditFilter{}, PageArgs{First: ptr(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := two.mirror.UsersByIDs(ctx, w.users); err != nil {
		t.Fatal(err)
	}
	wantServed(t, two.mirror, map[string][2]int64{FamilyTasks: {1, 0}, FamilyAudit: {0, 1}, FamilyUsers: {1, 0}})
	// One tasks intent past what the scan reads: the scan does not see it,
	// the family's own question does, and tasks go back to MongoDB.
	if err := m.InsertIntents(t.Context(), []mongo.Intent{{ID: bson.NewObjectID(), Coll: mongo.CollTasks, DocID: bson.NewObjectID().Hex(),
		Token: "pending", State: mongo.IntentPending, CreatedAt: now, NextAttemptAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	lag, err := two.engine.Behind(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if lag.Everywhere || lag.Complete || slices.Contains(lag.Colls, mongo.CollTasks) {
		t.Fatalf("Behind: %+v; want an incomplete answer that has not met the tasks intent", lag)
	}
	ctx = WithReadMemo(t.Context())
	if _, err := two.mirror.TasksByIDs(ctx, []string{bson.NewObjectID().Hex()}); err != nil {
		t.Fatal(err)
	}
	wantServed(t, two.mirror, map[string][2]int64{FamilyTasks: {1, 1}}) // the first read served, this one fell back
}

// TestProfileWidthsAreTheUsersColumns: fitProfile's widths are those of
// the users table, so a profile it lets through is one the mirror stores.
func TestProfileWidthsAreTheUsersColumns(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[postgres.UserRow]()
	for field, width := range map[string]int{"GoogleID": maxGoogleField, "Email": maxGoogleField, "Name": maxGoogleField, "Picture": maxPicture} {
		f, ok := typ.FieldByName(field)
		if !ok {
			t.Fatalf("UserRow has no %s", field)
		}
		if tag, want := f.Tag.Get("bun"), fmt.Sprintf("type:varchar(%d)", width); !strings.Contains(tag, want) {
			t.Errorf("UserRow.%s is %q; fitProfile holds it to %s", field, tag, want)
		}
	}
}

// TestOldReadSourceEntriesRepairByNormalize: an entry the first
// setReadSource wrote, its settings in the assignee fields, is refused by
// the mirror for good; `todo migrate normalize` moves them, and the retry
// an admin runs then mirrors it, clearing the parked intent.
func TestOldReadSourceEntriesRepairByNormalize(t *testing.T) {
	onBothMirrors(t, func(t *testing.T, two twoSources) {
		s, m, ctx := two.mongo, two.mongo.mongo, t.Context()
		id, now := bson.NewObjectID(), time.Now().UTC()
		if _, err := m.Database().Collection(mongo.CollAuditLogs).InsertOne(ctx, bson.D{{Key: "_id", Value: id},
			{Key: "action", Value: "read_source_changed"}, {Key: "assignee_from", Value: "tasks=mongodb shadow=0%"},
			{Key: "assignee_to", Value: "tasks=postgres shadow=100%"}, {Key: "performed_by", Value: bson.NewObjectID()},
			{Key: "timestamp", Value: now}, {Key: "version", Value: int64(1)}}); err != nil {
			t.Fatal(err)
		}
		if err := m.InsertIntents(ctx, []mongo.Intent{{ID: bson.NewObjectID(), Coll: mongo.CollAuditLogs, DocID: id.Hex(),
			Token: "old", State: mongo.IntentPending, CreatedAt: now, NextAttemptAt: now}}); err != nil {
			t.Fatal(err)
		}
		if _, err := two.engine.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		parked, err := m.Intents(ctx, mongo.IntentFilter{Coll: mongo.CollAuditLogs}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(parked) != 1 || !parked[0].Permanent || !strings.Contains(parked[0].LastError, "column assignee_to holds 26 characters") {
			t.Fatalf("the old entry's intent: %+v; want one parked for good, naming assignee_to", parked)
		}
		if _, err := m.Normalize(ctx, mongo.CollAuditLogs, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RetryAllFailedSyncs(ctx, mongo.CollAuditLogs); err != nil {
			t.Fatal(err)
		}
		if _, err := two.engine.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		noIntentsLeft(t, m)
		logs, _, err := two.mirror.AuditLogs(ctx, AuditFilter{Action: "read_source_changed"}, PageArgs{First: ptr(5)})
		if err != nil {
			t.Fatal(err)
		}
		if len(logs.Edges) != 1 || logs.Edges[0].Node.ValueTo != "tasks=postgres shadow=100%" || logs.Edges[0].Node.AssigneeTo != "" {
			t.Errorf("the entry from the mirror: %+v", logs.Edges)
		}
		wantServed(t, two.mirror, map[string][2]int64{FamilyAudit: {1, 0}}) // the audit read came from the mirror
	})
}

// noIntentsLeft fails the test for each intent in m: every write reached
// the mirror.
func noIntentsLeft(t *testing.T, m *mongo.Store) {
	t.Helper()
	left, err := m.Intents(t.Context(), mongo.IntentFilter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range left {
		t.Errorf("intent left: %s %s %s: %s", in.Coll, in.DocID, in.State, in.LastError)
	}
}

// onBothMirrors runs test in parallel once on each mirror dialect, over
// stores of its own.
func onBothMirrors(t *testing.T, test func(t *testing.T, two twoSources)) {
	t.Parallel()
	for _, d := range mirrorDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			test(t, newTwoSources(t, d.open(t)))
		})
	}
}

// wantServed checks, per family, how many reads s served from the mirror
// and how many fell back: want[family] is {served, fallbacks}.
func wantServed(t *testing.T, s *Store, want map[string][2]int64) {
	t.Helper()
	got := map[string][2]int64{}
	for _, st := range s.ReadStates() {
		got[st.Family] = [2]int64{st.Served, st.Fallbacks}
	}
	for f, w := range want {
		if got[f] != w {
			t.Errorf("%s: served %d, fallbacks %d; want %d, %d", f, got[f][0], got[f][1], w[0], w[1])
		}
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// readFamilies is readMigration's families as the tests read them.
type readFamilies struct {
	ReadMigration struct {
		Families []struct {
			Family, Source                                                         string
			ShadowPercent, ServedFromPostgres, Fallbacks, Matched, Mismatched, Lag int
			CandidateErrors                                                        int
		}
		Mismatches struct {
			Nodes []struct {
				Family, Read string
				IDs          []string `json:"ids"`
				Fields       []string
			}
		}
	}
}

const readMigrationQuery = `{ readMigration { families { family source shadowPercent servedFromPostgres fallbacks
	matched mismatched lag candidateErrors } mismatches(first: 10) { nodes { family read ids fields } } } }`

func (e *env) tasksFamily(t *testing.T, admin person) (out struct {
	Family, Source                                                         string
	ShadowPercent, ServedFromPostgres, Fallbacks, Matched, Mismatched, Lag int
	CandidateErrors                                                        int
}) {
	t.Helper()
	var d readFamilies
	e.must(t, admin, readMigrationQuery, nil, &d)
	for _, f := range d.ReadMigration.Families {
		if f.Family == "TASKS" {
			return f
		}
	}
	t.Fatalf("no TASKS family in %+v", d)
	return out
}

func (e *env) setReadSource(t *testing.T, admin person, source string, shadow int) {
	t.Helper()
	e.must(t, admin, fmt.Sprintf(`mutation { setReadSource(family: TASKS, source: %s, shadowPercent: %d) { families { family source } } }`,
		source, shadow), nil, nil)
}

// TestReadSourceFlipUnderLoad flips the tasks family to PostgreSQL at run
// time with the admin mutation while clients write and read back in a
// loop, cuts PostgreSQL (a black hole) and flips back: no request fails,
// no read is stale after its write, reads the mirror could not answer are
// counted as fallbacks, the flip back takes effect at once, and both
// changes are in the audit log.
func TestReadSourceFlipUnderLoad(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t, faultOpts{cfg: map[string]string{"ADMIN_EMAILS": scenarioAdmin, "REQUEST_RATE": "0"}})
	runWorker(t, f.engine)
	admin := f.person(t, scenarioAdmin)
	var (
		stop            atomic.Bool
		wg              sync.WaitGroup
		rounds, failed  atomic.Int64
		firstFailure    sync.Once
		firstFailureMsg atomic.Value
	)
	fail := func(format string, args ...any) {
		failed.Add(1)
		firstFailure.Do(func() { firstFailureMsg.Store(fmt.Sprintf(format, args...)) })
	}
	for w := range 2 {
		p := f.person(t, fmt.Sprintf("writer%d@example.com", w))
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				title := fmt.Sprintf("w%d-%d", w, i)
				var created struct{ CreateTask struct{ ID string } }
				if !f.call(p, fmt.Sprintf(`mutation { createTask(input: {title: %q, assignee: {userId: %q}}) { id } }`, title, p.id), &created, fail) {
					continue
				}
				id := created.CreateTask.ID
				f.readsBack(p, id, title, fail)
				title += "-renamed"
				if !f.call(p, fmt.Sprintf(`mutation { updateTask(id: %q, input: {title: %q}) { id } }`, id, title), nil, fail) {
					continue
				}
				f.readsBack(p, id, title, fail)
				rounds.Add(1)
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited 20 s for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer func() { stop.Store(true); wg.Wait() }()
	waitFor("writes on mongodb", func() bool { return rounds.Load() >= 3 })

	f.setReadSource(t, admin, "POSTGRES", 100)
	at := rounds.Load()
	waitFor("writes on postgres", func() bool { return rounds.Load() >= at+5 })
	on := f.tasksFamily(t, admin)
	if on.Source != "POSTGRES" || on.ServedFromPostgres == 0 {
		t.Fatalf("after the flip: %+v, want reads served from POSTGRES", on)
	}

	f.proxy.Blackhole()
	at = rounds.Load()
	waitFor("writes with postgresql cut", func() bool { return rounds.Load() >= at+3 })
	f.proxy.Unhole()
	cut := f.tasksFamily(t, admin)
	if cut.Fallbacks <= on.Fallbacks {
		t.Fatalf("with postgresql cut: fallbacks %d, before %d; want more", cut.Fallbacks, on.Fallbacks)
	}
	at = rounds.Load()
	waitFor("writes after postgresql is back", func() bool { return rounds.Load() >= at+3 })

	f.setReadSource(t, admin, "MONGODB", 100)
	back := f.tasksFamily(t, admin).ServedFromPostgres
	at = rounds.Load()
	waitFor("writes on mongodb again", func() bool { return rounds.Load() >= at+3 })
	stop.Store(true)
	wg.Wait()
	if n := f.tasksFamily(t, admin).ServedFromPostgres; n != back {
		t.Errorf("after the flip back: the mirror served %d more reads, want none", n-back)
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d failed or stale reads over %d rounds; first: %v", n, rounds.Load(), firstFailureMsg.Load())
	}
	var audit struct {
		AuditLogs struct {
			Edges []struct{ Node struct{ From, To string } }
		}
	}
	f.must(t, admin, `{ auditLogs(filter: {action: "read_source_changed"}) { edges { node { from to } } } }`, nil, &audit)
	var changes []string
	for _, e := range audit.AuditLogs.Edges {
		changes = append(changes, e.Node.From+" -> "+e.Node.To)
	}
	want := []string{"tasks=postgres shadow=100% -> tasks=mongodb shadow=100%", "tasks=mongodb shadow=0% -> tasks=postgres shadow=100%"}
	if strings.Join(changes, "; ") != strings.Join(want, "; ") {
		t.Errorf("audit log: %q, want %q", changes, want)
	}
	f.store.WaitShadows()
	end := f.tasksFamily(t, admin)
	if end.Mismatched != 0 {
		t.Errorf("%d shadow mismatches, want none: %+v", end.Mismatched, end)
	}
	t.Logf("%d rounds; on postgres %+v; cut %+v; end %+v", rounds.Load(), on, cut, end)
}

// call posts an operation from any goroutine; a failure is reported to
// fail and answers false.
func (e *env) call(p person, query string, into any, fail func(string, ...any)) bool {
	status, g, err := e.post(p.token, query)
	if err != nil || status != 200 || len(g.Errors) > 0 {
		fail("%s: status %d, %v %+v", query, status, err, g.Errors)
		return false
	}
	if into != nil {
		if err := json.Unmarshal(g.Data, into); err != nil {
			fail("%s: %v", query, err)
			return false
		}
	}
	return true
}

// readsBack reads a task its writer just wrote, by id and in a list, and
// reports a title other than the one written.
func (e *env) readsBack(p person, id, title string, fail func(string, ...any)) {
	var one struct{ Task struct{ Title string } }
	if e.call(p, fmt.Sprintf(`{ task(id: %q) { title } }`, id), &one, fail) && one.Task.Title != title {
		fail("task(id) after a write: title %q, want %q", one.Task.Title, title)
	}
	var list struct {
		Tasks struct {
			Edges []struct{ Node struct{ ID, Title string } }
		}
	}
	if !e.call(p, fmt.Sprintf(`{ tasks(filter: {search: %q}, first: 5) { edges { node { id title } } } }`, title), &list, fail) {
		return
	}
	for _, ed := range list.Tasks.Edges {
		if ed.Node.ID == id && ed.Node.Title == title {
			return
		}
	}
	fail("tasks after a write: %q missing from %+v", title, list.Tasks.Edges)
}

// TestShadowReportsPlantedMismatch edits one mirror row by hand (a drift no
// write explains): a shadowed read reports it as a mismatch with the field,
// kept for admins; the same reads before the edit all matched.
func TestShadowReportsPlantedMismatch(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"ADMIN_EMAILS": scenarioAdmin, "READ_SHADOW_PERCENT": "100"}})
	admin := e.person(t, scenarioAdmin)
	me := e.person(t, "planted@example.com")
	a := e.create(t, me, map[string]any{"title": "Left alone", "assignee": map[string]any{"userId": me.id}})
	b := e.create(t, me, map[string]any{"title": "Tampered with", "assignee": map[string]any{"userId": me.id}})
	_ = e.read(t, me, a.ID)
	e.store.WaitShadows()
	if fam := e.tasksFamily(t, admin); fam.Mismatched != 0 || fam.Matched == 0 {
		t.Fatalf("before the edit: %+v, want matches only", fam)
	}
	if _, err := e.pg.Bun.ExecContext(context.Background(),
		`UPDATE postgres_tasks SET title = 'edited by hand' WHERE mongo_id = ?`, b.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, me, b.ID); got == nil || got.Title != "Tampered with" {
		t.Fatalf("the client reads %+v, want MongoDB's title (the control)", got)
	}
	e.store.WaitShadows()
	var d readFamilies
	e.must(t, admin, readMigrationQuery, nil, &d)
	var tasks = e.tasksFamily(t, admin)
	if tasks.Mismatched != 1 {
		t.Fatalf("after the edit: %+v, want one mismatch", tasks)
	}
	ms := d.ReadMigration.Mismatches.Nodes
	if len(ms) != 1 || ms[0].Family != "TASKS" || len(ms[0].IDs) != 1 || ms[0].IDs[0] != b.ID ||
		len(ms[0].Fields) != 1 || ms[0].Fields[0] != b.ID+": Title" {
		t.Fatalf("mismatches: %+v, want one of task %s naming Title", ms, b.ID)
	}
}

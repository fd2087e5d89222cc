package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// relayPage is a connection page as a client reads it, with PageInfo whole.
type relayPage struct {
	Edges    []struct{ Cursor string }
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

// pageOf asks for one page of a connection and returns it.
func (e *env) pageOf(t *testing.T, query, field string, vars map[string]any) relayPage {
	t.Helper()
	g := e.graphql(t, query, vars)
	if len(g.Errors) > 0 {
		t.Fatalf("%s %v: %v", field, vars, g.Errors)
	}
	var data map[string]relayPage
	if err := json.Unmarshal(g.Data, &data); err != nil {
		t.Fatalf("%s: %v: %s", field, err, g.Data)
	}
	return data[field]
}

// checkPage compares a page's PageInfo with what its edges and arguments say.
func checkPage(t *testing.T, name string, p relayPage, wantEdges int, wantPrev, wantNext bool) {
	t.Helper()
	pi := p.PageInfo
	if len(p.Edges) != wantEdges || pi.HasPreviousPage != wantPrev || pi.HasNextPage != wantNext {
		t.Errorf("%s: got %d edges, hasPreviousPage %v, hasNextPage %v; want %d, %v, %v",
			name, len(p.Edges), pi.HasPreviousPage, pi.HasNextPage, wantEdges, wantPrev, wantNext)
	}
	if len(p.Edges) == 0 {
		if pi.StartCursor != nil || pi.EndCursor != nil {
			t.Errorf("%s: empty page: got startCursor %s, endCursor %s, want both null", name, orNull(pi.StartCursor), orNull(pi.EndCursor))
		}
		return
	}
	first, last := p.Edges[0].Cursor, p.Edges[len(p.Edges)-1].Cursor
	if pi.StartCursor == nil || *pi.StartCursor != first {
		t.Errorf("%s: got startCursor %s, want the first edge's cursor %q", name, orNull(pi.StartCursor), first)
	}
	if pi.EndCursor == nil || *pi.EndCursor != last {
		t.Errorf("%s: got endCursor %s, want the last edge's cursor %q", name, orNull(pi.EndCursor), last)
	}
}

func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// TestPageInfo walks the seeded labels (8 of them) three at a time: only a
// page asked for with `after` has a previous page, and start and end cursors
// are the first and last edges' (null on an empty page).
func TestPageInfo(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	const labelsQ = `query($n: Int, $a: String) { labels(first: $n, after: $a) {
		edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	labels := func(n int, after *string) relayPage {
		t.Helper()
		vars := map[string]any{"n": n}
		if after != nil {
			vars["a"] = *after
		}
		return e.pageOf(t, labelsQ, "labels", vars)
	}

	p1 := labels(3, nil)
	checkPage(t, "labels page 1", p1, 3, false, true)
	if p1.PageInfo.EndCursor == nil {
		t.Fatal("labels page 1: no endCursor to go on from")
	}
	p2 := labels(3, p1.PageInfo.EndCursor)
	checkPage(t, "labels page 2", p2, 3, true, true)
	if p2.PageInfo.StartCursor != nil && *p2.PageInfo.StartCursor == *p1.PageInfo.EndCursor {
		t.Errorf("labels page 2: startCursor is page 1's endCursor, want the cursor of page 2's own first label")
	}
	p3 := labels(3, p2.PageInfo.EndCursor)
	checkPage(t, "labels page 3", p3, 2, true, false)

	// first: 0 lists nothing: no cursors, and hasPreviousPage still tells
	// whether the page was asked for after a cursor.
	checkPage(t, "labels first 0", labels(0, nil), 0, false, true)
	checkPage(t, "labels first 0 after page 1", labels(0, p1.PageInfo.EndCursor), 0, true, true)

	// Task connections build their PageInfo on their own path (taskConnection).
	for _, title := range []string{"Page one", "Page two"} {
		g := e.graphql(t, `mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": title})
		if len(g.Errors) > 0 {
			t.Fatalf("createTask %q: %v", title, g.Errors)
		}
	}
	const tasksQ = `query($a: String) { tasks(filter: {scope: CREATED_BY_ME}, first: 1, after: $a) {
		edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	t1 := e.pageOf(t, tasksQ, "tasks", nil)
	checkPage(t, "tasks page 1", t1, 1, false, true)
	if t1.PageInfo.EndCursor == nil {
		t.Fatal("tasks page 1: no endCursor to go on from")
	}
	t2 := e.pageOf(t, tasksQ, "tasks", map[string]any{"a": *t1.PageInfo.EndCursor})
	checkPage(t, "tasks page 2", t2, 1, true, false)
}

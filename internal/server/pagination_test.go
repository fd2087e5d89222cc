package server_test

// The edges of the Relay connections the screens page through (SPEC §4):
// empty lists, a page that is exactly full, first: 0, and cursors that stay
// put while other clients insert.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/todo-backend/todo/models"
)

// checkEmptyPage checks a page that lists nothing.
func checkEmptyPage(t *testing.T, what string, edges int, edgesNull bool, pi pageInfo, total, wantTotal int) {
	t.Helper()
	if edges != 0 || edgesNull || pi.HasNextPage || pi.EndCursor != nil || total != wantTotal {
		t.Errorf("%s: got %d edges (null %v), hasNextPage %v, endCursor %v, totalCount %d; want [], false, null, %d",
			what, edges, edgesNull, pi.HasNextPage, pi.EndCursor, total, wantTotal)
	}
}

func TestTaskPaginationEdges(t *testing.T) { bothSources(t, testTaskPaginationEdges) }

func testTaskPaginationEdges(t *testing.T, reads string) {
	e, _ := newScenarioEnv(t, reads)
	me := e.person(t, "pager@example.com")

	empty := e.listTasks(t, me, nil, nil, nil, nil)
	checkEmptyPage(t, "tasks of a new user", len(empty.Edges), empty.Edges == nil, empty.PageInfo, empty.TotalCount, 0)
	var wl struct{ Watchlist taskPage }
	e.must(t, me, `{ watchlist { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }`, nil, &wl)
	checkEmptyPage(t, "an empty watchlist", len(wl.Watchlist.Edges), wl.Watchlist.Edges == nil, wl.Watchlist.PageInfo, wl.Watchlist.TotalCount, 0)

	for _, title := range []string{"Page item 1", "Page item 2", "Page item 3"} {
		e.create(t, me, map[string]any{"title": title, "assignee": map[string]any{"userId": me.id}})
	}
	none := e.listTasks(t, me, map[string]any{"search": "no such words"}, nil, nil, nil)
	checkEmptyPage(t, "a filter matching nothing", len(none.Edges), none.Edges == nil, none.PageInfo, none.TotalCount, 0)

	full := e.listTasks(t, me, nil, nil, 3, nil)
	if len(full.Edges) != 3 || full.PageInfo.HasNextPage || full.TotalCount != 3 ||
		full.PageInfo.EndCursor == nil || *full.PageInfo.EndCursor != full.Edges[2].Cursor {
		t.Errorf("first 3 of 3: got %d edges, %+v, totalCount %d; want 3, no next page, endCursor at the last", len(full.Edges), full.PageInfo, full.TotalCount)
	}
	two := e.listTasks(t, me, nil, nil, 2, nil)
	if len(two.Edges) != 2 || !two.PageInfo.HasNextPage || two.PageInfo.EndCursor == nil {
		t.Fatalf("first 2 of 3: got %d edges, %+v; want 2 and a next page", len(two.Edges), two.PageInfo)
	}
	rest := e.listTasks(t, me, nil, nil, 2, *two.PageInfo.EndCursor)
	if len(rest.Edges) != 1 || rest.PageInfo.HasNextPage || rest.PageInfo.EndCursor == nil || rest.TotalCount != 3 {
		t.Fatalf("the page after 2 of 3: got %d edges, %+v, totalCount %d; want 1, no next page", len(rest.Edges), rest.PageInfo, rest.TotalCount)
	}
	if got := append(two.titles(), rest.titles()...); !slices.Equal(got, full.titles()) {
		t.Errorf("two pages: got %q, want the one full page %q", got, full.titles())
	}
	past := e.listTasks(t, me, nil, nil, 2, *rest.PageInfo.EndCursor)
	checkEmptyPage(t, "after the last task", len(past.Edges), past.Edges == nil, past.PageInfo, past.TotalCount, 3)

	// first: 0 asks for the count alone. Relay: hasNextPage tells whether
	// items exist beyond the (empty) page.
	zero := e.listTasks(t, me, nil, nil, 0, nil)
	if len(zero.Edges) != 0 || zero.PageInfo.EndCursor != nil || zero.TotalCount != 3 {
		t.Errorf("first 0: got %d edges, endCursor %v, totalCount %d; want none, null, 3", len(zero.Edges), zero.PageInfo.EndCursor, zero.TotalCount)
	}
	if !zero.PageInfo.HasNextPage {
		t.Errorf("first 0 of 3: got hasNextPage false, want true (3 tasks follow the empty page)")
	}
	if z := e.listTasks(t, me, nil, nil, 0, *two.PageInfo.EndCursor); len(z.Edges) != 0 || z.TotalCount != 3 {
		t.Errorf("first 0 after a cursor: got %d edges, totalCount %d; want none, 3", len(z.Edges), z.TotalCount)
	}
}

// TestTaskPaginationUnderConcurrentInserts: a client pages while another
// adds tasks. A task that sorts before the cursor does not show; one after
// it does; the original tasks each show exactly once.
func TestTaskPaginationUnderConcurrentInserts(t *testing.T) {
	bothSources(t, testTaskPaginationUnderConcurrentInserts)
}

func testTaskPaginationUnderConcurrentInserts(t *testing.T, reads string) {
	e, _ := newScenarioEnv(t, reads)
	for _, tc := range []struct {
		name  string
		order map[string]any
	}{
		{"TITLE ASC", map[string]any{"field": "TITLE", "direction": "ASC"}},
		{"TITLE DESC", map[string]any{"field": "TITLE", "direction": "DESC"}},
		{"default (UPDATED_AT DESC)", nil},
		{"CREATED_AT ASC", map[string]any{"field": "CREATED_AT", "direction": "ASC"}},
		{"PRIORITY ASC", map[string]any{"field": "PRIORITY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			me := e.person(t, "pager-"+strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")+"@example.com")
			mk := func(title, priority string) task {
				t.Helper()
				time.Sleep(2 * time.Millisecond) // distinct times
				return e.create(t, me, map[string]any{"title": title, "priority": priority, "assignee": map[string]any{"userId": me.id}})
			}
			prio := []string{"HIGH", "HIGH", "MEDIUM", "MEDIUM", "LOW", "LOW"}
			for i, title := range []string{"Bravo 1", "Bravo 2", "Bravo 3", "Bravo 4", "Bravo 5", "Bravo 6"} {
				mk(title, prio[i])
			}
			page1 := e.listTasks(t, me, nil, tc.order, 3, nil)
			if len(page1.Edges) != 3 || !page1.PageInfo.HasNextPage || page1.PageInfo.EndCursor == nil {
				t.Fatalf("page 1: got %q %+v", page1.titles(), page1.PageInfo)
			}
			want := e.collect(t, me, nil, tc.order, 3, *page1.PageInfo.EndCursor) // the rest, before any insert
			last := page1.Edges[2].Node

			// One task that sorts before the cursor, one right after it.
			var before, after task
			switch {
			case tc.order == nil:
				before = mk("Newest", "LOW") // updated last: first in the default order
				after = mk("Oldest", "LOW")
				e.patchTask(t, after.ID, func(x *models.Task) {
					old := last.UpdatedAt.Add(-time.Millisecond)
					x.UpdatedAt = &old
				})
			case tc.order["field"] == "TITLE" && tc.order["direction"] == "ASC":
				before, after = mk("Alpha", "LOW"), mk(last.Title+"a", "LOW")
			case tc.order["field"] == "TITLE":
				before, after = mk("Zulu", "LOW"), mk("Bravo 3a", "LOW") // the cursor is at Bravo 4
			case tc.order["field"] == "CREATED_AT":
				after = mk("Latest", "LOW") // created last: at the end
				before = mk("Earliest", "LOW")
				e.patchTask(t, before.ID, func(x *models.Task) { x.CreatedAt = time.Now().AddDate(0, 0, -1) })
			default: // PRIORITY: HIGH first, the cursor sits in MEDIUM
				before, after = mk("Urgent", "HIGH"), mk("Trivial", "LOW")
			}
			got := e.collect(t, me, nil, tc.order, 3, *page1.PageInfo.EndCursor)
			gotTitles := titles(got)
			if slices.Contains(gotTitles, before.Title) {
				t.Errorf("%q sorts before the cursor but shows on a later page: %q", before.Title, gotTitles)
			}
			for _, p := range page1.Edges {
				if slices.Contains(gotTitles, p.Node.Title) {
					t.Errorf("%q repeated after page 1: %q", p.Node.Title, gotTitles)
				}
			}
			var originals []string
			for _, x := range got {
				if x.ID != after.ID && x.ID != before.ID {
					originals = append(originals, x.Title)
				}
			}
			if !slices.Equal(originals, titles(want)) {
				t.Errorf("the original tasks after page 1: got %q, want %q", originals, titles(want))
			}
			if !slices.Contains(gotTitles, after.Title) {
				t.Errorf("%q sorts after the cursor but is missing: %q", after.Title, gotTitles)
			}
		})
	}
}

func TestLabelPaginationEdges(t *testing.T) { bothSources(t, testLabelPaginationEdges) }

func testLabelPaginationEdges(t *testing.T, reads string) {
	e, admin := newScenarioEnv(t, reads)
	me := e.person(t, "labels@example.com")
	const q = `query($s: String, $n: Int, $a: String) { labels(search: $s, first: $n, after: $a) {
		totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }`
	type labelPage struct {
		TotalCount int
		PageInfo   pageInfo
		Edges      []struct {
			Cursor string
			Node   struct{ ID, Name string }
		}
	}
	list := func(search, first, after any) labelPage {
		t.Helper()
		var d struct{ Labels labelPage }
		e.must(t, me, q, map[string]any{"s": search, "n": first, "a": after}, &d)
		return d.Labels
	}
	names := func(p labelPage) []string {
		out := []string{}
		for _, ed := range p.Edges {
			out = append(out, ed.Node.Name)
		}
		return out
	}

	none := list("no-such-label", nil, nil)
	checkEmptyPage(t, "labels matching nothing", len(none.Edges), none.Edges == nil, none.PageInfo, none.TotalCount, 0)
	full := list(nil, 8, nil)
	if len(full.Edges) != 8 || full.PageInfo.HasNextPage || full.TotalCount != 8 ||
		full.PageInfo.EndCursor == nil || *full.PageInfo.EndCursor != full.Edges[7].Cursor {
		t.Errorf("first 8 of 8: got %d, %+v, totalCount %d; want 8, no next page", len(full.Edges), full.PageInfo, full.TotalCount)
	}
	one := list("bug", 1, nil)
	if !slices.Equal(names(one), []string{"Bug"}) || one.PageInfo.HasNextPage || one.TotalCount != 1 {
		t.Errorf("search bug, first 1: got %q %+v totalCount %d; want [Bug], no next page", names(one), one.PageInfo, one.TotalCount)
	}
	seven := list(nil, 7, nil)
	if len(seven.Edges) != 7 || !seven.PageInfo.HasNextPage || seven.PageInfo.EndCursor == nil {
		t.Fatalf("first 7 of 8: got %d %+v", len(seven.Edges), seven.PageInfo)
	}
	rest := list(nil, 7, *seven.PageInfo.EndCursor)
	if !slices.Equal(names(rest), []string{"UI/UX"}) || rest.PageInfo.HasNextPage {
		t.Errorf("after 7 of 8: got %q %+v, want [UI/UX] and no next page", names(rest), rest.PageInfo)
	}
	past := list(nil, 7, *rest.PageInfo.EndCursor)
	checkEmptyPage(t, "after the last label", len(past.Edges), past.Edges == nil, past.PageInfo, past.TotalCount, 8)
	zero := list(nil, 0, nil)
	if len(zero.Edges) != 0 || zero.PageInfo.EndCursor != nil || zero.TotalCount != 8 {
		t.Errorf("first 0: got %d edges, endCursor %v, totalCount %d; want none, null, 8", len(zero.Edges), zero.PageInfo.EndCursor, zero.TotalCount)
	}
	if !zero.PageInfo.HasNextPage {
		t.Errorf("labels first 0 of 8: got hasNextPage false, want true (8 labels follow the empty page)")
	}

	page1 := list(nil, 3, nil)
	if !slices.Equal(names(page1), []string{"API", "Bug", "Documentation"}) || page1.PageInfo.EndCursor == nil {
		t.Fatalf("labels page 1: got %q", names(page1))
	}
	for _, name := range []string{"Aardvark", "Estimates"} { // before and after the cursor
		e.must(t, admin, `mutation($n: String!) { createLabel(input: {name: $n, color: "#123456"}) { id } }`, map[string]any{"n": name}, nil)
	}
	var got []string
	after := any(*page1.PageInfo.EndCursor)
	for range 10 {
		p := list(nil, 3, after)
		got = append(got, names(p)...)
		if !p.PageInfo.HasNextPage {
			break
		}
		after = *p.PageInfo.EndCursor
	}
	want := []string{"Estimates", "Feature", "Refactoring/Optimization", "Review", "Testing", "UI/UX"}
	if !slices.Equal(got, want) {
		t.Errorf("labels after page 1 with inserts on both sides: got %q, want %q", got, want)
	}
}

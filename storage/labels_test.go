package storage

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// seededNames are the seed labels' names in the order Labels lists them.
func seededNames() []string {
	var out []string
	for _, l := range mongo.SeedLabels {
		out = append(out, l.Name)
	}
	slices.Sort(out)
	return out
}

// page fetches one page and checks its size and hasNextPage.
func page(t *testing.T, s *Store, f LabelFilter, first int, after *string, wantLen int, wantNext bool) Page[models.Label] {
	t.Helper()
	p, err := s.Labels(t.Context(), f, PageArgs{First: &first, After: after})
	if err != nil {
		t.Fatalf("Labels(first=%d, after=%v): got error %v, want none", first, after, err)
	}
	if len(p.Edges) != wantLen || p.HasNextPage != wantNext {
		t.Fatalf("Labels(first=%d, after=%v): got %d edges, hasNextPage %v, want %d, %v",
			first, after, len(p.Edges), p.HasNextPage, wantLen, wantNext)
	}
	return p
}

func names(p Page[models.Label]) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.Name
	}
	return out
}

func endCursor(p Page[models.Label]) *string { return &p.Edges[len(p.Edges)-1].Cursor }

func TestLabelsPagesThroughTheSeeds(t *testing.T) {
	t.Parallel()
	s, _ := newSeeded(t)
	var got []string
	seen := map[string]bool{}
	var after *string
	for i, want := range []struct {
		n    int
		next bool
	}{{3, true}, {3, true}, {2, false}} {
		p := page(t, s, LabelFilter{}, 3, after, want.n, want.next)
		for _, e := range p.Edges {
			if seen[e.Node.ID] {
				t.Errorf("page %d: got label %s %q again", i+1, e.Node.ID, e.Node.Name)
			}
			seen[e.Node.ID] = true
			if e.Cursor == "" {
				t.Errorf("page %d: label %q has no cursor", i+1, e.Node.Name)
			}
		}
		got = append(got, names(p)...)
		after = endCursor(p)
	}
	if want := seededNames(); !slices.Equal(got, want) {
		t.Errorf("labels over all pages: got %q, want %q", got, want)
	}
	n, err := s.CountLabels(t.Context(), LabelFilter{})
	if err != nil || n != len(got) {
		t.Errorf("CountLabels: got %d, %v, want %d, nil", n, err, len(got))
	}

	// The default page holds all eight; search narrows the list and the count.
	all, err := s.Labels(t.Context(), LabelFilter{}, PageArgs{})
	if err != nil || len(all.Edges) != 8 || all.HasNextPage {
		t.Errorf("Labels with no arguments: got %d edges, hasNextPage %v, %v, want 8, false, nil",
			len(all.Edges), all.HasNextPage, err)
	}
	f := LabelFilter{Search: "ui/ux"}
	if p := page(t, s, f, 5, nil, 1, false); names(p)[0] != "UI/UX" {
		t.Errorf("Labels(search ui/ux): got %q, want [UI/UX]", names(p))
	}
	if n, err := s.CountLabels(t.Context(), f); err != nil || n != 1 {
		t.Errorf("CountLabels(search ui/ux): got %d, %v, want 1, nil", n, err)
	}
}

// A label inserted between two page requests, before or after the cursor,
// does not shift the next page: it starts right after the last label seen.
func TestLabelsCursorIsStableUnderInserts(t *testing.T) {
	t.Parallel()
	s, m := newSeeded(t)
	p1 := page(t, s, LabelFilter{}, 3, nil, 3, true)
	if got, want := names(p1), []string{"API", "Bug", "Documentation"}; !slices.Equal(got, want) {
		t.Fatalf("first page: got %q, want %q", got, want)
	}
	addLabel(t, m, "AAA")  // sorts before the cursor
	addLabel(t, m, "Epic") // sorts right after it
	p2 := page(t, s, LabelFilter{}, 3, endCursor(p1), 3, true)
	if got, want := names(p2), []string{"Epic", "Feature", "Refactoring/Optimization"}; !slices.Equal(got, want) {
		t.Errorf("second page: got %q, want %q", got, want)
	}
	p3 := page(t, s, LabelFilter{}, 3, endCursor(p2), 3, false)
	if got, want := names(p3), []string{"Review", "Testing", "UI/UX"}; !slices.Equal(got, want) {
		t.Errorf("third page: got %q, want %q", got, want)
	}
	if n, err := s.CountLabels(t.Context(), LabelFilter{}); err != nil || n != 10 {
		t.Errorf("CountLabels: got %d, %v, want 10, nil", n, err)
	}
}

func TestLabelsPageSizeLimits(t *testing.T) {
	t.Parallel()
	s, m := newSeeded(t)
	for i := range 15 {
		addLabel(t, m, "Extra "+string(rune('a'+i)))
	}
	page(t, s, LabelFilter{}, MaxPageSize, nil, 23, false)
	p, err := s.Labels(t.Context(), LabelFilter{}, PageArgs{})
	if err != nil || len(p.Edges) != DefaultPageSize || !p.HasNextPage {
		t.Errorf("Labels with no first: got %d edges, hasNextPage %v, %v, want %d, true, nil",
			len(p.Edges), p.HasNextPage, err, DefaultPageSize)
	}
	// first=0 is a valid Relay argument (only a negative one is an error):
	// an empty page.
	if p, err := s.Labels(t.Context(), LabelFilter{}, PageArgs{First: ptr(0)}); err != nil || len(p.Edges) != 0 {
		t.Errorf("Labels(first=0): got %d edges, %v, want 0, nil", len(p.Edges), err)
	}
}

func TestLabelsRejectsBadArguments(t *testing.T) {
	t.Parallel()
	s, _ := newSeeded(t)
	good := page(t, s, LabelFilter{}, 1, nil, 1, true).Edges[0].Cursor
	forged := func(json string) *string { return ptr(base64.RawURLEncoding.EncodeToString([]byte(json))) }
	cases := []struct {
		name      string
		args      PageArgs
		wantField string
	}{
		{"first=-1", PageArgs{First: ptr(-1)}, "first"},
		{"first=101", PageArgs{First: ptr(MaxPageSize + 1)}, "first"},
		{"garbage after", PageArgs{After: ptr("not a cursor!")}, "after"},
		{"empty after", PageArgs{After: ptr("")}, "after"},
		{"truncated cursor", PageArgs{After: ptr(good[:len(good)-4])}, "after"},
		{"cursor of a list with two keys", PageArgs{After: forged(`{"k":["a","b"],"i":"64b7f1c2a1b2c3d4e5f60718"}`)}, "after"},
		{"cursor without keys", PageArgs{After: forged(`{"i":"64b7f1c2a1b2c3d4e5f60718"}`)}, "after"},
		{"cursor with a non-hex id", PageArgs{After: forged(`{"k":["API"],"i":"zzzzzzzzzzzzzzzzzzzzzzzz"}`)}, "after"},
		{"bad after with first=0", PageArgs{First: ptr(0), After: ptr("%%%")}, "after"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Labels(t.Context(), LabelFilter{}, c.args)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.wantField {
				t.Fatalf("Labels: got error %v, want a *FieldError on %q", err, c.wantField)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Labels: got error %v, want one that is ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "mongo") {
				t.Errorf("Labels: got error %q, want no store details in it", err)
			}
		})
	}
}

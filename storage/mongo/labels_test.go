package mongo

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

// addLabels inserts one label per name, deleted ones marked with deleted.
func addLabels(t *testing.T, s *Store, deleted bool, names ...string) {
	t.Helper()
	for _, n := range names {
		insertRaw(t, s, CollLabels, labelDoc{ID: bson.NewObjectID(), Name: n, Color: "#000000",
			IsDeleted: deleted, CreatedAt: ts(time.Now()), CreatedBy: "system", Version: 1})
	}
}

func namesOf(labels []models.Label) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l.Name
	}
	return out
}

func TestListLabelsSearch(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	addLabels(t, s, false, "API", "Bug", "Feature", "feature request", "UI/UX", "a.*b", "Paren (x)", "Plain")
	addLabels(t, s, true, "Deleted feature", "Deleted (x)")
	// Byte order, as MongoDB compares strings without a collation.
	all := []string{"API", "Bug", "Feature", "Paren (x)", "Plain", "UI/UX", "a.*b", "feature request"}
	cases := []struct {
		search string
		want   []string
	}{
		{"", all},
		{"feat", []string{"Feature", "feature request"}},
		{"FEAT", []string{"Feature", "feature request"}},
		{"ui/ux", []string{"UI/UX"}},
		{".*", []string{"a.*b"}},
		{"(", []string{"Paren (x)"}},
		{"(x)", []string{"Paren (x)"}},
		{"^Bug$", nil},
		{"x)|Bug", nil},
		{"deleted", nil},
		{"nothing like it", nil},
	}
	for _, c := range cases {
		got, err := s.ListLabels(t.Context(), LabelQuery{Search: c.search, Limit: 100})
		if err != nil {
			t.Errorf("ListLabels(%q): got error %v, want none", c.search, err)
			continue
		}
		if names := namesOf(got); !slices.Equal(names, c.want) {
			t.Errorf("ListLabels(%q): got %q, want %q", c.search, names, c.want)
		}
		n, err := s.CountLabels(t.Context(), c.search)
		if err != nil || n != int64(len(c.want)) {
			t.Errorf("CountLabels(%q): got %d, %v, want %d, nil", c.search, n, err, len(c.want))
		}
	}
}

// pageAll pages through q with pages of size limit and returns every label.
func pageAll(t *testing.T, s *Store, q LabelQuery, limit int) []models.Label {
	t.Helper()
	var out []models.Label
	q.Limit = limit
	for range 100 {
		page, err := s.ListLabels(t.Context(), q)
		if err != nil {
			t.Fatalf("ListLabels(%+v): %v", q, err)
		}
		if len(page) > limit {
			t.Fatalf("ListLabels(%+v): got %d labels, want at most %d", q, len(page), limit)
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		last := page[len(page)-1]
		q.AfterName, q.AfterID = last.Name, last.ID
	}
	t.Fatalf("paging %+v did not end", q)
	return nil
}

func TestListLabelsKeysetPaging(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// No unique index here: a database the original filled may hold two
	// labels of one name, which the _id tie-break keeps apart.
	addLabels(t, s, false, "Same", "Docs", "Same", "Zeta", "Alpha", "Same", "Mid")
	addLabels(t, s, true, "Nope")
	want, err := s.ListLabels(t.Context(), LabelQuery{Limit: 100})
	if err != nil {
		t.Fatalf("ListLabels: %v", err)
	}
	if got := namesOf(want); !slices.Equal(got, []string{"Alpha", "Docs", "Mid", "Same", "Same", "Same", "Zeta"}) {
		t.Fatalf("ListLabels: got %q, want Alpha Docs Mid Same×3 Zeta", got)
	}
	for _, limit := range []int{1, 2, 3, 7, 8} {
		got := pageAll(t, s, LabelQuery{}, limit)
		if !slices.EqualFunc(got, want, func(a, b models.Label) bool { return a.ID == b.ID }) {
			t.Errorf("pages of %d: got %q, want %q in that order, each once", limit, namesOf(got), namesOf(want))
		}
	}
	got := pageAll(t, s, LabelQuery{Search: "a"}, 2)
	if names := namesOf(got); !slices.Equal(names, []string{"Alpha", "Same", "Same", "Same", "Zeta"}) {
		t.Errorf(`pages of 2 with search "a": got %q, want Alpha Same×3 Zeta`, names)
	}

	_, err = s.ListLabels(t.Context(), LabelQuery{AfterName: "x", AfterID: "not-an-id", Limit: 1})
	if !errors.Is(err, ErrInvalidID) {
		t.Errorf("ListLabels after id %q: got error %v, want ErrInvalidID", "not-an-id", err)
	}
}

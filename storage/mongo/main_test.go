package mongo

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newStore connects to a database of the test's own, dropped when it ends.
func newStore(t *testing.T) *Store {
	t.Helper()
	return storeOn(t, testenv.MongoDatabase(t))
}

// storeOn connects another client to database db, as a second instance of
// the service would.
func storeOn(t *testing.T, db string) *Store {
	t.Helper()
	s, err := Connect(testenv.MongoURI(t), db, Options{})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// insertRaw writes documents exactly as given, bypassing the doc structs.
func insertRaw(t *testing.T, s *Store, coll string, docs ...any) {
	t.Helper()
	if _, err := s.coll(coll).InsertMany(t.Context(), docs); err != nil {
		t.Fatalf("insert into %s: %v", coll, err)
	}
}

// count counts the documents of coll matching filter.
func count(t *testing.T, s *Store, coll string, filter bson.D) int64 {
	t.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	n, err := s.coll(coll).CountDocuments(t.Context(), filter)
	if err != nil {
		t.Fatalf("count %s: %v", coll, err)
	}
	return n
}

// sameFields compares two values of one struct type field by field through
// their JSON form, which shows pointers by value, and reports each field
// that differs.
func sameFields(t *testing.T, got, want any) {
	t.Helper()
	g, w := jsonFields(t, got), jsonFields(t, want)
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if string(g[k]) != string(w[k]) {
			t.Errorf("%s: got %s, want %s", k, g[k], w[k])
		}
	}
}

func jsonFields(t *testing.T, v any) map[string]json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
	return m
}

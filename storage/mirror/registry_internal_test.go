package mirror

import (
	"reflect"
	"testing"

	"github.com/todo-backend/todo/models/modelstest"
)

// TestRegistryRoundTrip fills every field of every mirrored document type
// with a value that is not its zero, maps it to its record and back, and
// wants the same document: a field the model gains and the mapping misses
// (either way) fails here, whatever the collection.
func TestRegistryRoundTrip(t *testing.T) {
	if len(registry) != len(Collections) {
		t.Fatalf("registry has %d kinds, Collections %d", len(registry), len(Collections))
	}
	for _, k := range registry {
		t.Run(k.collection, func(t *testing.T) {
			doc := reflect.New(k.doc).Elem()
			modelstest.Fill(t, doc)
			rec, err := Map(doc.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if rec.Collection != k.collection || Collection(doc.Interface()) != k.collection {
				t.Fatalf("collection %q / %q, want %q", rec.Collection, Collection(doc.Interface()), k.collection)
			}
			back, err := Doc(rec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, doc.Interface()) {
				t.Fatalf("round trip changed the document:\n got %#v\nwant %#v", back, doc.Interface())
			}
		})
	}
}

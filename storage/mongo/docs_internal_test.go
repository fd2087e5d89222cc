package mongo

import (
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models/modelstest"
)

// TestDocsRoundTrip fills every field of every mirrored model with a value
// that is not its zero, writes it as its document (as BSON, the way it is
// stored) and reads it back: a models field whose declaration in
// storage/schema loses it, either way, fails here.
func TestDocsRoundTrip(t *testing.T) {
	t.Parallel()
	if len(documents) != len(MirroredCollections) {
		t.Fatalf("%d document kinds for %d collections", len(documents), len(MirroredCollections))
	}
	for _, coll := range MirroredCollections {
		t.Run(coll, func(t *testing.T) {
			doc, ok := documents[coll]
			if !ok {
				t.Fatalf("no document kind")
			}
			encode, decode := doc.encode, doc.decode
			// The model type is what the decoder returns for any document.
			probe, err := decode(mustMarshal(t, bson.D{{Key: "_id", Value: bson.NewObjectID()}}))
			if err != nil {
				t.Fatal(err)
			}
			model := reflect.New(reflect.TypeOf(probe)).Elem()
			modelstest.Fill(t, model)
			model.FieldByName("ID").SetString(bson.NewObjectID().Hex())
			back, err := decode(mustMarshal(t, encode(model.Interface())))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, model.Interface()) {
				t.Fatalf("round trip changed the document:\n got %#v\nwant %#v", back, model.Interface())
			}
		})
	}
}

func mustMarshal(t *testing.T, doc any) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

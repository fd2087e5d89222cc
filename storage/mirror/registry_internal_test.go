package mirror

import (
	"reflect"
	"testing"
	"time"
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
			fill(t, doc, k.doc.Name())
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

// fill sets every field to a non-zero value the mirror can store as is.
func fill(t *testing.T, v reflect.Value, path string) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(at))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.String:
		// Short enough for any column (ids are at most 24 characters).
		v.SetString("v" + string(rune('a'+len(path)%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(2)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			t.Fatalf("%s: no filler for %s", path, v.Type())
		}
		v.Set(reflect.ValueOf([]string{"la", "lb"}).Convert(v.Type()))
	default:
		t.Fatalf("%s: no filler for %s", path, v.Type())
	}
}

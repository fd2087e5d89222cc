package mongo

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/internal/testenv"
)

// Legacy documents holding text the mirror cannot store are reported by
// collection, id and field, and left as they are; clean ones (tabs and
// newlines are fine) are not reported. The documents hold control
// characters other than NUL: FerretDB keeps documents in PostgreSQL's
// jsonb, which refuses a NUL as the mirror does (the NUL test below).
func TestNormalizeReportsUnmirrorableText(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	badLabel, cleanLabel := bson.NewObjectID(), bson.NewObjectID()
	badTask, cleanTask := bson.NewObjectID(), bson.NewObjectID()
	user := bson.NewObjectID().Hex()
	insertRaw(t, s, CollLabels,
		bson.D{{Key: "_id", Value: badLabel}, {Key: "name", Value: "Bug\x01"}, {Key: "color", Value: "#ff0000"},
			{Key: "description", Value: "ring \x07 the bell"}, {Key: "createdBy", Value: "system"}},
		bson.D{{Key: "_id", Value: cleanLabel}, {Key: "name", Value: "Feature"}, {Key: "color", Value: "#22c55e"},
			{Key: "description", Value: "two\tcolumns,\r\ntwo lines"}, {Key: "createdBy", Value: "system"}})
	insertRaw(t, s, CollTasks,
		bson.D{{Key: "_id", Value: badTask}, {Key: "displayId", Value: "#1"}, {Key: "title", Value: "\x08"},
			{Key: "description", Value: "fine"}, {Key: "labels", Value: bson.A{badLabel.Hex(), "stray\x7f"}},
			{Key: "imported", Value: bson.D{{Key: "by", Value: user}, {Key: "note", Value: "\x1b[31m"}}}},
		bson.D{{Key: "_id", Value: cleanTask}, {Key: "displayId", Value: "#2"}, {Key: "title", Value: "Clean"},
			{Key: "labels", Value: bson.A{cleanLabel.Hex()}}})

	for _, c := range []struct {
		coll string
		want Unmirrorable
	}{
		{CollLabels, Unmirrorable{Coll: CollLabels, ID: badLabel.Hex(), Fields: []string{"name", "description"}}},
		{CollTasks, Unmirrorable{Coll: CollTasks, ID: badTask.Hex(),
			Fields: []string{"title", "labels.1", "imported.note"}}},
	} {
		t.Run(c.coll, func(t *testing.T) {
			res, err := s.Normalize(ctx, c.coll, nil)
			if err != nil || len(res.Failed) > 0 {
				t.Fatalf("normalize: got %+v, %v; want no failures", res, err)
			}
			if res.UnmirrorableCount != 1 || len(res.Unmirrorable) != 1 {
				t.Fatalf("got %d unmirrorable, listed %+v; want 1, %+v", res.UnmirrorableCount, res.Unmirrorable, c.want)
			}
			if got := res.Unmirrorable[0]; got.Coll != c.want.Coll || got.ID != c.want.ID || !slices.Equal(got.Fields, c.want.Fields) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			// The rest of normalizing still happens: both documents get a
			// version, and a second run has nothing to change but still
			// reports.
			if n := count(t, s, c.coll, bson.D{{Key: "version", Value: int64(1)}}); n != 2 {
				t.Errorf("documents at version 1: got %d, want 2", n)
			}
			again, err := s.Normalize(ctx, c.coll, nil)
			if err != nil || again.Changed != 0 || again.UnmirrorableCount != 1 {
				t.Errorf("second normalize: got %+v, %v; want nothing changed, 1 unmirrorable", again, err)
			}
		})
	}

	// The text is the user's: reported, never rewritten.
	raw, err := s.coll(CollTasks).FindOne(ctx, bson.D{{Key: "_id", Value: badTask}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if title, _ := raw.Lookup("title").StringValueOK(); title != "\x08" {
		t.Errorf("title after normalize: got %q, want %q", title, "\x08")
	}
	if label, _ := raw.Lookup("labels", "1").StringValueOK(); label != "stray\x7f" {
		t.Errorf("labels.1 after normalize: got %q, want %q", label, "stray\x7f")
	}
	if note, _ := raw.Lookup("imported", "note").StringValueOK(); note != "\x1b[31m" {
		t.Errorf("imported.note after normalize: got %q, want %q", note, "\x1b[31m")
	}
}

// A NUL is reported like any control character. FerretDB on PostgreSQL
// refuses to store one, so this runs on a FerretDB on SQLite, which stores
// it as MongoDB does.
func TestNormalizeReportsNUL(t *testing.T) {
	t.Parallel()
	s, err := Connect(testenv.SQLiteMongoURI(t), "todo", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := t.Context()
	bad, clean := bson.NewObjectID(), bson.NewObjectID()
	if _, err := s.coll(CollLabels).InsertOne(ctx, bson.D{{Key: "_id", Value: bad}, {Key: "name", Value: "a\x00b"},
		{Key: "color", Value: "#000000"}}); err != nil {
		t.Fatalf("inserting a label with a NUL: %v", err)
	}
	insertRaw(t, s, CollLabels, bson.D{{Key: "_id", Value: clean}, {Key: "name", Value: "ab"}, {Key: "color", Value: "#000000"}})
	res, err := s.Normalize(ctx, CollLabels, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Unmirrorable{Coll: CollLabels, ID: bad.Hex(), Fields: []string{"name"}}
	if res.UnmirrorableCount != 1 || len(res.Unmirrorable) != 1 || res.Unmirrorable[0].ID != want.ID ||
		!slices.Equal(res.Unmirrorable[0].Fields, want.Fields) {
		t.Errorf("got %d, %+v; want 1, %+v", res.UnmirrorableCount, res.Unmirrorable, want)
	}
}

// A collection full of unmirrorable documents lists the first few and
// counts them all.
func TestNormalizeCapsUnmirrorableList(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	n := maxListedUnmirrorable + 3
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "name", Value: "x\x1f"}, {Key: "color", Value: "#000000"}}
	}
	insertRaw(t, s, CollLabels, docs...)
	res, err := s.Normalize(t.Context(), CollLabels, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.UnmirrorableCount != n || len(res.Unmirrorable) != maxListedUnmirrorable {
		t.Errorf("got %d counted, %d listed; want %d, %d", res.UnmirrorableCount, len(res.Unmirrorable), n, maxListedUnmirrorable)
	}
}

func TestControlFields(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		doc  bson.D
		want []string
	}{
		{"clean", bson.D{{Key: "a", Value: "tab\tnewline\n\r"}, {Key: "n", Value: int32(0)}, {Key: "z", Value: nil}}, nil},
		{"NUL", bson.D{{Key: "a", Value: "x\x00y"}}, []string{"a"}},
		{"DEL", bson.D{{Key: "a", Value: "\x7f"}}, []string{"a"}},
		{"unicode is fine", bson.D{{Key: "a", Value: "naïve ✓ \u2028"}}, nil},
		{"symbol", bson.D{{Key: "a", Value: bson.Symbol("\x01")}}, []string{"a"}},
		{"nested", bson.D{{Key: "d", Value: bson.D{{Key: "arr", Value: bson.A{"ok", bson.D{{Key: "k", Value: "\x02"}}, "\x03"}}}}},
			[]string{"d.arr.1.k", "d.arr.2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, err := bson.Marshal(c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := controlFields(raw, ""); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// A read source change written by the first setReadSource, its settings in
// the assignee fields (too long for the mirror's varchar(24)), has them
// moved to value_from and value_to, its version raised; a second run
// changes nothing, and other actions' assignees stay where they are.
func TestNormalizeMovesReadSourceSettings(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	moved, kept := bson.NewObjectID(), bson.NewObjectID()
	user := bson.NewObjectID()
	insertRaw(t, s, CollAuditLogs, bson.D{{Key: "_id", Value: moved}, {Key: "action", Value: "read_source_changed"},
		{Key: "assignee_from", Value: "tasks=mongodb shadow=0%"}, {Key: "assignee_to", Value: "tasks=postgres shadow=100%"},
		{Key: "performed_by", Value: user}, {Key: "timestamp", Value: time.Now()}, {Key: "version", Value: int64(1)}})
	// As the service writes it: native ids, nothing to normalize.
	insertRaw(t, s, CollAuditLogs, bson.D{{Key: "_id", Value: kept}, {Key: "action", Value: "poc_changed"},
		{Key: "assignee_from", Value: user}, {Key: "assignee_to", Value: user},
		{Key: "performed_by", Value: user}, {Key: "timestamp", Value: time.Now()}, {Key: "version", Value: int64(1)}})
	res, err := s.Normalize(ctx, CollAuditLogs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 1 {
		t.Errorf("first run changed %d, want 1", res.Changed)
	}
	var got struct {
		AssigneeFrom string `bson:"assignee_from"`
		AssigneeTo   string `bson:"assignee_to"`
		ValueFrom    string `bson:"value_from"`
		ValueTo      string `bson:"value_to"`
		Version      int64  `bson:"version"`
	}
	if err := s.coll(CollAuditLogs).FindOne(ctx, bson.D{{Key: "_id", Value: moved}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.AssigneeFrom != "" || got.AssigneeTo != "" || got.ValueFrom != "tasks=mongodb shadow=0%" ||
		got.ValueTo != "tasks=postgres shadow=100%" || got.Version != 2 {
		t.Errorf("read_source_changed after normalize: %+v", got)
	}
	raw, err := s.coll(CollAuditLogs).FindOne(ctx, bson.D{{Key: "_id", Value: kept}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := raw.Lookup("assignee_from").ObjectIDOK(); from != user || raw.Lookup("value_from").Type != 0 {
		t.Errorf("poc_changed after normalize: %s", raw)
	}
	if res, err := s.Normalize(ctx, CollAuditLogs, nil); err != nil || res.Changed != 0 {
		t.Errorf("second run: changed %d, %v; want 0", res.Changed, err)
	}
}

package mongo

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/todo-backend/todo/models"
)

// absent stands for a field the stored document does not have at all.
type absentField struct{}

var absent absentField

// decodeStored stores {_id, v: stored} (or {_id} when stored is absent) and
// decodes field v of it into a T, as the doc structs decode their fields.
func decodeStored[T any](t *testing.T, coll *mongo.Collection, stored any) (T, error) {
	t.Helper()
	id := bson.NewObjectID()
	doc := bson.D{{Key: "_id", Value: id}}
	if _, ok := stored.(absentField); !ok {
		doc = append(doc, bson.E{Key: "v", Value: stored})
	}
	if _, err := coll.InsertOne(t.Context(), doc); err != nil {
		t.Fatalf("insert %v: %v", doc, err)
	}
	var out struct {
		V T `bson:"v"`
	}
	err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Decode(&out)
	return out.V, err
}

func TestRefDecodesEveryStoredForm(t *testing.T) {
	t.Parallel()
	coll := newStore(t).coll("refs")
	oid := bson.NewObjectID()
	cases := []struct {
		name   string
		stored any
		want   ref
	}{
		{"ObjectId", oid, ref(oid.Hex())},
		{"24-hex string", "64b7f1c2a1b2c3d4e5f60718", "64b7f1c2a1b2c3d4e5f60718"},
		{"other string", "system", "system"},
		{"null", nil, ""},
		{"absent", absent, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeStored[ref](t, coll, c.stored)
			if err != nil {
				t.Fatalf("decode %v: got error %v, want none", c.stored, err)
			}
			if got != c.want {
				t.Errorf("decode %v: got %q, want %q", c.stored, got, c.want)
			}
		})
	}
	if got, err := decodeStored[ref](t, coll, int32(7)); err == nil {
		t.Errorf("decode int32 7: got %q and no error, want an error", got)
	}
}

func TestTSDecodesDatesAndPythonISOStrings(t *testing.T) {
	t.Parallel()
	coll := newStore(t).coll("times")
	micro := time.Date(2025, 8, 1, 12, 34, 56, 123456000, time.UTC)
	cases := []struct {
		name   string
		stored any
		want   time.Time
	}{
		{"BSON date", bson.NewDateTimeFromTime(micro), micro.Truncate(time.Millisecond)},
		{"isoformat of a naive UTC time", "2025-08-01T12:34:56.123456", micro},
		{"isoformat with +00:00", "2025-08-01T12:34:56.123456+00:00", micro},
		{"with Z", "2025-08-01T12:34:56.123456Z", micro},
		{"with another offset", "2025-08-01T18:04:56.123456+05:30", micro},
		{"isoformat without microseconds", "2025-08-01T12:34:56", micro.Truncate(time.Second)},
		{"str() of a datetime", "2025-08-01 12:34:56.123456", micro},
		{"date only", "2025-08-01", time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)},
		{"null", nil, time.Time{}},
		{"absent", absent, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeStored[ts](t, coll, c.stored)
			if err != nil {
				t.Fatalf("decode %v: got error %v, want none", c.stored, err)
			}
			if !got.time().Equal(c.want) || got.time().Location() != time.UTC {
				t.Errorf("decode %v: got %v, want %v (in UTC)", c.stored, got.time(), c.want)
			}
			if wantNil := c.want.IsZero(); (got.ptr() == nil) != wantNil {
				t.Errorf("decode %v: got ptr() %v, want nil=%v", c.stored, got.ptr(), wantNil)
			}
		})
	}
	for _, bad := range []any{"yesterday", "2025-13-01", int64(1754051696)} {
		if got, err := decodeStored[ts](t, coll, bad); err == nil {
			t.Errorf("decode %v: got %v and no error, want an error", bad, got.time())
		}
	}
}

// storedType finds the BSON type of a (dotted) path in a stored document;
// an absent field has type 0.
func storedType(t *testing.T, raw bson.Raw, path ...string) bson.Type {
	t.Helper()
	v, err := raw.LookupErr(path...)
	if err != nil {
		return 0
	}
	return v.Type
}

func TestNewWritesUseObjectIDsDatesAndNulls(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	user := bson.NewObjectID().Hex()
	label := bson.NewObjectID().Hex()
	due := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	task, err := validTaskDoc(models.Task{
		ID: bson.NewObjectID().Hex(), Title: "t", LabelIDs: []string{label}, DueAt: &due,
		CreatedAt: time.Now(), CreatedBy: user,
		DeferredDetails: &models.DeferredDetails{DeferredAt: due, DeferredTill: due.Add(time.Hour), DeferredBy: user},
	})
	if err != nil {
		t.Fatalf("validTaskDoc: %v", err)
	}
	docs := []struct {
		coll string
		doc  any
	}{
		{CollTasks, task},
		{CollLabels, labelDoc{ID: bson.NewObjectID(), Name: "L", CreatedAt: ts(due), CreatedBy: "system"}},
		{CollTaskDetails, assignmentDoc{ID: bson.NewObjectID(), TaskID: ref(task.ID.Hex()), CreatedAt: ts(due)}},
		{CollUsers, userDoc{ID: bson.NewObjectID(), Email: "a@example.com", CreatedAt: ts(due)}},
	}
	raws := map[string]bson.Raw{}
	for _, d := range docs {
		r, err := s.coll(d.coll).InsertOne(t.Context(), d.doc)
		if err != nil {
			t.Fatalf("insert %s: %v", d.coll, err)
		}
		raw, err := s.coll(d.coll).FindOne(t.Context(), bson.D{{Key: "_id", Value: r.InsertedID}}).Raw()
		if err != nil {
			t.Fatalf("find %s: %v", d.coll, err)
		}
		raws[d.coll] = raw
	}

	cases := []struct {
		coll string
		path []string
		want bson.Type
	}{
		{CollTasks, []string{"_id"}, bson.TypeObjectID},
		{CollTasks, []string{"createdBy"}, bson.TypeObjectID},
		{CollTasks, []string{"updatedBy"}, bson.TypeNull},
		{CollTasks, []string{"labels", "0"}, bson.TypeObjectID},
		{CollTasks, []string{"createdAt"}, bson.TypeDateTime},
		{CollTasks, []string{"dueAt"}, bson.TypeDateTime},
		{CollTasks, []string{"updatedAt"}, bson.TypeNull},
		{CollTasks, []string{"startedAt"}, bson.TypeNull},
		{CollTasks, []string{"description"}, bson.TypeNull},
		{CollTasks, []string{"deferredDetails", "deferredAt"}, bson.TypeDateTime},
		{CollTasks, []string{"deferredDetails", "deferredBy"}, bson.TypeObjectID},
		{CollLabels, []string{"createdBy"}, bson.TypeString},
		{CollLabels, []string{"updatedBy"}, bson.TypeNull},
		{CollTaskDetails, []string{"task_id"}, bson.TypeObjectID},
		// Absent, not null: the sparse unique indexes must not see them.
		{CollTaskDetails, []string{"active_task_id"}, 0},
		{CollUsers, []string{"google_id"}, 0},
	}
	for _, c := range cases {
		if got := storedType(t, raws[c.coll], c.path...); got != c.want {
			t.Errorf("%s %v: got BSON type %v, want %v", c.coll, c.path, got, c.want)
		}
	}
	if got := raws[CollTasks].Lookup("createdBy").ObjectID().Hex(); got != user {
		t.Errorf("tasks createdBy: got %s, want %s", got, user)
	}
	if got := raws[CollLabels].Lookup("createdBy").StringValue(); got != "system" {
		t.Errorf("labels createdBy: got %q, want %q", got, "system")
	}
}

// inMillis is what a BSON date keeps of a time.
func inMillis(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	v := p.Truncate(time.Millisecond).UTC()
	return &v
}

func TestTaskRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	at := time.Date(2025, 8, 1, 12, 34, 56, 987654321, time.UTC)
	later := at.Add(36 * time.Hour)
	desc := "write the tests"
	cases := []struct {
		name string
		task models.Task
	}{
		{"every field", models.Task{
			ID: bson.NewObjectID().Hex(), DisplayID: "#42", Title: "Round trip", Description: &desc,
			Priority: models.PriorityHigh, Status: models.StatusInProgress, IsAcknowledged: true, IsDeleted: true,
			LabelIDs: []string{bson.NewObjectID().Hex(), bson.NewObjectID().Hex()},
			DeferredDetails: &models.DeferredDetails{DeferredAt: at, DeferredTill: later,
				DeferredBy: bson.NewObjectID().Hex()},
			StartedAt: &at, DueAt: &later, CreatedAt: at, UpdatedAt: &later,
			CreatedBy: bson.NewObjectID().Hex(), UpdatedBy: "system", Version: 7,
		}},
		// Decoding always yields a non-nil label list, so the minimal task
		// starts with an empty one.
		{"only the required fields", models.Task{
			ID: bson.NewObjectID().Hex(), Title: "Minimal", Priority: models.PriorityLow, Status: models.StatusTodo,
			LabelIDs: []string{}, CreatedAt: at, CreatedBy: bson.NewObjectID().Hex(), Version: 1,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := validTaskDoc(c.task)
			if err != nil {
				t.Fatalf("validTaskDoc: %v", err)
			}
			if _, err := s.coll(CollTasks).InsertOne(t.Context(), doc); err != nil {
				t.Fatalf("insert: %v", err)
			}
			var got taskDoc
			if err := s.coll(CollTasks).FindOne(t.Context(), bson.D{{Key: "_id", Value: doc.ID}}).Decode(&got); err != nil {
				t.Fatalf("find: %v", err)
			}
			want := c.task
			want.CreatedAt = *inMillis(&want.CreatedAt)
			want.StartedAt, want.DueAt, want.UpdatedAt = inMillis(want.StartedAt), inMillis(want.DueAt), inMillis(want.UpdatedAt)
			if dd := want.DeferredDetails; dd != nil {
				want.DeferredDetails = &models.DeferredDetails{DeferredAt: *inMillis(&dd.DeferredAt),
					DeferredTill: *inMillis(&dd.DeferredTill), DeferredBy: dd.DeferredBy}
			}
			sameFields(t, got.model(), want)
		})
	}
	if _, err := validTaskDoc(models.Task{ID: "not-an-id"}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("validTaskDoc with id %q: got error %v, want ErrInvalidID", "not-an-id", err)
	}
}

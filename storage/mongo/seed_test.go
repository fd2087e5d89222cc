package mongo

import (
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var seedNow = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// seed runs Seed and checks that it reports want.
func seed(t *testing.T, s *Store, want SeedResult) {
	t.Helper()
	got, err := s.Seed(t.Context(), seedNow)
	if err != nil {
		t.Fatalf("Seed: got error %v, want none", err)
	}
	if got != want {
		t.Errorf("Seed: got %+v, want %+v", got, want)
	}
}

// checkCatalogue checks that the seeded collections hold exactly one label
// per seed label and one role per seed role, and the counter at seq.
func checkCatalogue(t *testing.T, s *Store, seq int64) {
	t.Helper()
	if got, want := count(t, s, CollLabels, nil), int64(len(SeedLabels)); got != want {
		t.Errorf("labels: got %d, want %d", got, want)
	}
	if got, want := count(t, s, CollRoles, nil), int64(len(SeedRoles)); got != want {
		t.Errorf("roles: got %d, want %d", got, want)
	}
	for _, r := range SeedRoles {
		if n := count(t, s, CollRoles, bson.D{{Key: "name", Value: r.Name}, {Key: "scope", Value: string(r.Scope)}}); n != 1 {
			t.Errorf("roles %s/%s: got %d, want 1", r.Name, r.Scope, n)
		}
	}
	var counter struct {
		Seq int64 `bson:"seq"`
	}
	if err := s.coll(CollCounters).FindOne(t.Context(), bson.D{{Key: "_id", Value: TaskCounterID}}).Decode(&counter); err != nil {
		t.Fatalf("counter %s: %v", TaskCounterID, err)
	}
	if counter.Seq != seq {
		t.Errorf("counter seq: got %d, want %d", counter.Seq, seq)
	}
}

func labelNames(t *testing.T, s *Store) []string {
	t.Helper()
	labels, err := s.ListLabels(t.Context(), LabelQuery{Limit: 100})
	if err != nil {
		t.Fatalf("ListLabels: %v", err)
	}
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = l.Name
	}
	slices.Sort(names)
	return names
}

func TestSeedFreshDatabaseThenAgain(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	seed(t, s, SeedResult{Labels: len(SeedLabels), Roles: len(SeedRoles), Counter: true})
	// The original's 8 labels and 4 roles, plus our GLOBAL admin role.
	if len(SeedLabels) != 8 || len(SeedRoles) != 5 {
		t.Errorf("catalogue: got %d labels and %d roles, want 8 and 5",
			len(SeedLabels), len(SeedRoles))
	}
	checkCatalogue(t, s, 0)

	var want []string
	for _, l := range SeedLabels {
		want = append(want, l.Name)
	}
	slices.Sort(want)
	if got := labelNames(t, s); !slices.Equal(got, want) {
		t.Errorf("label names: got %v, want %v", got, want)
	}
	var feature labelDoc
	if err := s.coll(CollLabels).FindOne(t.Context(), bson.D{{Key: "name", Value: "Feature"}}).Decode(&feature); err != nil {
		t.Fatalf("find Feature: %v", err)
	}
	if got := feature.model(); got.Color != "#22c55e" || got.CreatedBy != "system" || !got.CreatedAt.Equal(seedNow) ||
		got.Version != 1 || got.IsDeleted {
		t.Errorf("Feature: got %+v, want color #22c55e, by system at %v, version 1, not deleted", got, seedNow)
	}

	seed(t, s, SeedResult{})
	checkCatalogue(t, s, 0)
}

// A database the original seeded keeps its rows: its "feature" in lower case
// with an ISO-string date gets no second "Feature", and its counter is not
// reset.
func TestSeedKeepsTheOriginalsRows(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	original := bson.NewObjectID()
	insertRaw(t, s, CollLabels, bson.D{
		{Key: "_id", Value: original}, {Key: "name", Value: "feature"}, {Key: "color", Value: "#00ff00"},
		{Key: "isDeleted", Value: false}, {Key: "createdAt", Value: "2025-06-01T10:00:00.000000"},
		{Key: "updatedAt", Value: nil}, {Key: "createdBy", Value: "system"}, {Key: "updatedBy", Value: nil},
	})
	insertRaw(t, s, CollRoles, bson.D{
		{Key: "_id", Value: bson.NewObjectID()}, {Key: "name", Value: "owner"}, {Key: "scope", Value: "TEAM"},
		{Key: "is_active", Value: true}, {Key: "created_by", Value: "system"},
		{Key: "created_at", Value: "2025-06-01T10:00:00.000000"},
	})
	insertRaw(t, s, CollCounters, bson.D{{Key: "_id", Value: TaskCounterID}, {Key: "seq", Value: int32(41)}})
	if err := s.EnsureIndexes(t.Context()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}

	seed(t, s, SeedResult{Labels: len(SeedLabels) - 1, Roles: len(SeedRoles) - 1})
	checkCatalogue(t, s, 41)
	filter := bson.D{{Key: "name", Value: bson.Regex{Pattern: "^feature$", Options: "i"}}}
	if n := count(t, s, CollLabels, filter); n != 1 {
		t.Errorf("labels named feature in any case: got %d, want 1", n)
	}
	var got labelDoc
	if err := s.coll(CollLabels).FindOne(t.Context(), filter).Decode(&got); err != nil {
		t.Fatalf("find feature: %v", err)
	}
	if got.ID != original || got.Name != "feature" || got.Color != "#00ff00" {
		t.Errorf("feature: got %s %q %s, want the original's %s %q #00ff00", got.ID.Hex(), got.Name, got.Color,
			original.Hex(), "feature")
	}
}

// Instances starting at once seed once between them. Each seeder has a
// client of its own, as separate instances do, and runs after EnsureIndexes
// as start-up does.
func TestSeedConcurrently(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.EnsureIndexes(t.Context()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	const seeders = 6
	stores := make([]*Store, seeders)
	for i := range stores {
		stores[i] = storeOn(t, s.db.Name())
	}
	results := make([]SeedResult, seeders)
	errs := make([]error, seeders)
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() { results[i], errs[i] = st.Seed(t.Context(), seedNow) })
	}
	wg.Wait()

	var total SeedResult
	for i, err := range errs {
		if err != nil {
			t.Errorf("seeder %d: got error %v, want none", i, err)
		}
		total.Labels += results[i].Labels
		total.Roles += results[i].Roles
		if results[i].Counter {
			total.Counter = true
		}
	}
	checkCatalogue(t, s, 0)
	if total.Labels > len(SeedLabels) || total.Roles > len(SeedRoles) {
		t.Errorf("inserts reported by all seeders: got %+v, want at most %d labels and %d roles",
			total, len(SeedLabels), len(SeedRoles))
	}
}

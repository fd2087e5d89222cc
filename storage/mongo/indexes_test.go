package mongo

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// listIndexes returns the indexes of coll by name, without the _id index.
func listIndexes(t *testing.T, s *Store, coll string) map[string]mongo.IndexSpecification {
	t.Helper()
	specs, err := s.coll(coll).Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatalf("list indexes of %s: %v", coll, err)
	}
	out := map[string]mongo.IndexSpecification{}
	for _, sp := range specs {
		if sp.Name != "_id_" {
			out[sp.Name] = sp
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkIndexes compares the indexes on the server with the ones declared.
// FerretDB v1 does not report "sparse" in its listing, so sparseness is
// checked by behaviour in TestUniqueIndexesRejectDuplicates.
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	for _, coll := range IndexedCollections() {
		got := listIndexes(t, s, coll)
		want := slices.Sorted(slices.Values(IndexNames(coll)))
		if names := sortedKeys(got); !slices.Equal(names, want) {
			t.Errorf("indexes of %s: got %v, want %v", coll, names, want)
		}
		for _, ix := range indexes {
			sp, ok := got[ix.name]
			if ix.coll != coll || !ok {
				continue
			}
			if u := sp.Unique != nil && *sp.Unique; u != ix.unique {
				t.Errorf("%s.%s unique: got %v, want %v", coll, ix.name, u, ix.unique)
			}
		}
	}
}

func TestEnsureIndexesCreatesEveryIndexOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, coll := range []string{CollUsers, CollTeams, CollWatchlist, CollUserTeamDetails, CollTaskDetails} {
		if len(IndexNames(coll)) == 0 {
			t.Errorf("IndexNames(%q): got none, want the indexes that enforce its uniqueness", coll)
		}
	}
	for run := 1; run <= 2; run++ {
		if err := s.EnsureIndexes(t.Context()); err != nil {
			t.Fatalf("EnsureIndexes run %d: got error %v, want none", run, err)
		}
		checkIndexes(t, s)
	}
}

func TestUniqueIndexesRejectDuplicates(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.EnsureIndexes(t.Context()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	now := ts(time.Now())
	oid := bson.NewObjectID
	hex := func() ref { return ref(oid().Hex()) }
	user, task, team, task2 := hex(), hex(), hex(), hex()
	cases := []struct {
		name          string
		coll          string
		first, second any
		wantDuplicate bool
	}{
		{"users with one google_id", CollUsers,
			userDoc{ID: oid(), GoogleID: "g-1", Email: "a@example.com", CreatedAt: now},
			userDoc{ID: oid(), GoogleID: "g-1", Email: "b@example.com", CreatedAt: now}, true},
		{"users without google_id", CollUsers,
			userDoc{ID: oid(), Email: "c@example.com", CreatedAt: now},
			userDoc{ID: oid(), Email: "d@example.com", CreatedAt: now}, false},
		{"watchlist rows of one user and task", CollWatchlist,
			watchlistDoc{ID: oid(), UserID: user, TaskID: task, IsActive: true, CreatedAt: now},
			watchlistDoc{ID: oid(), UserID: user, TaskID: task, IsActive: false, CreatedAt: now}, true},
		{"watchlist rows of one user, two tasks", CollWatchlist,
			watchlistDoc{ID: oid(), UserID: user, TaskID: task2, CreatedAt: now},
			watchlistDoc{ID: oid(), UserID: user, TaskID: hex(), CreatedAt: now}, false},
		{"memberships of one user and team", CollUserTeamDetails,
			membershipDoc{ID: oid(), UserID: user, TeamID: team, IsActive: true, CreatedAt: now},
			membershipDoc{ID: oid(), UserID: user, TeamID: team, IsActive: true, CreatedAt: now}, true},
		{"two inactive assignments of one task", CollTaskDetails,
			assignmentDoc{ID: oid(), TaskID: task, AssigneeID: user, AssigneeType: "user", CreatedAt: now},
			assignmentDoc{ID: oid(), TaskID: task, AssigneeID: team, AssigneeType: "team", CreatedAt: now}, false},
		{"an active and an inactive assignment of one task", CollTaskDetails,
			assignmentDoc{ID: oid(), TaskID: task, AssigneeID: user, IsActive: true, ActiveTaskID: task, CreatedAt: now},
			assignmentDoc{ID: oid(), TaskID: task, AssigneeID: team, CreatedAt: now}, false},
		{"two active assignments of one task", CollTaskDetails,
			assignmentDoc{ID: oid(), TaskID: task2, AssigneeID: user, IsActive: true, ActiveTaskID: task2, CreatedAt: now},
			assignmentDoc{ID: oid(), TaskID: task2, AssigneeID: team, IsActive: true, ActiveTaskID: task2, CreatedAt: now}, true},
		{"teams with one invite code", CollTeams,
			teamDoc{ID: oid(), Name: "A", InviteCode: "ABC123", CreatedAt: now},
			teamDoc{ID: oid(), Name: "B", InviteCode: "ABC123", CreatedAt: now}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.coll(c.coll).InsertOne(t.Context(), c.first); err != nil {
				t.Fatalf("first insert: got error %v, want none", err)
			}
			_, err := s.coll(c.coll).InsertOne(t.Context(), c.second)
			if c.wantDuplicate && !mongo.IsDuplicateKeyError(err) {
				t.Errorf("second insert: got error %v, want a duplicate key error", err)
			}
			if !c.wantDuplicate && err != nil {
				t.Errorf("second insert: got error %v, want none", err)
			}
		})
	}
}

// An index the existing data violates is reported by name and does not
// keep the others from being created.
func TestEnsureIndexesReportsViolatedIndex(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	now := ts(time.Now())
	insertRaw(t, s, CollTeams,
		teamDoc{ID: bson.NewObjectID(), Name: "A", InviteCode: "SAME01", CreatedAt: now},
		teamDoc{ID: bson.NewObjectID(), Name: "B", InviteCode: "SAME01", CreatedAt: now})
	err := s.EnsureIndexes(t.Context())
	if err == nil || !strings.Contains(err.Error(), "teams.uniq_invite_code") || !errors.Is(err, ErrIndexes) {
		t.Fatalf("EnsureIndexes: got error %v, want ErrIndexes naming teams.uniq_invite_code", err)
	}
	if got := listIndexes(t, s, CollTeams); len(got) != 0 {
		t.Errorf("indexes of teams: got %v, want none", sortedKeys(got))
	}
	for _, coll := range []string{CollUsers, CollTaskDetails, CollWatchlist} {
		if got, want := sortedKeys(listIndexes(t, s, coll)), slices.Sorted(slices.Values(IndexNames(coll))); !slices.Equal(got, want) {
			t.Errorf("indexes of %s: got %v, want %v", coll, got, want)
		}
	}
}

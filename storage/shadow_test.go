package storage

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/storage/mongo"
)

// TestShadowTellsAWriteInFlightFromAMismatch: a write that has reached
// MongoDB but not yet the mirror makes the two stores answer differently.
// While its intent is pending, that difference is lag, also for answers
// that name no document (a count, a page's hasNextPage: the intent is on
// the new label, not on "(count)"); once the intent is gone and the mirror
// still lacks the label, the same difference is a mismatch.
func TestShadowTellsAWriteInFlightFromAMismatch(t *testing.T) {
	t.Parallel()
	two := newTwoSources(t, mirrorDialects[1].open(t))
	m := two.mongo.mongo
	s := New(m, Options{Engine: two.engine, Reads: ReadOptions{ShadowPercent: 100, ShadowBudget: NoShadowBudget}})
	ctx := t.Context()

	// A label in MongoDB whose mirror write is still to come, as createLabel
	// leaves it between its two writes: the intent first, then MongoDB.
	now := time.Now().UTC()
	id := addLabel(t, m, "Zebra")
	if err := m.InsertIntents(ctx, []mongo.Intent{{ID: bson.NewObjectID(), Coll: mongo.CollLabels, DocID: id,
		Token: "in-flight", State: mongo.IntentPending, CreatedAt: now, NextAttemptAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	reads := func() {
		t.Helper()
		if _, err := s.CountLabels(ctx, LabelFilter{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Labels(ctx, LabelFilter{}, PageArgs{First: ptr(8)}); err != nil { // 8 of 9: hasNextPage differs
			t.Fatal(err)
		}
		s.WaitShadows()
	}
	labels := func() ReadFamilyState {
		for _, st := range s.ReadStates() {
			if st.Family == FamilyLabels {
				return st
			}
		}
		t.Fatal("no labels family")
		return ReadFamilyState{}
	}

	reads()
	if st := labels(); st.Lag != 2 || st.Mismatched != 0 {
		t.Fatalf("with the label's mirror write in flight: lag %d, mismatched %d (matched %d); want lag 2, no mismatch",
			st.Lag, st.Mismatched, st.Matched)
	}

	if err := m.ClearIntents(ctx, "in-flight", now, nil, now); err != nil {
		t.Fatal(err)
	}
	reads()
	if st := labels(); st.Lag != 2 || st.Mismatched != 2 {
		t.Fatalf("with the intent gone and the mirror still without the label: lag %d, mismatched %d; want lag 2 (as before), mismatched 2",
			st.Lag, st.Mismatched)
	}
}

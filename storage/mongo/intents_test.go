package mongo

import (
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestClearSettledClearsWhatItSettled: a group commit's clear deletes its
// operations' unleased intents and the permanent failures each of their
// documents had before the latest operation naming it began, and nothing
// else: a leased intent, a transient failure, a failure after the
// operations began, another document's failure and another operation's
// intents stay.
func TestClearSettledClearsWhatItSettled(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	began1, began2, now := t0.Add(time.Second), t0.Add(3*time.Second), t0.Add(5*time.Second)
	x, y, z := DocRef{"tasks", NewID()}, DocRef{"tasks", NewID()}, DocRef{"labels", NewID()}
	var intents []Intent
	add := func(name, token string, d DocRef, edit func(*Intent)) {
		in := Intent{ID: bson.NewObjectID(), Token: token, Coll: d.Coll, DocID: d.DocID, State: IntentPending,
			CreatedAt: t0, NextAttemptAt: now.Add(time.Minute), LastError: name}
		if edit != nil {
			edit(&in)
		}
		intents = append(intents, in)
	}
	failed := func(at time.Time, permanent bool) func(*Intent) {
		return func(in *Intent) { in.State, in.LastFailedAt, in.Permanent = IntentFailed, at, permanent }
	}
	add("op1 x", "op1", x, nil)
	add("op2 x", "op2", x, nil)
	add("op2 y", "op2", y, nil)
	add("op2 y leased", "op2", y, func(in *Intent) { in.LeaseOwner, in.LeaseUntil = "worker", now.Add(time.Minute) })
	add("other op", "op3", z, nil)
	// x failed between the two operations' beginnings: op2 (the later one)
	// read it after that, so its apply supersedes the failure.
	add("x permanent, before op2", "old1", x, failed(t0.Add(2*time.Second), true))
	add("x transient, before op1", "old2", x, failed(t0, false))
	add("y permanent, after op2 began", "old3", y, failed(t0.Add(4*time.Second), true))
	add("z permanent", "old4", z, failed(t0, true))
	if err := s.InsertIntents(ctx, intents); err != nil {
		t.Fatal(err)
	}

	if err := s.ClearSettled(ctx, []Settled{
		{Token: "op1", Docs: []DocRef{x}, Began: began1},
		{Token: "op2", Docs: []DocRef{x, y}, Began: began2},
	}, now); err != nil {
		t.Fatal(err)
	}

	cur, err := s.coll(CollMirrorIntents).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var left []Intent
	if err := cur.All(ctx, &left); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range left {
		names = append(names, in.LastError)
	}
	slices.Sort(names)
	want := []string{"other op", "op2 y leased", "x transient, before op1", "y permanent, after op2 began", "z permanent"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("intents left after the clear: got %q, want %q", names, want)
	}
}

package loaders

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
)

// fetches records each call of a batch function: the keys it was asked.
type fetches struct {
	mu    sync.Mutex
	calls [][]string
}

func (f *fetches) fn(ctx context.Context, keys []string) []*dataloader.Result[string] {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(keys))
	f.mu.Unlock()
	out := make([]*dataloader.Result[string], len(keys))
	for i, k := range keys {
		if k == "gone" {
			out[i] = &dataloader.Result[string]{Error: errors.New("not found")}
		} else {
			out[i] = &dataloader.Result[string]{Data: "v:" + k}
		}
	}
	return out
}

func (f *fetches) asked() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func rootCtx() context.Context {
	return graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Object: "Mutation"})
}

// An ask alone reads before Load returns (no batch window) and leaves the
// value for the batched asks of the fields below.
func TestAloneAskReadsAtOnceAndShares(t *testing.T) {
	f := &fetches{}
	l := newLoader(f.fn)
	ctx := Alone(rootCtx())
	thunk := l.Load(ctx, "a")
	if got := f.asked(); !slices.EqualFunc(got, [][]string{{"a"}}, slices.Equal) {
		t.Fatalf("reads when Load returned: got %v, want one of [a]", got)
	}
	if v, err := thunk(); v != "v:a" || err != nil {
		t.Fatalf("alone Load: got %q, %v", v, err)
	}
	// A child field: batched again, and served from what the root read.
	child := graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Task"})
	if v, err := l.Load(child, "a")(); v != "v:a" || err != nil {
		t.Fatalf("child's Load: got %q, %v", v, err)
	}
	if got := len(f.asked()); got != 1 {
		t.Errorf("reads after the child asked for the same key: got %d, want 1", got)
	}
	if _, err := l.Load(ctx, "gone")(); err == nil {
		t.Error("alone Load of a missing key: got no error")
	}
}

// LoadMany alone reads the keys not cached, each once, in one read.
func TestAloneLoadManyReadsWhatIsMissingOnce(t *testing.T) {
	f := &fetches{}
	l := newLoader(f.fn)
	ctx := Alone(rootCtx())
	l.Prime(ctx, "a", "primed")
	vals, errs := l.LoadMany(ctx, []string{"a", "b", "a", "c", "b"})()
	if want := []string{"primed", "v:b", "primed", "v:c", "v:b"}; !slices.Equal(vals, want) || errs != nil {
		t.Errorf("LoadMany: got %v %v, want %v and no errors", vals, errs, want)
	}
	if got := f.asked(); !slices.EqualFunc(got, [][]string{{"b", "c"}}, slices.Equal) {
		t.Errorf("reads: got %v, want one of [b c]", got)
	}
	_, errs = l.LoadMany(ctx, []string{"b", "gone"})()
	if len(errs) != 2 || errs[0] != nil || errs[1] == nil {
		t.Errorf("LoadMany with a missing key: got errors %v, want only the second", errs)
	}
}

// Alone holds for the marked field only: not for its children, and not
// where the code fans out (Together).
func TestAloneIsTheMarkedFieldOnly(t *testing.T) {
	root := rootCtx()
	ctx := Alone(root)
	if !alone(ctx) {
		t.Error("the marked root field: got batched, want alone")
	}
	if alone(root) {
		t.Error("an unmarked root field: got alone, want batched")
	}
	if alone(graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Task"})) {
		t.Error("a child of the marked field: got alone, want batched")
	}
	if alone(Together(ctx)) {
		t.Error("Together: got alone, want batched")
	}
	if alone(Alone(context.Background())) {
		t.Error("outside GraphQL: got alone, want batched")
	}
}

package loaders

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
)

// Loader is a dataloader whose asks wait for the others of their level
// (the batch window), except an ask the context marks as made alone: a
// root field's resolver (a mutation, task(id)) runs by itself, so nothing
// can join its batch and the window is only time lost, once per ask: 10 ms
// each, most of a mutation's latency on a quiet server. Alone, an ask
// reads at once and leaves what it read in the loader's cache for the
// fields below.
type Loader[V any] struct {
	*dataloader.Loader[string, V]
	fetch dataloader.BatchFunc[string, V]
	cache dataloader.Cache[string, V]
}

func newLoader[V any](fn dataloader.BatchFunc[string, V]) *Loader[V] {
	cache := dataloader.NewCache[string, V]()
	return &Loader[V]{
		Loader: dataloader.NewBatchedLoader(fn, dataloader.WithWait[string, V](wait),
			dataloader.WithBatchCapacity[string, V](1000), dataloader.WithCache(cache)),
		fetch: fn,
		cache: cache,
	}
}

type aloneKey struct{}

// Alone marks the asks made with ctx by the resolver of its field as made
// alone. It holds for that field only: its children have field contexts of
// their own, and their asks are batched again.
func Alone(ctx context.Context) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return ctx
	}
	return context.WithValue(ctx, aloneKey{}, fc)
}

// Together undoes Alone, for code that fans out: its concurrent asks batch.
func Together(ctx context.Context) context.Context {
	if !alone(ctx) {
		return ctx
	}
	return context.WithValue(ctx, aloneKey{}, (*graphql.FieldContext)(nil))
}

func alone(ctx context.Context) bool {
	fc, ok := ctx.Value(aloneKey{}).(*graphql.FieldContext)
	return ok && fc != nil && fc == graphql.GetFieldContext(ctx)
}

// Load is dataloader's Load, or a read at once when the ask is alone.
func (l *Loader[V]) Load(ctx context.Context, key string) dataloader.Thunk[V] {
	if !alone(ctx) {
		return l.Loader.Load(ctx, key)
	}
	if t, ok := l.cache.Get(ctx, key); ok {
		return t
	}
	r := l.fetch(ctx, []string{key})[0]
	if r.Error == nil {
		l.Prime(ctx, key, r.Data)
	}
	return func() (V, error) { return r.Data, r.Error }
}

// LoadMany is dataloader's LoadMany, or one read at once of the keys not
// cached when the ask is alone.
func (l *Loader[V]) LoadMany(ctx context.Context, keys []string) dataloader.ThunkMany[V] {
	if !alone(ctx) {
		return l.Loader.LoadMany(ctx, keys)
	}
	vals, errs := make([]V, len(keys)), make([]error, len(keys))
	failed := false
	var missing []string
	at := map[string][]int{}
	for i, k := range keys {
		if t, ok := l.cache.Get(ctx, k); ok {
			vals[i], errs[i] = t()
			failed = failed || errs[i] != nil
			continue
		}
		if _, seen := at[k]; !seen {
			missing = append(missing, k)
		}
		at[k] = append(at[k], i)
	}
	if len(missing) > 0 {
		for j, r := range l.fetch(ctx, missing) {
			if r.Error == nil {
				l.Prime(ctx, missing[j], r.Data)
			}
			for _, i := range at[missing[j]] {
				vals[i], errs[i] = r.Data, r.Error
				failed = failed || r.Error != nil
			}
		}
	}
	if !failed {
		errs = nil // as dataloader answers when every key loaded
	}
	return func() ([]V, []error) { return vals, errs }
}

package storage

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Shadow reads, after GitHub's Scientist: for a sampled share of a family's
// reads, once the answer is on its way (the request never waits), the same
// read runs on the other store and the two results are compared as domain
// values. The control (the store the flag names) is always what the client
// got; the candidate's errors are swallowed and counted. A difference is
// lag, not a mismatch, when the control itself has changed since (a write
// landed between the reads: the control is read a second time to tell),
// the mirror still has an intent for the documents, or a write to the
// family's collections is in flight; the rest are mismatches, counted and
// kept, with their fields, in MongoDB.

// shadowBound bounds one shadow comparison, all its reads included.
const shadowBound = 5 * time.Second

// Difference is one document the two stores answered differently.
type Difference struct {
	ID string
	// Fields are the fields that differ; "missing" or "extra" when the
	// candidate lacks the document or has one the control lacks, "order"
	// when the same documents come in another order.
	Fields []string
}

// comparer compares a control's result with a candidate's.
type comparer[T any] func(control, candidate T) []Difference

// untyped turns a comparer into one over any, for shadowRead.
func (c comparer[T]) untyped() func(a, b any) []Difference {
	if c == nil {
		return nil
	}
	return func(a, b any) []Difference { return c(a.(T), b.(T)) }
}

func untypedRead[T any](read func(context.Context) (T, error)) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) { return read(ctx) }
}

// shadowRead is one read in shadow form: control reads the store that
// answered, candidate the other.
type shadowRead struct {
	family, what string
	ids          []string
	control      func(context.Context) (any, error)
	candidate    func(context.Context) (any, error)
	cmp          func(a, b any) []Difference
}

// shadow samples r and, when sampled, compares it beside the request.
func (s *Store) shadow(ctx context.Context, r shadowRead, got any) {
	pct := s.reads.setting(r.family).ShadowPercent
	if pct <= 0 || r.cmp == nil || (pct < 100 && rand.IntN(100) >= pct) { //nolint:gosec // G404: a sample needs no cryptographic randomness
		return
	}
	skip := func() {
		s.reads.counts[r.family].skipped.Add(1)
		s.reads.metrics.Shadow.WithLabelValues(r.family, "skipped").Inc()
	}
	select {
	case s.reads.shadowSlots <- struct{}{}:
	default:
		// As many shadows run as the slots allow; more would pile up on a
		// loaded server and take what the served requests need.
		skip()
		return
	}
	spent, ok := s.reads.budgets[r.family].start()
	if !ok {
		<-s.reads.shadowSlots
		skip()
		return
	}
	s.reads.shadows.Add(1)
	go func() {
		defer func() { spent(); <-s.reads.shadowSlots; s.reads.shadows.Done() }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shadowBound)
		defer cancel()
		s.compare(ctx, r, got)
	}()
}

func (s *Store) compare(ctx context.Context, r shadowRead, control any) {
	c := s.reads.counts[r.family]
	m := s.reads.metrics.Shadow
	candidate, err := r.candidate(ctx)
	if err != nil {
		c.candidateErrors.Add(1)
		m.WithLabelValues(r.family, "candidate_error").Inc()
		return
	}
	diffs := r.cmp(control, candidate)
	if len(diffs) == 0 {
		c.matched.Add(1)
		m.WithLabelValues(r.family, "matched").Inc()
		return
	}
	if s.lagged(ctx, r, control, diffs) {
		c.lag.Add(1)
		m.WithLabelValues(r.family, "lag").Inc()
		return
	}
	c.mismatched.Add(1)
	m.WithLabelValues(r.family, "mismatched").Inc()
	rec := mongo.ReadMismatch{Family: r.family, Read: r.what, At: s.now()}
	for _, d := range diffs {
		rec.IDs = append(rec.IDs, d.ID)
		rec.Fields = append(rec.Fields, d.ID+": "+strings.Join(d.Fields, ", "))
	}
	s.log.WarnContext(ctx, "shadow read mismatch", "family", r.family, "read", r.what, "differences", rec.Fields)
	if err := s.mongo.InsertReadMismatch(ctx, rec, keptMismatches); err != nil {
		s.log.WarnContext(ctx, "keeping a shadow read mismatch failed", "err", err)
	}
}

// keptMismatches is how many mismatches MongoDB keeps (the newest).
const keptMismatches = 200

// lagged tells lag from a mismatch: the mirror has an intent for one of
// the documents or a write to the family's collections is in flight, or
// the control answers differently when asked again. The in-flight write
// matters when the mirror is the control: read before the write, asked
// again before the write reaches it, it still answers as it did, while
// MongoDB already has the write.
func (s *Store) lagged(ctx context.Context, r shadowRead, control any, diffs []Difference) bool {
	ids := make([]string, len(diffs))
	for i, d := range diffs {
		ids[i] = d.ID
	}
	if lagging, err := s.engine.Lagging(ctx, mirrorReadable[r.family], ids); err != nil || lagging {
		return true
	}
	again, err := r.control(ctx)
	if err != nil {
		return true // cannot tell: not counted as a mismatch
	}
	return len(r.cmp(control, again)) > 0
}

// diffDocs compares two lists of documents by id (in order too, when
// ordered), field by field.
func diffDocs[D any](control, candidate []D, id func(D) string, ordered bool) []Difference {
	byID := make(map[string]D, len(candidate))
	for _, d := range candidate {
		byID[id(d)] = d
	}
	seen := map[string]bool{}
	var out []Difference
	for _, a := range control {
		k := id(a)
		seen[k] = true
		b, ok := byID[k]
		if !ok {
			out = append(out, Difference{ID: k, Fields: []string{"missing"}})
			continue
		}
		if f := diffFields(reflect.ValueOf(a), reflect.ValueOf(b), ""); len(f) > 0 {
			out = append(out, Difference{ID: k, Fields: f})
		}
	}
	for _, b := range candidate {
		if !seen[id(b)] {
			out = append(out, Difference{ID: id(b), Fields: []string{"extra"}})
		}
	}
	if len(out) == 0 && ordered {
		for i := range control {
			if id(control[i]) != id(candidate[i]) {
				return []Difference{{ID: id(control[i]), Fields: []string{"order"}}}
			}
		}
	}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// diffFields names the fields of two values of one struct type that
// differ: times by instant, string slices as sets (a task's labels have no
// order in the mirror), nested structs field by field.
func diffFields(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		name := prefix + a.Type().Field(i).Name
		x, y := a.Field(i), b.Field(i)
		if !sameValue(x, y) {
			if x.Kind() == reflect.Pointer && !x.IsNil() && !y.IsNil() && x.Elem().Kind() == reflect.Struct && x.Elem().Type() != timeType {
				out = append(out, diffFields(x.Elem(), y.Elem(), name+".")...)
				continue
			}
			out = append(out, name)
		}
	}
	return out
}

func sameValue(x, y reflect.Value) bool {
	switch {
	case x.Kind() == reflect.Pointer:
		if x.IsNil() || y.IsNil() {
			return x.IsNil() == y.IsNil()
		}
		return sameValue(x.Elem(), y.Elem())
	case x.Type() == timeType:
		return x.Interface().(time.Time).Equal(y.Interface().(time.Time))
	case x.Kind() == reflect.Struct:
		for i := range x.NumField() {
			if !sameValue(x.Field(i), y.Field(i)) {
				return false
			}
		}
		return true
	case x.Kind() == reflect.Slice && x.Type().Elem().Kind() == reflect.String:
		return slices.Equal(sortedStrings(x), sortedStrings(y))
	}
	return reflect.DeepEqual(x.Interface(), y.Interface())
}

func sortedStrings(v reflect.Value) []string {
	out := make([]string, v.Len())
	for i := range out {
		out[i] = v.Index(i).String()
	}
	slices.Sort(out)
	return out
}

// diffValues compares two values of one type as one document: a struct
// field by field, anything else as a whole ("value").
func diffValues(id string, a, b any) []Difference {
	x, y := reflect.ValueOf(a), reflect.ValueOf(b)
	if x.Kind() != reflect.Struct {
		if sameValue(x, y) {
			return nil
		}
		return []Difference{{ID: id, Fields: []string{"value"}}}
	}
	if f := diffFields(x, y, ""); len(f) > 0 {
		return []Difference{{ID: id, Fields: f}}
	}
	return nil
}

package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/todo-backend/todo/storage/mongo"
)

// Mirroring turned off and on again (DUAL_WRITE_ENABLED).
//
// Off, the engine records nothing, so a write costs what it costs without
// a mirror. An instance that starts with mirroring off notes the moment in
// MongoDB (offKey); one that starts with it on and finds the note catches
// up: a guarded backfill of every collection (rows already holding a
// document's version are left alone, live writes are never undone), with a
// checkpoint of its own so a restart resumes it, and then clears the note.
// It re-reads every document rather than only those changed since, because
// documents carry no write time that every collection keeps; the guard makes
// the unchanged ones cost a read, not a write.

const offKey = "mirror:off"

// OffBeat (EngineOptions, 30 s by default) is how often an instance with
// mirroring off says so in the note: a catch-up ends (and clears the note)
// only when no instance has said so for two beats before its pass began,
// so the pass saw every write made off.

type offNote struct {
	// Since is when mirroring was first noted off.
	Since time.Time `bson:"since"`
	// LastSeen is the last beat of an instance with mirroring off.
	LastSeen time.Time `bson:"last_seen"`
	// PassStarted is when the running catch-up pass began (zero: none),
	// so a pass resumed after a restart keeps its own start and
	// checkpoints.
	PassStarted time.Time `bson:"pass_started,omitempty"`
}

// MarkOff notes that mirroring is off on this instance, now.
func (e *Engine) MarkOff(ctx context.Context) error {
	var n offNote
	found, err := e.mongo.LoadState(ctx, offKey, &n)
	if err != nil {
		return err
	}
	if !found {
		n.Since = e.now()
	}
	n.LastSeen = e.now()
	return e.mongo.SaveState(ctx, offKey, n)
}

// KeepOff notes that mirroring is off on this instance at once and then
// every third of OffBeat, until ctx ends.
func (e *Engine) KeepOff(ctx context.Context) {
	for {
		if err := e.MarkOff(ctx); err != nil && ctx.Err() == nil {
			e.o.Log.WarnContext(ctx, "noting that mirroring is off failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.o.OffBeat / 3):
		}
	}
}

// KeepCaughtUp runs CatchUp now and then every minute, until ctx ends: an
// instance with mirroring off may note it at any time (a rolling change).
func (e *Engine) KeepCaughtUp(ctx context.Context, chunk int) {
	for {
		if err := e.CatchUp(ctx, chunk); err != nil && ctx.Err() == nil {
			e.o.Log.WarnContext(ctx, "catching up the mirror failed; it resumes from its checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

// CatchUpProgress is a catch-up's advance, for health.
type CatchUpProgress struct {
	// Since is when mirroring was turned off.
	Since       time.Time
	Done, Total int
}

// catchUp is the running catch-up, if any.
type catchUp struct {
	mu      sync.Mutex
	running bool
	p       CatchUpProgress
}

// CatchingUp reports the running catch-up; ok is false when none runs.
func (e *Engine) CatchingUp() (p CatchUpProgress, ok bool) {
	e.catch.mu.Lock()
	defer e.catch.mu.Unlock()
	return e.catch.p, e.catch.running
}

// CatchUp brings the mirror up to date after a time with mirroring off,
// if the note says there was one, and returns at once otherwise. A pass is
// a guarded backfill of every collection that also deletes the rows of
// documents deleted meanwhile; it clears the note only if no instance said
// mirroring is off for two beats before the pass began, else it runs
// another pass.
func (e *Engine) CatchUp(ctx context.Context, chunk int) error {
	defer func() {
		e.catch.mu.Lock()
		e.catch.running = false
		e.catch.mu.Unlock()
	}()
	for {
		var n offNote
		found, err := e.mongo.LoadState(ctx, offKey, &n)
		if err != nil || !found {
			return err
		}
		if n.PassStarted.IsZero() && !n.LastSeen.Before(e.now().Add(-2*e.o.OffBeat)) {
			// An instance has mirroring off right now: a pass would miss
			// its next writes. Wait for it to stop (it beats until then).
			e.catch.mu.Lock()
			e.catch.running, e.catch.p = true, CatchUpProgress{Since: n.Since}
			e.catch.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(e.o.OffBeat):
			}
			continue
		}
		if n.PassStarted.IsZero() {
			n.PassStarted = e.now()
			if err := e.mongo.SaveState(ctx, offKey, n); err != nil {
				return err
			}
		}
		if err := e.catchUpPass(ctx, n, chunk); err != nil {
			return err
		}
		var after offNote
		if _, err := e.mongo.LoadState(ctx, offKey, &after); err != nil {
			return err
		}
		if after.LastSeen.Before(n.PassStarted.Add(-2 * e.o.OffBeat)) {
			e.o.Log.InfoContext(ctx, "mirror caught up after mirroring was off", "off_since", n.Since)
			return e.mongo.DeleteState(ctx, offKey)
		}
		// An instance still has mirroring off: look again later.
		after.PassStarted = time.Time{}
		if err := e.mongo.SaveState(ctx, offKey, after); err != nil {
			return err
		}
		e.o.Log.InfoContext(ctx, "an instance still has mirroring off; catching up again later", "last_seen", after.LastSeen)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(e.o.OffBeat):
		}
	}
}

// catchUpPass is one catch-up pass, with checkpoints of its own (by its
// start), so a restart resumes it and a later pass starts afresh.
func (e *Engine) catchUpPass(ctx context.Context, n offNote, chunk int) error {
	total := 0
	for _, coll := range Collections {
		c, err := e.mongo.CountDocs(ctx, coll)
		if err != nil {
			return err
		}
		total += int(c)
	}
	e.catch.mu.Lock()
	e.catch.running, e.catch.p = true, CatchUpProgress{Since: n.Since, Total: total}
	e.catch.mu.Unlock()
	defer func() {
		e.catch.mu.Lock()
		e.catch.running = false
		e.catch.mu.Unlock()
	}()
	e.o.Log.InfoContext(ctx, "mirroring was off: catching up", "off_since", n.Since, "documents", total)
	start := time.Now()
	doneBefore := map[string]int{}
	prefix := fmt.Sprintf("catchup:%d:", n.PassStarted.UnixNano())
	res, err := e.backfillPruning(ctx, prefix, Collections, chunk, func(coll string, done, _ int) {
		e.catch.mu.Lock()
		doneBefore[coll] = done
		sum := 0
		for _, d := range doneBefore {
			sum += d
		}
		e.catch.p.Done = sum
		e.catch.mu.Unlock()
	})
	if err != nil {
		return err
	}
	written := 0
	for _, w := range res.Written {
		written += w
	}
	e.o.Log.InfoContext(ctx, "catch-up pass done", "written", written, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// The background verifier (DUAL_WRITE_VERIFY_INTERVAL): a pass every
// interval compares documents with their rows, the recently written ones
// first, then every collection in _id order, at most VerifyRate documents
// a second. A difference is drift only if it survives a second look: a
// document with a pending intent, or one whose version moved between the
// two reads, is a write on its way (lag), not drift. Drift is counted in
// the pass's result (syncMetrics.lastVerify, health), in Prometheus, and
// repaired when VerifyRepair is set.

// recentRefs remembers the last documents applied on this instance, for
// the verifier to look at first.
type recentRefs struct {
	mu   sync.Mutex
	ring [512]Ref
	n    int
}

func (r *recentRefs) add(changes []Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range changes {
		r.ring[r.n%len(r.ring)] = Ref{c.Collection, c.ID}
		r.n++
	}
}

func (r *recentRefs) take() []Ref {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(r.n, len(r.ring))
	seen := map[Ref]bool{}
	var out []Ref
	for i := range n {
		ref := r.ring[(r.n-1-i)%len(r.ring)]
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	r.n = 0
	return out
}

// pacer spaces work to at most rate items a second.
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(rate int) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	return &pacer{every: time.Second / time.Duration(rate)}
}

func (p *pacer) wait(ctx context.Context) error {
	if p.every == 0 {
		return ctx.Err()
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.every)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RunVerifier runs background verification passes until ctx ends, one
// every VerifyInterval (none when it is 0).
func (e *Engine) RunVerifier(ctx context.Context) {
	if e.o.VerifyInterval <= 0 {
		return
	}
	t := time.NewTimer(e.o.VerifyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if e.o.Enabled && e.Ready() && !e.brk.isOpen() {
			res, err := e.VerifyPass(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				e.o.Log.WarnContext(ctx, "background verification pass failed; next one at its time", "err", err)
			case res.Missing+res.Extra+res.Different > 0:
				e.o.Log.WarnContext(ctx, "background verification found drift", "missing", res.Missing,
					"extra", res.Extra, "different", res.Different, "repaired", res.Repaired)
			}
		}
		t.Reset(e.o.VerifyInterval)
	}
}

// VerifyPass is one background verification pass: the recently applied
// documents, then every mirrored collection. Its result is saved as the
// last verify.
func (e *Engine) VerifyPass(ctx context.Context) (VerifyResult, error) {
	res := VerifyResult{Collections: map[string]CollectionVerify{}, Source: "background"}
	p := newPacer(e.o.VerifyRate)
	note := func(d *Difference, cv *CollectionVerify) error {
		if d == nil {
			return nil
		}
		switch d.Kind {
		case "missing":
			cv.Missing++
			res.Missing++
		case "extra":
			cv.Extra++
			res.Extra++
		default:
			cv.Different++
			res.Different++
		}
		e.o.Log.WarnContext(ctx, "mirror drift", "collection", d.Collection, "id", d.ID, "kind", d.Kind, "fields", d.Details)
		if e.o.VerifyRepair {
			n, err := e.repair(ctx, d.Collection, []string{d.ID})
			res.Repaired += n
			cv.Repaired += n
			return err
		}
		return nil
	}
	checked := map[Ref]bool{}
	for _, ref := range e.recent.take() {
		if err := p.wait(ctx); err != nil {
			return res, err
		}
		docs, err := e.mongo.DocsByIDs(ctx, ref.Collection, []string{ref.ID})
		if err != nil {
			return res, err
		}
		d, err := e.drifted(ctx, ref.Collection, ref.ID, docs[ref.ID])
		if err != nil {
			return res, err
		}
		checked[ref] = true
		cv := res.Collections[ref.Collection]
		if err := note(d, &cv); err != nil {
			return res, err
		}
		res.Collections[ref.Collection] = cv
	}
	const chunk = 100
	for _, coll := range Collections {
		cv := res.Collections[coll]
		after := ""
		for {
			ids, docs, err := e.mongo.DocsPage(ctx, coll, after, chunk)
			if err != nil {
				return res, err
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				cv.Documents++
				if checked[Ref{coll, id}] {
					continue
				}
				if err := p.wait(ctx); err != nil {
					return res, err
				}
				d, err := e.drifted(ctx, coll, id, docs[id])
				if err != nil {
					return res, err
				}
				if err := note(d, &cv); err != nil {
					return res, err
				}
			}
			after = ids[len(ids)-1]
		}
		// Rows without a document.
		afterRow := ""
		for {
			rowIDs, err := e.mirror.RowIDs(ctx, coll, afterRow, chunk)
			if err != nil {
				return res, err
			}
			if len(rowIDs) == 0 {
				break
			}
			cv.Rows += len(rowIDs)
			docs, err := e.mongo.DocsByIDs(ctx, coll, rowIDs)
			if err != nil {
				return res, err
			}
			for _, id := range rowIDs {
				if _, ok := docs[id]; ok {
					continue
				}
				if err := p.wait(ctx); err != nil {
					return res, err
				}
				d, err := e.drifted(ctx, coll, id, nil)
				if err != nil {
					return res, err
				}
				if err := note(d, &cv); err != nil {
					return res, err
				}
			}
			afterRow = rowIDs[len(rowIDs)-1]
		}
		res.Collections[coll] = cv
	}
	res.At = e.now()
	e.o.Metrics.drift(res)
	if err := e.mongo.SaveState(context.WithoutCancel(ctx), lastVerifyKey, res); err != nil {
		return res, err
	}
	return res, nil
}

// drifted compares a document (nil: gone) with its row and returns the
// difference only if a second look confirms it: no intent waits for the
// document, and reading it again finds the same version and the same
// difference.
func (e *Engine) drifted(ctx context.Context, coll, id string, doc any) (*Difference, error) {
	d, err := e.differs(ctx, coll, id, doc)
	if err != nil || d == nil {
		return nil, err
	}
	pending, err := e.mongo.Intents(ctx, mongo.IntentFilter{Coll: coll, DocID: id}, 1)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		return nil, nil // a write on its way, or one that failed (listed already)
	}
	again, err := e.mongo.DocsByIDs(ctx, coll, []string{id})
	if err != nil {
		return nil, err
	}
	if version(again[id]) != version(doc) {
		return nil, nil // written meanwhile: the next pass looks again
	}
	return e.differs(ctx, coll, id, again[id])
}

// differs compares a document (nil: gone) with its row.
func (e *Engine) differs(ctx context.Context, coll, id string, doc any) (*Difference, error) {
	if doc != nil {
		return e.compare(ctx, coll, id, doc)
	}
	_, err := e.mirror.Row(ctx, coll, id)
	if errors.Is(err, ErrNoRow) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Difference{Collection: coll, ID: id, Kind: "extra"}, nil
}

// version is a document's version, -1 when it is gone (or unmappable).
func version(doc any) int64 {
	if doc == nil {
		return -1
	}
	rec, err := Map(doc)
	if err != nil {
		return -1
	}
	return rec.Version()
}

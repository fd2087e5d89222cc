package mongo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollHealthProbe holds one small document per serving process, which its
// WriteProbe rewrites every few seconds. Nothing else reads or writes it.
const CollHealthProbe = "health_probe"

// probeStale: a probe document not rewritten for this long belongs to a
// process that ended. A process's first probe removes those, so the
// collection holds about one document per running instance.
const probeStale = time.Hour

// WriteProbe tells whether this process's writes reach MongoDB. A ping only
// asks whether the server answers: one that answers but refuses writes (a
// full disk under FerretDB's SQLite, a primary out of space) fails every
// mutation and sign-in while pings succeed. The probe upserts a document of
// its own now and then, so health can say what a ping cannot.
//
// It stands for the store in health: Ping is the store's.
type WriteProbe struct {
	s    *Store
	id   string
	host string
	pid  int
	// run: one probe at a time, so the probe's updates of its document
	// never race each other (FerretDB makes no update atomic).
	run   sync.Mutex
	swept bool
	mu    sync.Mutex
	// failure is the last probe's failure, short; "" after a write that
	// went through, and before the first probe.
	failure string
}

// NewWriteProbe prepares a probe whose document is named id (one per
// process).
func (s *Store) NewWriteProbe(id string) *WriteProbe {
	host, _ := os.Hostname()
	return &WriteProbe{s: s, id: id, host: host, pid: os.Getpid()}
}

// Ping is the store's Ping.
func (p *WriteProbe) Ping(ctx context.Context) error { return p.s.Ping(ctx) }

// WriteFailure says why the last probe's write failed, in a few words safe
// to show anyone (the server's error name and message, or "timed out": no
// addresses, no stack); "" while writes go through.
func (p *WriteProbe) WriteFailure() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failure
}

// Probe writes once and records the outcome; it returns the write's error in
// full, for the log. A process that may not write now (on FerretDB, without
// the single-writer lease) does not: it returns ErrNoLease and keeps the
// last outcome. Ping reports the missing lease, and when writes failing is
// why the lease lapsed, that is still the reason to show.
func (p *WriteProbe) Probe(ctx context.Context) error {
	p.run.Lock()
	defer p.run.Unlock()
	if err := p.s.fence(); err != nil {
		return err
	}
	err := p.write(ctx)
	p.mu.Lock()
	p.failure = ""
	if err != nil {
		p.failure = briefly(err)
	}
	p.mu.Unlock()
	return err
}

func (p *WriteProbe) write(ctx context.Context) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := p.s.coll(CollHealthProbe).UpdateOne(ctx, bson.D{{Key: "_id", Value: p.id}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "host", Value: p.host}, {Key: "pid", Value: p.pid}, {Key: "at", Value: now}}},
			{Key: "$inc", Value: bson.D{{Key: "writes", Value: int64(1)}}},
		}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: write probe: %w", err)
	}
	if !p.swept {
		// A sweep that fails is tried again by the next probe: it is
		// housekeeping, not what the probe measures.
		_, err := p.s.coll(CollHealthProbe).DeleteMany(ctx,
			bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-probeStale)}}}})
		p.swept = err == nil
	}
	return nil
}

// Run probes now and then every `every` until ctx ends, each write bounded
// by `every`. changed is called when the outcome turns: with the error when
// writes start failing, with nil when they work again.
func (p *WriteProbe) Run(ctx context.Context, every time.Duration, changed func(err error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false
	for {
		// At least a second per write, however often: a loaded server
		// that is slow to write is not failing.
		wctx, cancel := context.WithTimeout(ctx, max(every, time.Second))
		err := p.Probe(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrNoLease):
			// Not probed: the outcome stands.
		case err != nil && !failing:
			failing = true
			changed(err)
		case err == nil && failing:
			failing = false
			changed(nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// maxBrief bounds a failure's description: it is shown to anonymous callers.
const maxBrief = 120

// frames are FerretDB's source locations in an error message
// ("[msg_update.go:133 handler.(*Handler).updateDocument] ").
var frames = regexp.MustCompile(`\[[^\]]*\]\s*`)

// briefly describes a failed write by what the server said, or by the kind
// of failure when it said nothing: a driver's own message names addresses.
func briefly(err error) string {
	var ce mongo.CommandError
	var we mongo.WriteException
	var s string
	switch {
	case mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case mongo.IsNetworkError(err):
		return "connection failed"
	case errors.As(err, &ce) && (ce.Code != 0 || ce.Name != ""):
		s = named(ce.Name, ce.Code, ce.Message)
	case errors.As(err, &we) && we.WriteConcernError != nil:
		s = named(we.WriteConcernError.Name, int32(we.WriteConcernError.Code), we.WriteConcernError.Message)
	case errors.As(err, &we) && len(we.WriteErrors) > 0:
		s = named("", int32(we.WriteErrors[0].Code), we.WriteErrors[0].Message)
	default:
		return "failed"
	}
	s = strings.Join(strings.Fields(frames.ReplaceAllString(s, "")), " ")
	if r := []rune(s); len(r) > maxBrief {
		s = string(r[:maxBrief-1]) + "…"
	}
	return s
}

func named(name string, code int32, msg string) string {
	if name == "" {
		name = fmt.Sprint("code ", code)
	}
	return "(" + name + ") " + msg
}

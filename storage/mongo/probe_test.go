package mongo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/todo-backend/todo/internal/testenv"
)

type probeRecord struct {
	Host   string    `bson:"host"`
	PID    int       `bson:"pid"`
	At     time.Time `bson:"at"`
	Writes int64     `bson:"writes"`
}

func probeDoc(t *testing.T, s *Store, id string) probeRecord {
	t.Helper()
	var d probeRecord
	if err := s.coll(CollHealthProbe).FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		t.Fatalf("probe document %s: %v", id, err)
	}
	return d
}

// The probe upserts its own document, counting its writes, and its first
// write removes the documents of processes that stopped probing long ago.
func TestWriteProbeWrites(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	now := time.Now().UTC()
	insertRaw(t, s, CollHealthProbe,
		bson.D{{Key: "_id", Value: "gone"}, {Key: "at", Value: now.Add(-2 * probeStale)}},
		bson.D{{Key: "_id", Value: "alive"}, {Key: "at", Value: now}})
	p := s.NewWriteProbe("me")
	for i := range 2 {
		if err := p.Probe(t.Context()); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if got := p.WriteFailure(); got != "" {
		t.Errorf("WriteFailure after writes that went through: got %q, want \"\"", got)
	}
	d := probeDoc(t, s, "me")
	host, _ := os.Hostname()
	if d.Writes != 2 || d.PID != os.Getpid() || d.Host != host || time.Since(d.At) > time.Minute {
		t.Errorf("probe document: got %+v, want 2 writes by pid %d on %q, just now", d, os.Getpid(), host)
	}
	if n := count(t, s, CollHealthProbe, bson.D{{Key: "_id", Value: "gone"}}); n != 0 {
		t.Errorf("stale probe document: got %d, want 0 (swept)", n)
	}
	if n := count(t, s, CollHealthProbe, bson.D{{Key: "_id", Value: "alive"}}); n != 1 {
		t.Errorf("another live instance's probe document: got %d, want 1 (kept)", n)
	}
}

// A failed write is recorded in words safe to show anyone: the server's
// address, which the driver's error names, is not among them.
func TestWriteProbeUnreachable(t *testing.T) {
	t.Parallel()
	s, err := Connect("mongodb://127.0.0.1:1/?connectTimeoutMS=200", "x", Options{ServerSelectionTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	p := s.NewWriteProbe("me")
	err = p.Probe(t.Context())
	if err == nil {
		t.Fatal("probe of an unreachable server: got nil, want an error")
	}
	if got := p.WriteFailure(); got != "timed out" {
		t.Errorf("WriteFailure: got %q, want \"timed out\" (from %v)", got, err)
	}
}

// A process that may not write (on FerretDB, without the single-writer
// lease) does not probe, and keeps the last outcome: the lapsed lease shows
// in Ping, and the failing writes that let it lapse stay the reason.
func TestWriteProbeFenced(t *testing.T) {
	t.Parallel()
	db := testenv.MongoDatabase(t)
	s, err := Connect(testenv.MongoURI(t), db, Options{WriterLease: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	p := s.NewWriteProbe("me")
	p.failure = "(InternalError) database or disk is full (13)"
	if err := p.Probe(t.Context()); !errors.Is(err, ErrNoLease) {
		t.Fatalf("probe without the lease: got %v, want ErrNoLease", err)
	}
	if got, want := p.WriteFailure(), "(InternalError) database or disk is full (13)"; got != want {
		t.Errorf("WriteFailure: got %q, want %q (kept)", got, want)
	}
	if n := count(t, storeOn(t, db), CollHealthProbe, nil); n != 0 {
		t.Errorf("probe documents written without the lease: got %d, want 0", n)
	}
}

// Run probes at once and then on every tick, and reports no change while
// writes work.
func TestWriteProbeRun(t *testing.T) {
	s := newStore(t)
	p := s.NewWriteProbe("me")
	// Cancelled rather than a deadline: the driver refuses a write whose
	// deadline is nearer than a round trip before the deadline passes, and
	// that would look like a failing write.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(1500*time.Millisecond, cancel)
	defer cancel()
	var changes []error
	p.Run(ctx, 100*time.Millisecond, func(err error) { changes = append(changes, err) })
	if d := probeDoc(t, s, "me"); d.Writes < 3 {
		t.Errorf("writes in 1.5s every 100ms: got %d, want at least 3", d.Writes)
	}
	if len(changes) != 0 {
		t.Errorf("changes reported while writes work: got %v, want none", changes)
	}
}

func TestBriefly(t *testing.T) {
	t.Parallel()
	full := mongo.CommandError{Code: 1, Name: "InternalError", Message: "[msg_update.go:133 handler.(*Handler).updateDocument] " +
		"[update.go:105 common.UpdateDocument] [db.go:167 fsql.(*DB).InTransaction] database or disk is full (13)"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"FerretDB's full disk", fmt.Errorf("mongo: write probe: %w", full), "(InternalError) database or disk is full (13)"},
		{"deadline", fmt.Errorf("mongo: write probe: %w", context.DeadlineExceeded), "timed out"},
		{"network", mongo.CommandError{Labels: []string{"NetworkError"}, Message: "connection(10.1.2.3:27017[-4]) incomplete read"}, "connection failed"},
		{"write concern", mongo.WriteException{WriteConcernError: &mongo.WriteConcernError{Name: "WriteConcernFailed", Code: 64,
			Message: "waiting for replication timed out"}}, "(WriteConcernFailed) waiting for replication timed out"},
		{"write error", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 121, Message: "Document failed validation"}}},
			"(code 121) Document failed validation"},
		{"anything else", errors.New("dial tcp 10.1.2.3:27017: connect: connection refused"), "failed"},
		{"long", mongo.CommandError{Code: 8, Name: "UnknownError", Message: strings.Repeat("é", 200)},
			"(UnknownError) " + strings.Repeat("é", maxBrief-len("(UnknownError) ")-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := briefly(tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

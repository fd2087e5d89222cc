package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-backend/todo/models"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want fault
	}{
		{&pgconn.PgError{Code: "22021"}, permanent}, // invalid byte sequence
		{&pgconn.PgError{Code: "22001"}, permanent}, // string too long
		{&pgconn.PgError{Code: "23502"}, permanent}, // not null
		{&pgconn.PgError{Code: "23505"}, transient}, // unique: another write still holds the key
		{&pgconn.PgError{Code: "40001"}, transient}, // serialization
		{&pgconn.PgError{Code: "08006"}, unreachable},
		{&pgconn.PgError{Code: "57P01"}, unreachable},
		{fmt.Errorf("mirror: apply: %w", context.DeadlineExceeded), unreachable},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), unreachable},
		{fmt.Errorf("%w: tasks x: column title holds a NUL", errUnmappable), permanent},
		{errors.New("something else"), transient},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// The breaker: three unreachable applies open it; a probe's answer makes it
// half-open (requests still skip the mirror); a passing apply closes it, an
// unreachable one opens it again; probes come at most once a poll.
func TestBreaker(t *testing.T) {
	t.Parallel()
	var b breaker
	now := time.Now()
	for i := range breakerThreshold - 1 {
		if b.failed(now) || b.isOpen() {
			t.Fatalf("after %d failures: open, want closed", i+1)
		}
	}
	if !b.failed(now) || !b.isOpen() || !b.stalled() {
		t.Fatalf("after %d failures: closed, want open", breakerThreshold)
	}
	if probe, open := b.needsProbe(now, time.Second); probe || !open {
		t.Fatalf("probe right after opening: got probe %v open %v, want no probe yet", probe, open)
	}
	if probe, open := b.needsProbe(now.Add(time.Second), time.Second); !probe || !open {
		t.Fatalf("probe a poll later: got probe %v open %v, want one", probe, open)
	}
	b.answered()
	if !b.isOpen() || b.stalled() {
		t.Fatalf("after an answered probe: got open %v stalled %v, want half-open", b.isOpen(), b.stalled())
	}
	b.failed(now.Add(2 * time.Second))
	if !b.stalled() {
		t.Fatalf("an unreachable apply while half-open: not open again")
	}
	b.answered()
	if closed, was := b.reached(now.Add(3 * time.Second)); !closed || was != 3*time.Second || b.isOpen() {
		t.Fatalf("a passing apply while half-open: closed %v after %s, want closed after 3s", closed, was)
	}
	if closed, _ := b.reached(now); closed {
		t.Fatalf("reached while closed: reported closing again")
	}
	// Opening again within a minute of closing doubles the wait between
	// probes: a mirror that answers probes but fails writes is not asked
	// once a poll for ever.
	reopened := now.Add(4 * time.Second)
	for range breakerThreshold {
		b.failed(reopened)
	}
	if probe, _ := b.needsProbe(reopened.Add(time.Second), time.Second); probe {
		t.Fatalf("probe a poll after reopening: want a doubled wait")
	}
	if probe, _ := b.needsProbe(reopened.Add(2*time.Second), time.Second); !probe {
		t.Fatalf("probe two polls after reopening: want one")
	}
}

func TestBackoffCapped(t *testing.T) {
	t.Parallel()
	for attempt := 1; attempt < 40; attempt++ {
		d := backoff(time.Second, 5*time.Minute, attempt)
		want := min(time.Second<<min(attempt-1, 20), 5*time.Minute)
		if d < want/2 || d > want {
			t.Fatalf("backoff of attempt %d: %s, want within [%s, %s]", attempt, d, want/2, want)
		}
	}
}

func TestStorableRefusesNUL(t *testing.T) {
	t.Parallel()
	clean, err := Map(models.Label{ID: "6b0eead37596247c0f418398", Name: "ok\ttab", Color: "#fff"})
	if err != nil {
		t.Fatal(err)
	}
	if err := storable(clean); err != nil {
		t.Fatalf("a label with a tab: %v, want storable", err)
	}
	bad, err := Map(models.Label{ID: "6b0eead37596247c0f418398", Name: "no", Description: "a\x00b"})
	if err != nil {
		t.Fatal(err)
	}
	err = storable(bad)
	if !errors.Is(err, errUnmappable) || classify(err) != permanent ||
		!strings.Contains(err.Error(), "column description holds a NUL") {
		t.Fatalf("a label with a NUL in its description: %v, want a permanent refusal naming the column", err)
	}
}

// TestStorableRefusesWhatPostgreSQLRefuses: a string longer than its
// varchar(N) column, counted in characters as PostgreSQL counts them, and
// bytes that are not UTF-8 are refused for good on either mirror, naming
// the column; N characters of several bytes each fit.
func TestStorableRefusesWhatPostgreSQLRefuses(t *testing.T) {
	t.Parallel()
	const id = "6b0eead37596247c0f418398"
	for _, c := range []struct {
		doc  any
		want string // "" storable
	}{
		{models.Label{ID: id, Name: strings.Repeat("é", 100), Color: "#fff"}, ""},
		{models.Label{ID: id, Name: strings.Repeat("é", 101), Color: "#fff"}, "column name holds 101 characters, more than its varchar(100)"},
		{models.Label{ID: id, Name: "x", Color: "#fff\xff"}, "column color holds bytes that are not UTF-8"},
		{models.AuditLog{ID: id, Action: "read_source_changed", AssigneeFrom: "tasks=postgres shadow=100%"},
			"column assignee_from holds 26 characters, more than its varchar(24)"},
		{models.AuditLog{ID: id, Action: "read_source_changed", ValueFrom: "tasks=postgres shadow=100%"}, ""},
		{models.Task{ID: id, Title: "t", DeferredDetails: &models.DeferredDetails{DeferredBy: strings.Repeat("u", 256)}},
			"column deferred_by holds 256 characters, more than its varchar(255)"},
	} {
		rec, err := Map(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		err = storable(rec)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v, want storable", c.doc, err)
		case c.want != "" && (!errors.Is(err, errUnmappable) || classify(err) != permanent || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want a permanent refusal saying %q", c.doc, err, c.want)
		}
	}
}

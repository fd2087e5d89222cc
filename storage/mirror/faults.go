package mirror

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/todo-backend/todo/storage/postgres"
)

// fault is what a failed apply says about retrying it.
type fault int

const (
	// transient: retrying later may pass (a row another, not yet mirrored,
	// write still holds a unique value of; a serialization failure).
	transient fault = iota
	// unreachable: the mirror did not answer (refused, reset, timed out).
	// It opens the circuit breaker.
	unreachable
	// permanent: the mirror cannot store the document as it is (a value
	// PostgreSQL rejects); retrying the same document fails the same way.
	permanent
)

func (f fault) String() string {
	switch f {
	case unreachable:
		return "unreachable"
	case permanent:
		return "permanent"
	}
	return "transient"
}

// errUnmappable marks a document the mapping cannot turn into a row.
var errUnmappable = errors.New("mirror: cannot map document")

// fromDatabase reports whether err is the mirror database's answer (it
// was reached, and refused), as opposed to no answer or a refusal of ours
// before any SQL was sent.
func fromDatabase(err error) bool {
	var pg *pgconn.PgError
	var lite *sqlite.Error
	return errors.As(err, &pg) || errors.As(err, &lite)
}

// classify sorts an apply's error.
func classify(err error) fault {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		// Class 22, data exception: a string too long (22001), a byte
		// sequence the encoding rejects (22021, NUL among them), a
		// character it cannot translate (22P05), a number or date out of
		// range.
		case strings.HasPrefix(pg.Code, "22"),
			pg.Code == "23502", // not null
			pg.Code == "23514": // check
			return permanent
		case strings.HasPrefix(pg.Code, "08"), // connection exception
			pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03": // shutdown, cannot connect now
			return unreachable
		}
		return transient
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH:
			return permanent
		case sqlite3.SQLITE_CONSTRAINT:
			if lite.Code() == sqlite3.SQLITE_CONSTRAINT_NOTNULL || lite.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK {
				return permanent
			}
		}
		return transient
	}
	if errors.Is(err, errUnmappable) {
		return permanent
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err),
		errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return unreachable
	}
	return transient
}

// breakerThreshold is how many applies in a row must fail to reach the
// mirror before requests stop waiting for it.
const breakerThreshold = 3

// breaker is the circuit breaker on the request path. Closed, a sync-mode
// request applies its writes itself; after breakerThreshold unreachable
// applies in a row it opens, and requests hand their writes to the worker
// at once instead of each waiting out the apply timeout. While it is open
// the worker probes the mirror, at most once a poll; an answer makes it
// half-open: the worker tries its due writes, requests still hand theirs
// over. The first apply that passes closes it; one that finds the mirror
// unreachable opens it again. So a PostgreSQL that answers pings but not
// writes does not make it flap.
type breaker struct {
	mu       sync.Mutex
	fails    int
	state    breakerState
	openedAt time.Time
	probed   time.Time
	// closedAt and reopens space the probes of a mirror that keeps
	// answering probes and failing writes: each time it opens again within
	// a minute of closing, the wait between probes doubles (to 30 s).
	closedAt time.Time
	reopens  int
}

type breakerState int

const (
	closed breakerState = iota
	open
	halfOpen
)

// isOpen reports whether requests should skip the mirror (open or
// half-open).
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != closed
}

// stalled reports whether the breaker is open (not half-open): the worker
// applies nothing until a probe is answered.
func (b *breaker) stalled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == open
}

// needsProbe reports whether the worker should probe now: the breaker is
// open and the last probe is at least every ago. It notes the probe.
func (b *breaker) needsProbe(now time.Time, every time.Duration) (probe, blocked bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != open {
		return false, false
	}
	if now.Sub(b.probed) < min(every<<min(b.reopens, 5), 30*time.Second) {
		return false, true
	}
	b.probed = now
	return true, true
}

// answered notes a probe's answer: open becomes half-open.
func (b *breaker) answered() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == open {
		b.state = halfOpen
	}
}

// failed notes an unreachable mirror and reports whether that opened the
// breaker.
func (b *breaker) failed(now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails++
	switch {
	case b.state == halfOpen:
		b.state, b.probed = open, now
	case b.state == closed && b.fails >= breakerThreshold:
		if !b.closedAt.IsZero() && now.Sub(b.closedAt) < time.Minute {
			b.reopens++
		} else {
			b.reopens = 0
		}
		b.state, b.openedAt, b.probed = open, now, now
		return true
	}
	return false
}

// reached notes a write the mirror took (or refused on its merits) and
// reports whether that closed the breaker, with how long it was not
// closed.
func (b *breaker) reached(now time.Time) (closedNow bool, was time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails = 0
	if b.state == closed {
		return false, 0
	}
	b.state, b.closedAt = closed, now
	return true, now.Sub(b.openedAt)
}

// storable refuses a record PostgreSQL would refuse for good: a NUL in
// text (which bun cannot even quote into a statement), bytes that are not
// UTF-8, a string longer than its varchar(N) column. The document fails
// permanently, with a reason that names the column, before any SQL is sent.
// The SQLite mirror, which stores all three, is held to the same rule, so
// both mirrors hold the same and a write the tests run on SQLite fails
// there as it would on PostgreSQL. The widths are the row structs' (the
// tables our migrations create; a table the original service made may be
// narrower, and PostgreSQL still says so). Characters are counted as
// PostgreSQL counts them in a UTF-8 database; a string over its width by
// trailing spaces only, which PostgreSQL would cut silently, is refused
// too: the row would differ from its document.
func storable(rec Record) error {
	for _, row := range []any{rec.Row, rec.Deferred} {
		if col, why := unstorable(reflect.ValueOf(row)); col != "" {
			return fmt.Errorf("%w: %s %s: column %s %s, which PostgreSQL cannot store",
				errUnmappable, rec.Collection, rec.sync().MongoID, col, why)
		}
	}
	for _, l := range rec.Labels {
		if col, why := unstorable(reflect.ValueOf(postgres.TaskLabelRow{LabelMongoID: l})); col != "" {
			return fmt.Errorf("%w: %s %s: a label id %s", errUnmappable, rec.Collection, rec.sync().MongoID, why)
		}
	}
	return nil
}

// unstorable names the first string column of a row struct (a pointer to
// one) PostgreSQL cannot store, and why; "" when there is none.
func unstorable(v reflect.Value) (col, why string) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return "", ""
	}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous {
			if col, why := unstorable(fv); col != "" {
				return col, why
			}
			continue
		}
		for fv.Kind() == reflect.Pointer && !fv.IsNil() {
			fv = fv.Elem()
		}
		if fv.Kind() != reflect.String {
			continue
		}
		tag := f.Tag.Get("bun")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		str := fv.String()
		switch {
		case strings.ContainsRune(str, 0):
			return name, "holds a NUL character"
		case !utf8.ValidString(str):
			return name, "holds bytes that are not UTF-8"
		}
		if n := varcharWidth(tag); n > 0 {
			if chars := utf8.RuneCountInString(str); chars > n {
				return name, fmt.Sprintf("holds %d characters, more than its varchar(%d)", chars, n)
			}
		}
	}
	return "", ""
}

// varcharWidth is N of a bun tag's type:varchar(N), or 0.
func varcharWidth(tag string) int {
	_, rest, ok := strings.Cut(tag, "type:varchar(")
	if !ok {
		return 0
	}
	digits, _, _ := strings.Cut(rest, ")")
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0
	}
	return n
}

// noTable reports an error saying a table does not exist (a mirror not
// migrated yet).
func noTable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "42P01"
	}
	return err != nil && strings.Contains(err.Error(), "no such table")
}

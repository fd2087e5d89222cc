package mongo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollWriterLease holds the single-writer lease of a FerretDB database.
//
// FerretDB v1 makes no update atomic across connections (see serialize), so
// two processes updating one document can lose one of the updates whatever
// the update's filter says. This process serialises its own updates; the
// lease makes sure no other process writes at the same time. It is taken
// with inserts only, which FerretDB does make atomic (a unique _id): lease
// number n+1 can be inserted by one process only. The holder renews its own
// document; a process that wants the lease waits for the holder's to lapse,
// then inserts the next number. A holder that finds a later number, or
// cannot renew in time, has lost the lease and stops writing.
const CollWriterLease = "writer_lease"

// ErrLeaseHeld: another live process holds the single-writer lease.
var ErrLeaseHeld = errors.New("another todo process holds the single-writer lease of this FerretDB database")

// ErrNoLease: this process may not write now: it does not hold the
// single-writer lease yet, or has lost it.
var ErrNoLease = errors.New("mongo: this process does not hold the single-writer lease of the FerretDB database")

// Holder names a lease holder.
type Holder struct {
	ID      string    `bson:"holder"`
	Host    string    `bson:"host"`
	PID     int       `bson:"pid"`
	Started time.Time `bson:"started_at"`
	// Kernel names the kernel boot and PID namespace the process runs in
	// (Linux; empty elsewhere): a holder's PID says whether it is alive
	// only to a process of the same boot and namespace.
	Kernel string `bson:"kernel,omitempty"`
}

func (h Holder) String() string {
	return fmt.Sprintf("process %d on host %q, started %s", h.PID, h.Host, h.Started.UTC().Format(time.RFC3339))
}

// This returns the Holder describing this process.
func This(id string) Holder {
	host, _ := os.Hostname()
	return Holder{ID: id, Host: host, PID: os.Getpid(), Started: time.Now().UTC().Truncate(time.Millisecond),
		Kernel: kernel()}
}

// kernel is the boot id and PID namespace of this process, or "" when
// they cannot be read.
func kernel() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

type leaseDoc struct {
	ID     string `bson:"_id"`
	Number int64  `bson:"number"`
	Holder `bson:",inline"`
	Until  time.Time `bson:"until"`
}

// Lease is this process's claim on the single-writer lease.
type Lease struct {
	s      *Store
	me     Holder
	ttl    time.Duration
	number int64
	// done is closed once Hold's renewals ended and the lease was given up.
	done chan struct{}
}

// NewLease prepares a claim of the lease for me; ttl is how long a holder
// that stops renewing keeps it.
func (s *Store) NewLease(me Holder, ttl time.Duration) *Lease {
	return &Lease{s: s, me: me, ttl: ttl, done: make(chan struct{})}
}

func leaseID(n int64) string { return fmt.Sprintf("writer:%020d", n) }

// latest returns the lease document with the highest number, if any.
func (l *Lease) latest(ctx context.Context) (leaseDoc, bool, error) {
	var d leaseDoc
	err := l.s.coll(CollWriterLease).FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "number", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("mongo: writer lease: %w", err)
	}
	return d, true, nil
}

// lapsed tells whether a lease no longer holds: its time is up, or its
// holder ran under this very kernel boot and PID namespace and its process
// is gone (a crash and restart on one host need not wait). Anything less
// certain (another host, another container, a PID this process shares)
// waits for the time.
func (l *Lease) lapsed(d leaseDoc, now time.Time) bool {
	if !now.Before(d.Until) {
		return true
	}
	if d.Kernel == "" || d.Kernel != l.me.Kernel || d.Holder.ID == l.me.ID || d.PID == l.me.PID {
		return false
	}
	return errors.Is(syscall.Kill(d.PID, 0), syscall.ESRCH)
}

// TryAcquire takes the lease if nobody holds it. A live holder is
// ErrLeaseHeld, with who it is.
func (l *Lease) TryAcquire(ctx context.Context) error {
	for range 3 {
		start := time.Now()
		d, found, err := l.latest(ctx)
		if err != nil {
			return err
		}
		if found && !l.lapsed(d, start) {
			return fmt.Errorf("%w: %s holds it until %s", ErrLeaseHeld, d.Holder, d.Until.UTC().Format(time.RFC3339))
		}
		next := d.Number + 1
		_, err = l.s.coll(CollWriterLease).InsertOne(ctx,
			leaseDoc{ID: leaseID(next), Number: next, Holder: l.me, Until: start.Add(l.ttl).UTC()})
		if mongo.IsDuplicateKeyError(err) {
			continue // another process took this number first: look again
		} else if err != nil {
			return fmt.Errorf("mongo: writer lease: %w", err)
		}
		l.number = next
		l.s.leaseValid(start, l.ttl)
		// Earlier numbers are history; their holders find a later one.
		_, _ = l.s.coll(CollWriterLease).DeleteMany(ctx, bson.D{{Key: "number", Value: bson.D{{Key: "$lt", Value: next}}}})
		return nil
	}
	return fmt.Errorf("%w: other processes keep taking it", ErrLeaseHeld)
}

// ErrLeaseLost: another process took the lease over.
var ErrLeaseLost = errors.New("the single-writer lease of this FerretDB database was taken over by another process")

// Renew extends the lease while it still holds. A later number means it
// was lost; one whose time ran out (this process could not renew it, say
// the database was away) is taken again like a new one, by an insert, so
// it never goes to two processes: one that took it meanwhile wins.
func (l *Lease) Renew(ctx context.Context) error {
	start := time.Now()
	d, found, err := l.latest(ctx)
	if err != nil {
		return err
	}
	if !found || d.Number != l.number || d.Holder.ID != l.me.ID {
		return l.lost(d, found)
	}
	r, err := l.s.coll(CollWriterLease).UpdateOne(ctx, bson.D{{Key: "_id", Value: leaseID(l.number)},
		{Key: "holder", Value: l.me.ID}, {Key: "until", Value: bson.D{{Key: "$gt", Value: start.UTC()}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: start.Add(l.ttl).UTC()}}}})
	if err != nil {
		return fmt.Errorf("mongo: renewing the writer lease: %w", err)
	}
	if r.MatchedCount == 0 {
		if err := l.TryAcquire(ctx); errors.Is(err, ErrLeaseHeld) {
			return fmt.Errorf("%w: %w", ErrLeaseLost, err)
		} else if err != nil {
			return err
		}
		return nil
	}
	// FerretDB runs the update as a read and a write: a takeover between
	// them is seen now, before this process writes on.
	if d, found, err = l.latest(ctx); err != nil {
		return err
	}
	if !found || d.Number != l.number {
		return l.lost(d, found)
	}
	l.s.leaseValid(start, l.ttl)
	return nil
}

// lost ends this process's writes: the lease went to another.
func (l *Lease) lost(d leaseDoc, found bool) error {
	l.s.leaseUntil.Store(0)
	if found {
		return fmt.Errorf("%w (%s)", ErrLeaseLost, d.Holder)
	}
	return ErrLeaseLost
}

// Release gives the lease up, so the next process need not wait for it to
// lapse. This process writes no more.
func (l *Lease) Release(ctx context.Context) error {
	l.s.leaseUntil.Store(0)
	_, err := l.s.coll(CollWriterLease).DeleteOne(ctx, bson.D{{Key: "_id", Value: leaseID(l.number)}, {Key: "holder", Value: l.me.ID}})
	return err
}

// Hold takes the lease, waiting up to one ttl (and a little) for a holder
// that stopped renewing, then keeps it renewed until ctx ends, when it is
// released. It returns once the lease is held or definitely not to be had;
// lost is called if the lease is lost later.
func (l *Lease) Hold(ctx context.Context, lost func(error)) error {
	deadline := time.Now().Add(l.ttl + l.ttl/4)
	for {
		err := l.TryAcquire(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLeaseHeld) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.ttl / 5):
		}
	}
	go l.keep(ctx, lost)
	return nil
}

// Done is closed when the lease Hold keeps was given up (its context
// ended) or lost: wait for it before closing the store, so the next
// process need not wait for the lease to lapse.
func (l *Lease) Done() <-chan struct{} { return l.done }

func (l *Lease) keep(ctx context.Context, lost func(error)) {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 5)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = l.Release(rctx)
			cancel()
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, l.ttl/2)
		err := l.Renew(rctx)
		cancel()
		if errors.Is(err, ErrLeaseLost) {
			lost(err)
			return
		}
		// Any other failure (the database away) is tried again at the next
		// tick; meanwhile writes stop once the lease's time is up (fence).
	}
}

// leaseValid lets this process write until a quarter of ttl before the
// lease it renewed at start lapses: the margin covers clock differences
// between this host and one that would take the lease over.
func (s *Store) leaseValid(start time.Time, ttl time.Duration) {
	s.leaseUntil.Store(int64(start.Add(ttl - ttl/4).Sub(s.born)))
}

// fence refuses writes while this process needs the single-writer lease
// and does not hold it: on FerretDB when the store was opened with
// Options.WriterLease, until the lease is taken and whenever it has lapsed.
func (s *Store) fence() error {
	if !s.needLease || s.atomicUpdates.Load() {
		return nil
	}
	until := s.leaseUntil.Load()
	if until == 0 || time.Since(s.born) > time.Duration(until) {
		return ErrNoLease
	}
	return nil
}

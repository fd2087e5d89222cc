package mongo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/models"
)

// A change is written only over the version it was decided on: a write
// from an older read is ErrStale and changes nothing, so two writers can
// never both leave version n+1.
func TestUpdateFromStaleReadIsRefused(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	task := models.Task{ID: NewID(), DisplayID: "#1", Title: "first", Status: models.StatusTodo, CreatedAt: now, Version: 1}
	if err := s.InsertTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	a, b := task, task
	a.Title, b.Title = "from A", "from B"
	savedA, err := s.UpdateTask(ctx, task, a)
	if err != nil || savedA.Version != 2 {
		t.Fatalf("first update: version %d, %v; want 2", savedA.Version, err)
	}
	if _, err := s.UpdateTask(ctx, task, b); !errors.Is(err, ErrStale) {
		t.Fatalf("update from version 1 after version 2 was written: %v, want ErrStale", err)
	}
	got, err := s.TasksByIDs(ctx, []string{task.ID})
	if err != nil || len(got) != 1 || got[0].Title != "from A" || got[0].Version != 2 {
		t.Fatalf("after the stale write: %+v, %v; want A's title at version 2", got, err)
	}
	// Read again, decided again: it applies.
	b2 := got[0]
	b2.Title = "from B"
	if saved, err := s.UpdateTask(ctx, got[0], b2); err != nil || saved.Version != 3 || saved.Title != "from B" {
		t.Fatalf("update from a fresh read: %+v, %v", saved, err)
	}
}

// Documents the original service wrote carry no version; a change read
// from one applies once, and a second change from the same read is stale.
func TestUpdateOfUnversionedDocument(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	id := bson.NewObjectID()
	insertRaw(t, s, CollLabels, bson.D{{Key: "_id", Value: id}, {Key: "name", Value: "legacy"}, {Key: "color", Value: "#fff"},
		{Key: "isDeleted", Value: false}, {Key: "createdAt", Value: time.Now().UTC()}})
	ls, err := s.LabelsByIDs(ctx, []string{id.Hex()})
	if err != nil || len(ls) != 1 || ls[0].Version != 0 {
		t.Fatalf("legacy label: %+v, %v", ls, err)
	}
	after := ls[0]
	after.Color = "#000"
	saved, err := s.UpdateLabel(ctx, ls[0], after)
	if err != nil || saved.Version != 1 {
		t.Fatalf("first change of a legacy document: version %d, %v; want 1", saved.Version, err)
	}
	after.Color = "#111"
	if _, err := s.UpdateLabel(ctx, ls[0], after); !errors.Is(err, ErrStale) {
		t.Fatalf("second change from the same unversioned read: %v, want ErrStale", err)
	}
}

// Many writers of one document through one store: every write that was
// acknowledged bumped the version by exactly one (none lost, none sharing
// a version), whatever the server.
func TestConcurrentWritersOfOneDocument(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	task := models.Task{ID: NewID(), DisplayID: "#1", Title: "t", Status: models.StatusTodo, CreatedAt: time.Now().UTC(), Version: 1}
	if err := s.InsertTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	const writers, each = 6, 10
	var mu sync.Mutex
	versions := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < each; {
				cur, err := s.TasksByIDs(ctx, []string{task.ID})
				if err != nil || len(cur) != 1 {
					t.Errorf("read: %v", err)
					return
				}
				after := cur[0]
				after.Title = bson.NewObjectID().Hex() // always a change
				saved, err := s.UpdateTask(ctx, cur[0], after)
				if errors.Is(err, ErrStale) {
					continue // read again
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				if versions[saved.Version] {
					t.Errorf("version %d acknowledged twice", saved.Version)
				}
				versions[saved.Version] = true
				mu.Unlock()
				i++
			}
		})
	}
	wg.Wait()
	got, err := s.TasksByIDs(ctx, []string{task.ID})
	if err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	if want := int64(1 + writers*each); got[0].Version != want || len(versions) != writers*each {
		t.Fatalf("final version %d after %d acknowledged writes (want %d)", got[0].Version, len(versions), want)
	}
}

// The single-writer lease: one holder at a time; a second claimant is
// told who holds it; a released or lapsed lease passes on, and the old
// holder finds it lost and may write no more.
func TestWriterLease(t *testing.T) {
	db := ""
	a := newStoreWith(t, &db, Options{WriterLease: true})
	b := newStoreWith(t, &db, Options{WriterLease: true})
	ctx := t.Context()
	if srv, err := a.Identify(ctx); err != nil || !srv.FerretDB {
		t.Fatalf("Identify: %+v, %v; the tests run on FerretDB", srv, err)
	}
	if _, err := b.Identify(ctx); err != nil {
		t.Fatal(err)
	}
	write := func(s *Store) error {
		return s.InsertLabel(ctx, models.Label{ID: NewID(), Name: NewID(), Color: "#fff", CreatedAt: time.Now().UTC(), Version: 1})
	}
	if err := write(a); !errors.Is(err, ErrNoLease) {
		t.Fatalf("write before the lease is held: %v, want ErrNoLease", err)
	}
	const ttl = 2 * time.Second
	la := a.NewLease(Holder{ID: "a", Host: "host-a", PID: 1, Started: time.Now()}, ttl)
	lb := b.NewLease(Holder{ID: "b", Host: "host-b", PID: 2, Started: time.Now()}, ttl)
	if err := la.TryAcquire(ctx); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := write(a); err != nil {
		t.Fatalf("holder's write: %v", err)
	}
	err := lb.TryAcquire(ctx)
	if !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second claim while held: %v, want ErrLeaseHeld", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `host "host-a"`) {
		t.Fatalf("refusal does not say who holds the lease: %s", msg)
	}
	if err := write(b); !errors.Is(err, ErrNoLease) {
		t.Fatalf("write of the refused process: %v, want ErrNoLease", err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := write(a); !errors.Is(err, ErrNoLease) {
		t.Fatalf("write after release: %v, want ErrNoLease", err)
	}
	if err := lb.TryAcquire(ctx); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if err := la.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("old holder renewing after a takeover: %v, want ErrLeaseLost", err)
	}
	// b stops renewing: after the ttl, a takes over, and b may not write.
	time.Sleep(ttl + 100*time.Millisecond)
	if err := write(b); !errors.Is(err, ErrNoLease) {
		t.Fatalf("write after the lease's time is up: %v, want ErrNoLease", err)
	}
	if err := la.TryAcquire(ctx); err != nil {
		t.Fatalf("claim of a lapsed lease: %v", err)
	}
	if err := lb.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("lapsed holder renewing after a takeover: %v, want ErrLeaseLost", err)
	}
	// a cannot renew in time (as if the database were away): its lease's
	// time runs out, nobody took it, and the next renewal takes it again.
	time.Sleep(ttl + 100*time.Millisecond)
	if err := write(a); !errors.Is(err, ErrNoLease) {
		t.Fatalf("write with the lease's time up: %v, want ErrNoLease", err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatalf("renewing a lapsed lease nobody took: %v", err)
	}
	if err := write(a); err != nil {
		t.Fatalf("write after taking the lease again: %v", err)
	}
	if n := count(t, a, CollWriterLease, nil); n != 1 {
		t.Fatalf("%d lease documents, want the current one only", n)
	}
}

// A holder is taken for gone before its time only when it ran under this
// kernel boot and PID namespace and its process does not exist.
func TestLeaseOfAGoneProcess(t *testing.T) {
	s := newStore(t)
	me := This("me")
	if me.Kernel == "" {
		t.Fatal("no boot id or PID namespace: this test needs Linux /proc")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		holder Holder
		lapsed bool
	}{
		{"a process gone, same kernel", Holder{ID: "x", Host: me.Host, PID: gone.Process.Pid, Kernel: me.Kernel}, true},
		{"a live process, same kernel", Holder{ID: "x", Host: me.Host, PID: os.Getppid(), Kernel: me.Kernel}, false},
		{"same pid, same kernel (another namespace's pid 1, say)", Holder{ID: "x", Host: me.Host, PID: me.PID, Kernel: me.Kernel}, false},
		{"a process gone, another kernel", Holder{ID: "x", Host: me.Host, PID: gone.Process.Pid, Kernel: "other"}, false},
		{"a process gone, kernel unknown", Holder{ID: "x", Host: me.Host, PID: gone.Process.Pid}, false},
	} {
		l := s.NewLease(me, time.Minute)
		if got := l.lapsed(leaseDoc{Holder: c.holder, Until: time.Now().Add(time.Minute)}, time.Now()); got != c.lapsed {
			t.Errorf("%s: lapsed %v, want %v", c.name, got, c.lapsed)
		}
	}
}

// Twenty processes' claims at once: exactly one wins.
func TestWriterLeaseOneWinner(t *testing.T) {
	db := ""
	first := newStoreWith(t, &db, Options{})
	ctx := t.Context()
	var mu sync.Mutex
	won := 0
	var wg sync.WaitGroup
	for i := range 20 {
		s := first
		if i%2 == 1 {
			s = newStoreWith(t, &db, Options{})
		}
		l := s.NewLease(Holder{ID: NewID(), Host: fmt.Sprint("host-", i), PID: 100000 + i, Started: time.Now()}, time.Minute)
		wg.Go(func() {
			err := l.TryAcquire(ctx)
			switch {
			case err == nil:
				mu.Lock()
				won++
				mu.Unlock()
			case !errors.Is(err, ErrLeaseHeld):
				t.Errorf("claim: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d claims won, want 1", won)
	}
}

// newStoreWith connects to the database *db (a new one of the test's own
// when empty) with o, as another process of the service would.
func newStoreWith(t *testing.T, db *string, o Options) *Store {
	t.Helper()
	if *db == "" {
		*db = testenv.MongoDatabase(t)
	}
	s, err := Connect(testenv.MongoURI(t), *db, o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// Data written before the unique keys existed may break them: normalize
// gives a repeated display id the next number and ends a repeated active
// grant (each with a new version, as the value changes), after which the
// indexes build.
func TestNormalizeRepairsWhatTheUniqueKeysRefuse(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	user, now := bson.NewObjectID(), time.Now().UTC()
	t1, t2, t3 := bson.NewObjectID(), bson.NewObjectID(), bson.NewObjectID()
	insertRaw(t, s, CollTasks,
		bson.D{{Key: "_id", Value: t1}, {Key: "displayId", Value: "#1"}, {Key: "title", Value: "a"}, {Key: "version", Value: int64(3)}},
		bson.D{{Key: "_id", Value: t2}, {Key: "displayId", Value: "#1"}, {Key: "title", Value: "b"}, {Key: "version", Value: int64(2)}},
		bson.D{{Key: "_id", Value: t3}, {Key: "displayId", Value: "#2"}, {Key: "title", Value: "c"}})
	insertRaw(t, s, CollCounters, bson.D{{Key: "_id", Value: TaskCounterID}, {Key: "seq", Value: int64(2)}})
	r1, r2 := bson.NewObjectID(), bson.NewObjectID()
	grant := func(id bson.ObjectID) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: user.Hex()}, {Key: "role_name", Value: "admin"},
			{Key: "scope", Value: "GLOBAL"}, {Key: "is_active", Value: true}, {Key: "created_at", Value: now}}
	}
	insertRaw(t, s, CollUserRoles, grant(r1), grant(r2))
	if err := s.EnsureIndexes(ctx); err == nil {
		t.Fatal("the unique indexes built over duplicates")
	}
	for _, coll := range []string{CollTasks, CollUserRoles} {
		res, err := s.Normalize(ctx, coll, nil)
		if err != nil || len(res.Failed) > 0 {
			t.Fatalf("normalize %s: %+v, %v", coll, res, err)
		}
	}
	var tasks []struct {
		ID        bson.ObjectID `bson:"_id"`
		DisplayID string        `bson:"displayId"`
		Version   int64         `bson:"version"`
	}
	cur, err := s.coll(CollTasks).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil || cur.All(ctx, &tasks) != nil {
		t.Fatal(err)
	}
	if tasks[0].DisplayID != "#1" || tasks[0].Version != 3 || tasks[1].DisplayID != "#3" || tasks[1].Version != 3 ||
		tasks[2].DisplayID != "#2" || tasks[2].Version != 1 {
		t.Fatalf("tasks after normalize: %+v; want #1 v3, #3 (renumbered, v3), #2 v1", tasks)
	}
	var roles []userRoleDoc
	cur, err = s.coll(CollUserRoles).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil || cur.All(ctx, &roles) != nil {
		t.Fatal(err)
	}
	if !roles[0].IsActive || roles[0].ActiveKey == "" || roles[1].IsActive || roles[1].ActiveKey != "" {
		t.Fatalf("grants after normalize: %+v; want the first active and keyed, the second ended", roles)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatalf("indexes after normalize: %v", err)
	}
	if res, err := s.Normalize(ctx, CollTasks, nil); err != nil || res.Changed != 0 {
		t.Fatalf("second normalize: %+v, %v; want nothing to change", res, err)
	}
}

// The intent counts health and the metrics ask for come from a grouping
// query and one lookup of the oldest pending intent.
func TestTallyIntents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	old := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	intent := func(coll, state string, created time.Time) Intent {
		in := Intent{ID: bson.NewObjectID(), Token: "t", Coll: coll, DocID: NewID(), State: state, CreatedAt: created,
			NextAttemptAt: created}
		if state == IntentFailed {
			in.Attempts = 3
		}
		return in
	}
	if err := s.InsertIntents(ctx, []Intent{
		intent(CollTasks, IntentPending, time.Now().UTC()), intent(CollTasks, IntentPending, old),
		intent(CollTasks, IntentFailed, old.Add(-time.Hour)), intent(CollLabels, IntentFailed, time.Now().UTC()),
		intent(CollUsers, IntentPending, time.Now().UTC()),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.TallyIntents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pending[CollTasks] != 2 || got.Pending[CollUsers] != 1 || got.Failed[CollTasks] != 1 || got.Failed[CollLabels] != 1 ||
		len(got.Pending) != 2 || len(got.Failed) != 2 || !got.OldestPending.Equal(old) {
		t.Fatalf("tally %+v; want tasks 2 and users 1 pending, tasks and labels 1 failed each, oldest pending %v", got, old)
	}
	if n, err := s.SumAttempts(ctx); err != nil || n != 6 {
		t.Fatalf("SumAttempts: got %d, %v; want 6 (two FAILED intents of 3 attempts)", n, err)
	}
	empty, err := newStore(t).TallyIntents(ctx)
	if err != nil || len(empty.Pending)+len(empty.Failed) != 0 || !empty.OldestPending.IsZero() {
		t.Fatalf("tally of no intents: %+v, %v", empty, err)
	}
}

package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrDuplicate is returned when a write breaks a unique index.
var ErrDuplicate = errors.New("mongo: duplicate")

// ErrStale is returned when a document is no longer at the version a change
// was made from: another write came between the read and this one, or the
// document is gone. The caller reads again and decides again.
var ErrStale = errors.New("mongo: changed since it was read")

// insert writes a new document; its version must already be 1.
func (s *Store) insert(ctx context.Context, coll string, doc any) error {
	if err := s.fence(); err != nil {
		return err
	}
	_, err := s.coll(coll).InsertOne(ctx, doc)
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("%w: %s: %w", ErrDuplicate, coll, err)
	}
	if err != nil {
		return fmt.Errorf("mongo: insert into %s: %w", coll, err)
	}
	return nil
}

// patch writes the fields that differ between the documents before and
// after a change, and bumps the version, in one atomic update; out receives
// the document as stored afterwards. The update applies only while the
// document is still at before's version (optimistic concurrency): a change
// is decided on what was read, so it must not land on anything else, and
// no two writes can leave the same version. A miss is ErrStale. Writing only
// what changed leaves fields the service does not model untouched.
func (s *Store) patch(ctx context.Context, coll string, id bson.ObjectID, before, after, out any) (changed bool, err error) {
	set, unset, version, err := diff(before, after)
	if err != nil {
		return false, err
	}
	if len(set) == 0 && len(unset) == 0 {
		return false, nil
	}
	unlock, err := s.serialize(coll + ":" + id.Hex())
	if err != nil {
		return false, err
	}
	defer unlock()
	filter := bson.D{{Key: "_id", Value: id}, atVersion(version)}
	if !s.atomicUpdates.Load() {
		// On FerretDB this process is the only writer (the lease) and
		// holds the document's stripe: the version is checked by a read,
		// and the update finds the document by _id alone. FerretDB uses
		// its index only for a filter that is exactly {_id: value} (on
		// SQLite; any other filter scans the collection), so the version
		// in the filter made every update of a big collection a scan.
		if err := s.atVersionNow(ctx, coll, id, version); err != nil {
			return false, err
		}
		filter = bson.D{{Key: "_id", Value: id}}
	}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	err = s.coll(coll).FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(out)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, fmt.Errorf("%w: %s %s at version %d", ErrStale, coll, id.Hex(), version)
	case mongo.IsDuplicateKeyError(err):
		return false, fmt.Errorf("%w: %s: %w", ErrDuplicate, coll, err)
	case err != nil:
		return false, fmt.Errorf("mongo: update %s: %w", coll, err)
	}
	return true, nil
}

// atVersionNow is ErrStale unless the document is at version v: the
// check of patch's filter, made by a read where the filter cannot hold it.
func (s *Store) atVersionNow(ctx context.Context, coll string, id bson.ObjectID, v int64) error {
	var cur struct {
		Version int64 `bson:"version"` // absent: 0, a document of the original service
	}
	err := s.coll(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&cur)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%w: %s %s is gone", ErrStale, coll, id.Hex())
	case err != nil:
		return fmt.Errorf("mongo: read %s version: %w", coll, err)
	case cur.Version != v:
		return fmt.Errorf("%w: %s %s at version %d, not %d", ErrStale, coll, id.Hex(), cur.Version, v)
	}
	return nil
}

// atVersion matches a document at version v. Documents the original
// service wrote have no version field: they are version 0.
func atVersion(v int64) bson.E {
	if v == 0 {
		return bson.E{Key: "version", Value: bson.D{{Key: "$in", Value: bson.A{int64(0), nil}}}}
	}
	return bson.E{Key: "version", Value: v}
}

// diff lists the top-level fields of after whose encoding differs from
// before's (to $set), and the fields after omits that before has (to
// $unset: omitted fields are the sparse-index keys such as active_task_id),
// and before's version. _id and version are never part of the change.
func diff(before, after any) (set, unset bson.D, version int64, err error) {
	b, err := bson.Marshal(before)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mongo: encode: %w", err)
	}
	a, err := bson.Marshal(after)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mongo: encode: %w", err)
	}
	if v, err := bson.Raw(b).LookupErr("version"); err == nil {
		version, _ = v.AsInt64OK()
	}
	bElems, err := bson.Raw(b).Elements()
	if err != nil {
		return nil, nil, 0, err
	}
	old := make(map[string]bson.RawValue, len(bElems))
	for _, e := range bElems {
		old[e.Key()] = e.Value()
	}
	aElems, err := bson.Raw(a).Elements()
	if err != nil {
		return nil, nil, 0, err
	}
	seen := map[string]bool{}
	for _, e := range aElems {
		k, v := e.Key(), e.Value()
		seen[k] = true
		if k == "_id" || k == "version" {
			continue
		}
		if o, ok := old[k]; ok && o.Type == v.Type && bytes.Equal(o.Value, v.Value) {
			continue
		}
		set = append(set, bson.E{Key: k, Value: v})
	}
	for _, e := range bElems { // in document order, so updates are deterministic
		if k := e.Key(); !seen[k] && k != "_id" && k != "version" {
			unset = append(unset, bson.E{Key: k, Value: ""})
		}
	}
	return set, unset, version, nil
}

// serialize holds this process's lock of one document (key is collection
// and id) when the primary is FerretDB, which does not make an update
// atomic: it reads the matching document, then writes it back by _id, so
// two concurrent updates of one document can both match and one is lost.
// Serialising them in-process makes each filter-then-write atomic for this
// process, and the single-writer lease (lease.go) keeps every other
// process away. On MongoDB an update is atomic and nothing is held; until
// Identify has told which server this is, updates are serialised.
//
// It is also where updates are fenced: a process that needs the
// single-writer lease and does not hold it writes nothing (ErrNoLease).
// The fence is checked once the lock is held, right before the write, so
// a write that waited its turn does not land after the lease ran out.
func (s *Store) serialize(key string) (unlock func(), err error) {
	if s.atomicUpdates.Load() {
		return func() {}, nil
	}
	unlock = s.locks.lock(key)
	if err := s.fence(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// stripes is a fixed set of mutexes picked by key hash: enough to keep
// updates of one document in order without a map of locks that grows.
type stripes [256]sync.Mutex

func (st *stripes) lock(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &st[h.Sum32()%uint32(len(st))]
	m.Lock()
	return m.Unlock
}

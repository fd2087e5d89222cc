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

// insert writes a new document; its version must already be 1.
func (s *Store) insert(ctx context.Context, coll string, doc any) error {
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
// the document as stored afterwards. Writing only what changed keeps two
// concurrent changes of different fields from undoing each other, and leaves
// fields the service does not model untouched.
func (s *Store) patch(ctx context.Context, coll string, id bson.ObjectID, before, after, out any) (changed bool, err error) {
	unlock := s.locks.lock(coll + ":" + id.Hex())
	defer unlock()
	set, unset, err := diff(before, after)
	if err != nil {
		return false, err
	}
	if len(set) == 0 && len(unset) == 0 {
		return false, nil
	}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	err = s.coll(coll).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(out)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, fmt.Errorf("%w: %s %s", ErrNotFound, coll, id.Hex())
	case mongo.IsDuplicateKeyError(err):
		return false, fmt.Errorf("%w: %s: %w", ErrDuplicate, coll, err)
	case err != nil:
		return false, fmt.Errorf("mongo: update %s: %w", coll, err)
	}
	return true, nil
}

// diff lists the top-level fields of after whose encoding differs from
// before's (to $set), and the fields after omits that before has (to
// $unset: omitted fields are the sparse-index keys such as active_task_id).
// _id and version are never part of it.
func diff(before, after any) (set, unset bson.D, err error) {
	b, err := bson.Marshal(before)
	if err != nil {
		return nil, nil, fmt.Errorf("mongo: encode: %w", err)
	}
	a, err := bson.Marshal(after)
	if err != nil {
		return nil, nil, fmt.Errorf("mongo: encode: %w", err)
	}
	bElems, err := bson.Raw(b).Elements()
	if err != nil {
		return nil, nil, err
	}
	old := make(map[string]bson.RawValue, len(bElems))
	for _, e := range bElems {
		old[e.Key()] = e.Value()
	}
	aElems, err := bson.Raw(a).Elements()
	if err != nil {
		return nil, nil, err
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
	return set, unset, nil
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

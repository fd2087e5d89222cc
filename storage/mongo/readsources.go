package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollReadSources holds, per read family, which store serves its reads and
// what share of them is shadowed on the other: set by an admin at run time,
// read by every instance every few seconds.
const CollReadSources = "read_sources"

// ReadSource is one family's setting.
type ReadSource struct {
	Family        string    `bson:"_id"`
	Source        string    `bson:"source"`
	ShadowPercent int       `bson:"shadow_percent"`
	UpdatedAt     time.Time `bson:"updated_at"`
	UpdatedBy     string    `bson:"updated_by"`
}

// ReadSources returns the families that have a setting.
func (s *Store) ReadSources(ctx context.Context) ([]ReadSource, error) {
	cur, err := s.coll(CollReadSources).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongo: read sources: %w", err)
	}
	var out []ReadSource
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("mongo: read sources: %w", err)
	}
	return out, nil
}

// SetReadSource stores a family's setting and returns the one it replaced
// (found false when there was none).
func (s *Store) SetReadSource(ctx context.Context, r ReadSource) (prev ReadSource, found bool, err error) {
	err = s.coll(CollReadSources).FindOneAndReplace(ctx, bson.D{{Key: "_id", Value: r.Family}}, r,
		options.FindOneAndReplace().SetUpsert(true).SetReturnDocument(options.Before)).Decode(&prev)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ReadSource{}, false, nil
	}
	if err != nil {
		return ReadSource{}, false, fmt.Errorf("mongo: set read source %s: %w", r.Family, err)
	}
	return prev, true, nil
}

// IntentsFor reports whether the mirror has intents (pending or failed)
// for documents of these collections; with ids, only for those documents.
// One round trip that stops at the first match: the intents collection is
// small, and empty when the mirror is caught up.
func (s *Store) IntentsFor(ctx context.Context, colls, ids []string) (bool, error) {
	f := bson.D{{Key: "coll", Value: bson.D{{Key: "$in", Value: colls}}}}
	if ids != nil {
		f = append(f, bson.E{Key: "doc_id", Value: bson.D{{Key: "$in", Value: ids}}})
	}
	err := s.coll(CollMirrorIntents).FindOne(ctx, f, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: mirror intents: %w", err)
	}
	return true, nil
}

// Unsettled reports whether the mirror has an intent (pending or failed)
// for one of ids in colls, or a pending one for any document of colls: a
// write to them is on its way. One round trip, stopping at the first match.
func (s *Store) Unsettled(ctx context.Context, colls, ids []string) (bool, error) {
	f := bson.D{{Key: "coll", Value: bson.D{{Key: "$in", Value: colls}}}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "state", Value: IntentPending}},
		bson.D{{Key: "doc_id", Value: bson.D{{Key: "$in", Value: ids}}}},
	}}}
	err := s.coll(CollMirrorIntents).FindOne(ctx, f, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo: mirror intents: %w", err)
	}
	return true, nil
}

// IntentCollections returns the collections that have intents (pending or
// failed), reading at most limit of them: one round trip answers every
// read family of a request. complete is false when there were more (a
// backlog, or failures parked for good): a collection not among colls may
// have some too, and the caller asks about it on its own (IntentsFor).
// (FerretDB refuses distinct with the deadline the driver sends, so the
// set is made here; the collection is small, empty when caught up.)
func (s *Store) IntentCollections(ctx context.Context, limit int) (colls []string, complete bool, err error) {
	cur, err := s.coll(CollMirrorIntents).Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "coll", Value: 1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, false, fmt.Errorf("mongo: mirror intents: %w", err)
	}
	var docs []struct {
		Coll string `bson:"coll"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, false, fmt.Errorf("mongo: mirror intents: %w", err)
	}
	for _, d := range docs {
		if !slices.Contains(colls, d.Coll) {
			colls = append(colls, d.Coll)
		}
	}
	return colls, len(docs) <= limit, nil
}

// CollReadMismatches keeps the newest shadow read mismatches, for admins
// on any instance.
const CollReadMismatches = "read_mismatches"

// ReadMismatch is one shadow read whose stores answered differently.
type ReadMismatch struct {
	ID     bson.ObjectID `bson:"_id"`
	Family string        `bson:"family"`
	// Read names the read and its arguments.
	Read string   `bson:"read"`
	IDs  []string `bson:"ids"`
	// Fields say, per document, which fields differ.
	Fields []string  `bson:"fields"`
	At     time.Time `bson:"at"`
}

// InsertReadMismatch keeps a mismatch and drops all but the newest keep.
func (s *Store) InsertReadMismatch(ctx context.Context, m ReadMismatch, keep int) error {
	if m.ID.IsZero() {
		m.ID = bson.NewObjectID()
	}
	if _, err := s.coll(CollReadMismatches).InsertOne(ctx, m); err != nil {
		return fmt.Errorf("mongo: keep read mismatch: %w", err)
	}
	var oldest struct {
		ID bson.ObjectID `bson:"_id"`
	}
	err := s.coll(CollReadMismatches).FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).
		SetSkip(int64(keep)).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&oldest)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err == nil {
		_, err = s.coll(CollReadMismatches).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lte", Value: oldest.ID}}}})
	}
	if err != nil {
		return fmt.Errorf("mongo: trim read mismatches: %w", err)
	}
	return nil
}

// ReadMismatches returns up to limit mismatches, newest first, before
// the one with id before (all when zero).
func (s *Store) ReadMismatches(ctx context.Context, before bson.ObjectID, limit int) ([]ReadMismatch, error) {
	f := bson.D{}
	if !before.IsZero() {
		f = bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}}}
	}
	cur, err := s.coll(CollReadMismatches).Find(ctx, f, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: read mismatches: %w", err)
	}
	var out []ReadMismatch
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("mongo: read mismatches: %w", err)
	}
	return out, nil
}

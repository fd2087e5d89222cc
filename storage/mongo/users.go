package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// UpsertUserByGoogleID creates the user signing in with Google, or refreshes
// the profile of a returning one, in one atomic upsert keyed on google_id
// (unique index): a returning user never becomes a duplicate.
func (s *Store) UpsertUserByGoogleID(ctx context.Context, newID, googleID, email, name, picture string, now time.Time) (models.User, error) {
	filter := bson.D{{Key: "google_id", Value: googleID}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "email_id", Value: email}, {Key: "name", Value: name},
			{Key: "picture", Value: picture}, {Key: "updated_at", Value: now}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: oid(newID)}, {Key: "created_at", Value: now}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
	}
	return s.upsertUser(ctx, "google:"+googleID, filter, update)
}

// UpsertUserByEmail signs in by email alone (development login): an existing
// user keeps their profile; a new one is created with name.
func (s *Store) UpsertUserByEmail(ctx context.Context, newID, email, name string, now time.Time) (models.User, error) {
	filter := bson.D{{Key: "email_id", Value: email}}
	update := bson.D{
		{Key: "$setOnInsert", Value: bson.D{{Key: "_id", Value: oid(newID)}, {Key: "name", Value: name},
			{Key: "picture", Value: ""}, {Key: "created_at", Value: now}, {Key: "updated_at", Value: nil},
			{Key: "version", Value: int64(1)}}},
	}
	return s.upsertUser(ctx, "email:"+email, filter, update)
}

// FindUser returns the user matching field = value (google_id or email_id),
// or ErrNotFound.
func (s *Store) FindUser(ctx context.Context, field, value string) (models.User, error) {
	var d userDoc
	err := s.coll(CollUsers).FindOne(ctx, bson.D{{Key: field, Value: value}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return models.User{}, fmt.Errorf("%w: user", ErrNotFound)
	}
	if err != nil {
		return models.User{}, fmt.Errorf("mongo: find user: %w", err)
	}
	return d.model(), nil
}

// upsertUser runs one sign-in's upsert; key names the user by what the
// filter matches. Two first sign-ins of one user in this process are
// serialised on any server: email_id has no unique index (the original's
// data may repeat an address), so two upserts by email could both insert.
// Two by google_id that both insert meet its unique index; the second try
// then finds the user.
func (s *Store) upsertUser(ctx context.Context, key string, filter, update bson.D) (models.User, error) {
	if err := s.fence(); err != nil {
		return models.User{}, err
	}
	unlock := s.locks.lock(CollUsers + ":" + key)
	defer unlock()
	var d userDoc
	var err error
	for attempt := 1; ; attempt++ {
		err = s.coll(CollUsers).FindOneAndUpdate(ctx, filter, update,
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
		if !mongo.IsDuplicateKeyError(err) || attempt == 2 {
			break
		}
	}
	if err != nil {
		return models.User{}, fmt.Errorf("mongo: upsert user: %w", err)
	}
	return d.model(), nil
}

// UsersByIDs returns the users with the given ids, in no particular order;
// ids that match nothing are left out.
func (s *Store) UsersByIDs(ctx context.Context, ids []string) ([]models.User, error) {
	var docs []userDoc
	if err := s.findByIDs(ctx, CollUsers, ids, &docs); err != nil {
		return nil, fmt.Errorf("mongo: users by id: %w", err)
	}
	out := make([]models.User, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// idsFilter matches the documents with these ids. One id is matched by
// equality: FerretDB uses its _id index for {_id: value} and scans the
// collection for $in (MongoDB uses the index for both).
func idsFilter(ids bson.A) bson.D {
	if len(ids) == 1 {
		return bson.D{{Key: "_id", Value: ids[0]}}
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
}

// findByIDs runs one query for ids. Invalid ids match nothing rather than
// failing the batch: one bad reference must not hide the others.
func (s *Store) findByIDs(ctx context.Context, coll string, ids []string, into any) error {
	in := oids(ids)
	if len(in) == 0 {
		return nil // into keeps its empty value: no round trip for nothing
	}
	cur, err := s.coll(coll).Find(ctx, idsFilter(in))
	if err != nil {
		return err
	}
	return cur.All(ctx, into)
}

// UserQuery searches users by a literal, case-insensitive substring of the
// name, or an exact email; In/NotIn split teammates from the others.
type UserQuery struct {
	Search    string
	In        []string
	NotIn     []string
	AfterName string
	AfterID   string
	Limit     int
}

func (q UserQuery) filter() bson.D {
	f := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "name", Value: bson.Regex{Pattern: regexp.QuoteMeta(q.Search), Options: "i"}}},
		bson.D{{Key: "email_id", Value: strings.ToLower(q.Search)}},
	}}}
	if q.In != nil {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: oids(q.In)}}})
	}
	if len(q.NotIn) > 0 {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$nin", Value: oids(q.NotIn)}}})
	}
	return f
}

// SearchUsers lists users in (name, _id) order after the position.
func (s *Store) SearchUsers(ctx context.Context, q UserQuery) ([]models.User, error) {
	if q.In != nil && len(q.In) == 0 {
		return nil, nil
	}
	f := q.filter()
	if q.AfterID != "" {
		id, err := objectID(q.AfterID)
		if err != nil {
			return nil, err
		}
		f = bson.D{{Key: "$and", Value: bson.A{f, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: bson.D{{Key: "$gt", Value: q.AfterName}}}},
			bson.D{{Key: "name", Value: q.AfterName}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}},
		}}}}}}
	}
	cur, err := s.coll(CollUsers).Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: search users: %w", err)
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: search users: %w", err)
	}
	out := make([]models.User, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// CountUsers counts the users q matches.
func (s *Store) CountUsers(ctx context.Context, q UserQuery) (int64, error) {
	if q.In != nil && len(q.In) == 0 {
		return 0, nil
	}
	n, err := s.coll(CollUsers).CountDocuments(ctx, q.filter())
	if err != nil {
		return 0, fmt.Errorf("mongo: count users: %w", err)
	}
	return n, nil
}

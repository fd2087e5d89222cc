package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollRefreshTokens holds the refresh tokens we issued. It is ours (the
// original had no server-side tokens) and is not mirrored: it is security
// state with a short life, not product data.
const CollRefreshTokens = "refresh_tokens"

// ErrTokenReused is returned when a refresh token that was already used or
// revoked is presented again.
var ErrTokenReused = errors.New("mongo: refresh token reused")

// RefreshToken is the server-side record of one refresh token.
type RefreshToken struct {
	ID        string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	UsedAt    time.Time `bson:"used_at,omitempty"`
	RevokedAt time.Time `bson:"revoked_at,omitempty"`
}

// SaveRefreshToken records a newly issued refresh token.
func (s *Store) SaveRefreshToken(ctx context.Context, t RefreshToken) error {
	if _, err := s.coll(CollRefreshTokens).InsertOne(ctx, t); err != nil {
		return fmt.Errorf("mongo: save refresh token: %w", err)
	}
	return nil
}

// UseRefreshToken marks the token used, atomically, and returns it. Only
// the first use of an unrevoked token succeeds; a second use (a replay, or a
// race between two tabs) gets ErrTokenReused, and an unknown id ErrNotFound.
func (s *Store) UseRefreshToken(ctx context.Context, id string, now time.Time) (RefreshToken, error) {
	unlock, err := s.serialize(CollRefreshTokens + ":" + id)
	if err != nil {
		return RefreshToken{}, err
	}
	defer unlock()
	var t RefreshToken
	filter := bson.D{{Key: "_id", Value: id}, {Key: "used_at", Value: nil}, {Key: "revoked_at", Value: nil}}
	err = s.coll(CollRefreshTokens).FindOneAndUpdate(ctx, filter,
		bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: now}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return RefreshToken{}, fmt.Errorf("mongo: use refresh token: %w", err)
	}
	err = s.coll(CollRefreshTokens).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return RefreshToken{}, fmt.Errorf("%w: refresh token", ErrNotFound)
	case err != nil:
		return RefreshToken{}, fmt.Errorf("mongo: use refresh token: %w", err)
	}
	return t, ErrTokenReused
}

// RevokeRefreshFamily revokes every token of a family that is not revoked yet.
func (s *Store) RevokeRefreshFamily(ctx context.Context, family string, now time.Time) (int64, error) {
	r, err := s.coll(CollRefreshTokens).UpdateMany(ctx,
		bson.D{{Key: "family", Value: family}, {Key: "revoked_at", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: revoke refresh family: %w", err)
	}
	return r.ModifiedCount, nil
}

// PurgeRefreshTokens deletes tokens that expired before cutoff. FerretDB has
// no TTL indexes, so the server calls this now and then.
func (s *Store) PurgeRefreshTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	r, err := s.coll(CollRefreshTokens).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: purge refresh tokens: %w", err)
	}
	return r.DeletedCount, nil
}

package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MirroredCollections are the collections the PostgreSQL mirror copies.
var MirroredCollections = []string{CollUsers, CollTasks, CollTaskDetails, CollTeams, CollUserTeamDetails, CollLabels,
	CollRoles, CollUserRoles, CollWatchlist, CollAuditLogs, CollTeamCreationCode}

// document is how a mirrored collection's documents are read and written:
// decode reads a raw document as its models value, through the same
// document struct as every other read; reencode rewrites a raw document
// canonically (Normalize); encode turns a models value into its document.
type document struct {
	decode   func(bson.Raw) (any, error)
	reencode func(bson.Raw) ([]byte, error)
	encode   func(any) any
}

func documentOf[D interface{ model() M }, M any](of func(M) D) document {
	return document{
		decode: func(raw bson.Raw) (any, error) {
			var d D
			if err := bson.Unmarshal(raw, &d); err != nil {
				return nil, err
			}
			return d.model(), nil
		},
		reencode: func(raw bson.Raw) ([]byte, error) {
			var d D
			if err := bson.Unmarshal(raw, &d); err != nil {
				return nil, err
			}
			return bson.Marshal(d)
		},
		encode: func(m any) any { return of(m.(M)) },
	}
}

// decoder is the decode of a mirrored collection.
func decoder(coll string) (func(bson.Raw) (any, error), bool) {
	d, ok := documents[coll]
	return d.decode, ok
}

// DocsByIDs re-reads documents of a mirrored collection and returns them as
// models values keyed by id; ids with no document are absent (deleted).
func (s *Store) DocsByIDs(ctx context.Context, coll string, ids []string) (map[string]any, error) {
	dec, ok := decoder(coll)
	if !ok {
		return nil, fmt.Errorf("mongo: %q is not a mirrored collection", coll)
	}
	out := map[string]any{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.coll(coll).Find(ctx, idsFilter(oids(ids)))
	if err != nil {
		return nil, fmt.Errorf("mongo: read %s: %w", coll, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		idv, ok := cur.Current.Lookup("_id").ObjectIDOK()
		if !ok {
			continue
		}
		m, err := dec(cur.Current)
		if err != nil {
			return nil, fmt.Errorf("mongo: decode %s %s: %w", coll, idv.Hex(), err)
		}
		out[idv.Hex()] = m
	}
	return out, cur.Err()
}

// DocsPage reads up to limit documents of coll with _id after afterID (all
// from the start when empty), in _id order: the backfill's and verify's
// chunks. It returns the models values and their ids in order.
func (s *Store) DocsPage(ctx context.Context, coll, afterID string, limit int) ([]string, map[string]any, error) {
	dec, ok := decoder(coll)
	if !ok {
		return nil, nil, fmt.Errorf("mongo: %q is not a mirrored collection", coll)
	}
	filter := bson.D{}
	if afterID != "" {
		id, err := objectID(afterID)
		if err != nil {
			return nil, nil, err
		}
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}}
	}
	cur, err := s.coll(coll).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, nil, fmt.Errorf("mongo: read %s: %w", coll, err)
	}
	var ids []string
	out := map[string]any{}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		raw := cur.Current
		idv, ok := raw.Lookup("_id").ObjectIDOK()
		if !ok {
			continue // not ours to mirror: the original only used ObjectIds
		}
		m, err := dec(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("mongo: decode %s %s: %w", coll, idv.Hex(), err)
		}
		ids = append(ids, idv.Hex())
		out[idv.Hex()] = m
	}
	return ids, out, cur.Err()
}

// CountDocs counts the documents of a collection.
func (s *Store) CountDocs(ctx context.Context, coll string) (int64, error) {
	n, err := s.coll(coll).CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("mongo: count %s: %w", coll, err)
	}
	return n, nil
}

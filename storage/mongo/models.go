package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// MirroredCollections are the collections the PostgreSQL mirror copies.
var MirroredCollections = []string{CollUsers, CollTasks, CollTaskDetails, CollTeams, CollUserTeamDetails, CollLabels,
	CollRoles, CollUserRoles, CollWatchlist, CollAuditLogs, CollTeamCreationCode}

// decoders read a raw document of each mirrored collection as its models
// value, through the same document structs as every other read.
var decoders = map[string]func(bson.Raw) (any, error){
	CollUsers:            decode[userDoc, models.User],
	CollTasks:            decode[taskDoc, models.Task],
	CollTaskDetails:      decode[assignmentDoc, models.TaskAssignment],
	CollTeams:            decode[teamDoc, models.Team],
	CollUserTeamDetails:  decode[membershipDoc, models.TeamMembership],
	CollLabels:           decode[labelDoc, models.Label],
	CollRoles:            decode[roleDoc, models.Role],
	CollUserRoles:        decode[userRoleDoc, models.UserRole],
	CollWatchlist:        decode[watchlistDoc, models.WatchlistEntry],
	CollAuditLogs:        decode[auditLogDoc, models.AuditLog],
	CollTeamCreationCode: decode[creationCodeDoc, models.TeamCreationInviteCode],
}

func decode[D interface{ model() M }, M any](raw bson.Raw) (any, error) {
	var d D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return d.model(), nil
}

// DocsByIDs re-reads documents of a mirrored collection and returns them as
// models values keyed by id; ids with no document are absent (deleted).
func (s *Store) DocsByIDs(ctx context.Context, coll string, ids []string) (map[string]any, error) {
	dec, ok := decoders[coll]
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
	dec, ok := decoders[coll]
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

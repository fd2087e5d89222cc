package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// canonical re-encodes a raw document of each collection through its
// document struct: the decoders accept the original's string ids and ISO
// dates, the encoders write ObjectIds and Dates.
var canonical = map[string]func(bson.Raw) ([]byte, error){
	CollUsers:            reencode[userDoc],
	CollTasks:            reencode[taskDoc],
	CollTaskDetails:      reencode[assignmentDoc],
	CollTeams:            reencode[teamDoc],
	CollUserTeamDetails:  reencode[membershipDoc],
	CollLabels:           reencode[labelDoc],
	CollRoles:            reencode[roleDoc],
	CollUserRoles:        reencode[userRoleDoc],
	CollWatchlist:        reencode[watchlistDoc],
	CollAuditLogs:        reencode[auditLogDoc],
	CollTeamCreationCode: reencode[creationCodeDoc],
}

func reencode[D any](raw bson.Raw) ([]byte, error) {
	var d D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return bson.Marshal(d)
}

// NormalizeResult counts what Normalize did to one collection.
type NormalizeResult struct {
	Scanned, Changed int
	// Failed lists documents that could not be rewritten, with why (a
	// duplicate the unique indexes refuse, an undecodable value).
	Failed []string
}

// Normalize rewrites the documents of coll that the original service wrote
// with string references or ISO-string dates into native ObjectIds and
// Dates, gives unversioned documents version 1 (so the mirror's guard lets
// them replace rows of the original mirror), and keys active assignments
// for the one-active-per-task index. Only fields that change are set, and
// fields the service does not know are left alone, so a second run changes
// nothing.
func (s *Store) Normalize(ctx context.Context, coll string, progress func(done, total int)) (NormalizeResult, error) {
	var res NormalizeResult
	enc, ok := canonical[coll]
	if !ok {
		return res, fmt.Errorf("mongo: %q is not a mirrored collection", coll)
	}
	total, err := s.CountDocs(ctx, coll)
	if err != nil {
		return res, err
	}
	cur, err := s.coll(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return res, fmt.Errorf("mongo: normalize %s: %w", coll, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		raw := append(bson.Raw(nil), cur.Current...)
		res.Scanned++
		id := raw.Lookup("_id")
		set, err := normalizedFields(coll, raw, enc)
		if err == nil && len(set) > 0 {
			_, err = s.coll(coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
			if err == nil {
				res.Changed++
			}
		}
		if err != nil {
			if !mongo.IsDuplicateKeyError(err) && ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Failed = append(res.Failed, fmt.Sprintf("%s %v: %v", coll, id, err))
		}
		if progress != nil && (res.Scanned%100 == 0 || res.Scanned == int(total)) {
			progress(res.Scanned, int(total))
		}
	}
	return res, cur.Err()
}

// normalizedFields lists the fields of raw whose canonical encoding differs.
func normalizedFields(coll string, raw bson.Raw, enc func(bson.Raw) ([]byte, error)) (bson.D, error) {
	canon, err := enc(raw)
	if err != nil {
		return nil, err
	}
	have, err := raw.Elements()
	if err != nil {
		return nil, err
	}
	var set bson.D
	for _, e := range have {
		k := e.Key()
		if k == "_id" || k == "version" {
			continue
		}
		c, err := bson.Raw(canon).LookupErr(k)
		if err != nil {
			continue // a field we do not model: left as it is
		}
		v := e.Value()
		if v.Type != c.Type || string(v.Value) != string(c.Value) {
			set = append(set, bson.E{Key: k, Value: c})
		}
	}
	if _, err := raw.LookupErr("version"); err != nil {
		set = append(set, bson.E{Key: "version", Value: int64(1)})
	}
	if coll == CollTaskDetails {
		active, _ := raw.Lookup("is_active").BooleanOK()
		if _, err := raw.LookupErr("active_task_id"); active && err != nil {
			if t, err := bson.Raw(canon).LookupErr("task_id"); err == nil {
				set = append(set, bson.E{Key: "active_task_id", Value: t})
			}
		}
	}
	return set, nil
}

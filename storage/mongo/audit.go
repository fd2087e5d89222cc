package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// InsertAuditLog records an action.
func (s *Store) InsertAuditLog(ctx context.Context, a models.AuditLog) error {
	return s.insert(ctx, CollAuditLogs, auditLogDocOf(a))
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	Action  string
	ActorID string
	TeamID  string
	TaskID  string
	Since   *time.Time
	Until   *time.Time

	AfterTime time.Time
	AfterID   string
	Limit     int
}

func (q AuditQuery) filter() bson.D {
	f := bson.D{}
	if q.Action != "" {
		f = append(f, bson.E{Key: "action", Value: q.Action})
	}
	if q.ActorID != "" {
		f = append(f, bson.E{Key: "performed_by", Value: bson.D{{Key: "$in", Value: refIn([]string{q.ActorID})}}})
	}
	if q.TeamID != "" {
		f = append(f, bson.E{Key: "team_id", Value: bson.D{{Key: "$in", Value: refIn([]string{q.TeamID})}}})
	}
	if q.TaskID != "" {
		f = append(f, bson.E{Key: "task_id", Value: bson.D{{Key: "$in", Value: refIn([]string{q.TaskID})}}})
	}
	if q.Since != nil || q.Until != nil {
		r := bson.D{}
		if q.Since != nil {
			r = append(r, bson.E{Key: "$gte", Value: *q.Since})
		}
		if q.Until != nil {
			r = append(r, bson.E{Key: "$lt", Value: *q.Until})
		}
		f = append(f, bson.E{Key: "timestamp", Value: r})
	}
	return f
}

// ListAuditLogs returns up to q.Limit entries in (timestamp, _id)
// descending order after the keyset position.
func (s *Store) ListAuditLogs(ctx context.Context, q AuditQuery) ([]models.AuditLog, error) {
	f := q.filter()
	if q.AfterID != "" {
		id, err := objectID(q.AfterID)
		if err != nil {
			return nil, err
		}
		f = bson.D{{Key: "$and", Value: bson.A{f, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "timestamp", Value: bson.D{{Key: "$lt", Value: q.AfterTime}}}},
			bson.D{{Key: "timestamp", Value: q.AfterTime}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}}}}}}
	}
	cur, err := s.coll(CollAuditLogs).Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: "timestamp", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: audit logs: %w", err)
	}
	var docs []auditLogDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: audit logs: %w", err)
	}
	out := make([]models.AuditLog, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// CountAuditLogs counts the entries q selects over all pages.
func (s *Store) CountAuditLogs(ctx context.Context, q AuditQuery) (int64, error) {
	n, err := s.coll(CollAuditLogs).CountDocuments(ctx, q.filter())
	if err != nil {
		return 0, fmt.Errorf("mongo: count audit logs: %w", err)
	}
	return n, nil
}

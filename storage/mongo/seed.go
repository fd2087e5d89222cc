package mongo

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// SeedLabel is a label every installation starts with.
type SeedLabel struct{ Name, Color, Description string }

// SeedLabels are the original service's fixed catalogue.
var SeedLabels = []SeedLabel{
	{"Feature", "#22c55e", "New functionality"},
	{"Bug", "#ef4444", "Something is broken"},
	{"Refactoring/Optimization", "#f59e0b", "Code improvement without new behaviour"},
	{"API", "#3b82f6", "Backend interface work"},
	{"UI/UX", "#8b5cf6", "User interface and experience"},
	{"Testing", "#06b6d4", "Tests and quality checks"},
	{"Documentation", "#64748b", "Docs and guides"},
	{"Review", "#ec4899", "Needs a review"},
}

// SeedRole is a role of the catalogue every installation starts with.
type SeedRole struct {
	Name        models.RoleName
	Scope       models.RoleScope
	Description string
}

// SeedRoles are the original's predefined roles.
var SeedRoles = []SeedRole{
	{models.RoleModerator, models.ScopeGlobal, "Global moderator"},
	{models.RoleAdmin, models.ScopeGlobal, "Service administrator: team-creation codes, labels, sync and the audit log"},
	{models.RoleOwner, models.ScopeTeam, "Team owner: full control of the team"},
	{models.RoleAdmin, models.ScopeTeam, "Team admin: manages members and settings"},
	{models.RoleMember, models.ScopeTeam, "Team member"},
}

// TaskCounterID is the counters document that numbers tasks (#1, #2, ...).
const TaskCounterID = "taskDisplayId"

// SeedResult says what a Seed run inserted, so start-up can log it and tests
// can check that a second run inserts nothing.
type SeedResult struct {
	Labels, Roles int
	Counter       bool
}

// Seed inserts the fixed labels, the role catalogue and the task counter when
// they are missing. Each insert is an upsert keyed on the natural key; runs at
// the same time on several instances duplicate nothing only because the unique
// indexes on those keys (labels uniq_name, roles uniq_name_scope) turn the
// losing upserts into duplicate-key errors, so EnsureIndexes must run first.
func (s *Store) Seed(ctx context.Context, now time.Time) (SeedResult, error) {
	var res SeedResult
	for _, l := range SeedLabels {
		// The original matched names case-insensitively; keep that so a
		// database it seeded with other casing gets no second copy.
		filter := bson.D{{Key: "name", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(l.Name) + "$", Options: "i"}}}
		doc := bson.D{
			{Key: "_id", Value: bson.NewObjectID()}, {Key: "name", Value: l.Name}, {Key: "color", Value: l.Color},
			{Key: "description", Value: l.Description}, {Key: "isDeleted", Value: false},
			{Key: "createdAt", Value: now}, {Key: "updatedAt", Value: nil}, {Key: "createdBy", Value: "system"},
			{Key: "updatedBy", Value: nil}, {Key: "version", Value: int64(1)},
		}
		inserted, err := s.upsertSeed(ctx, CollLabels, filter, doc)
		if err != nil {
			return res, fmt.Errorf("mongo: seed label %q: %w", l.Name, err)
		}
		if inserted {
			res.Labels++
		}
	}
	for _, r := range SeedRoles {
		filter := bson.D{{Key: "name", Value: string(r.Name)}, {Key: "scope", Value: string(r.Scope)}}
		doc := bson.D{
			{Key: "_id", Value: bson.NewObjectID()}, {Key: "name", Value: string(r.Name)}, {Key: "description", Value: r.Description},
			{Key: "scope", Value: string(r.Scope)}, {Key: "is_active", Value: true}, {Key: "created_by", Value: "system"},
			{Key: "created_at", Value: now}, {Key: "version", Value: int64(1)},
		}
		inserted, err := s.upsertSeed(ctx, CollRoles, filter, doc)
		if err != nil {
			return res, fmt.Errorf("mongo: seed role %q: %w", r.Name, err)
		}
		if inserted {
			res.Roles++
		}
	}
	inserted, err := s.upsertSeed(ctx, CollCounters, bson.D{{Key: "_id", Value: TaskCounterID}},
		bson.D{{Key: "seq", Value: int64(0)}})
	if err != nil {
		return res, fmt.Errorf("mongo: seed task counter: %w", err)
	}
	res.Counter = inserted
	return res, nil
}

// upsertSeed inserts doc unless filter matches. A duplicate-key error means a
// concurrent seeder won the race, which is as good as an insert by us.
func (s *Store) upsertSeed(ctx context.Context, coll string, filter, doc bson.D) (bool, error) {
	r, err := s.coll(coll).UpdateOne(ctx, filter, bson.D{{Key: "$setOnInsert", Value: doc}},
		options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return r.UpsertedCount > 0, nil
}

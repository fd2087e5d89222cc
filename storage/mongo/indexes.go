package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type indexSpec struct {
	coll   string
	name   string
	keys   bson.D
	unique bool
	sparse bool
}

// indexes enforce the uniqueness the original only hoped for (read, then
// write) and serve the frequent lookups. FerretDB v1 has no partial indexes,
// so "one active assignment per task" uses a sparse key that only the active
// assignment carries, and so does "one active grant of a role"
// (active_key). Every uniqueness the mirror enforces is here too, so the
// mirror never refuses what MongoDB accepted.
var indexes = []indexSpec{
	{CollUsers, "uniq_google_id", bson.D{{Key: "google_id", Value: 1}}, true, true},
	{CollUsers, "email_id", bson.D{{Key: "email_id", Value: 1}}, false, false},
	{CollTeams, "uniq_invite_code", bson.D{{Key: "invite_code", Value: 1}}, true, true},
	{CollWatchlist, "uniq_user_task", bson.D{{Key: "userId", Value: 1}, {Key: "taskId", Value: 1}}, true, false},
	{CollWatchlist, "task", bson.D{{Key: "taskId", Value: 1}}, false, false},
	{CollUserTeamDetails, "uniq_user_team", bson.D{{Key: "user_id", Value: 1}, {Key: "team_id", Value: 1}}, true, false},
	{CollUserTeamDetails, "team", bson.D{{Key: "team_id", Value: 1}}, false, false},
	{CollTaskDetails, "uniq_active_task", bson.D{{Key: "active_task_id", Value: 1}}, true, true},
	{CollTaskDetails, "task", bson.D{{Key: "task_id", Value: 1}}, false, false},
	{CollTaskDetails, "assignee_active", bson.D{{Key: "assignee_id", Value: 1}, {Key: "is_active", Value: 1}}, false, false},
	{CollTaskDetails, "team_active", bson.D{{Key: "team_id", Value: 1}, {Key: "is_active", Value: 1}}, false, false},
	{CollTasks, "uniq_display_id", bson.D{{Key: "displayId", Value: 1}}, true, true},
	{CollTasks, "created_by", bson.D{{Key: "createdBy", Value: 1}}, false, false},
	{CollTasks, "updated_at", bson.D{{Key: "updatedAt", Value: -1}}, false, false},
	{CollLabels, "uniq_name", bson.D{{Key: "name", Value: 1}}, true, false},
	{CollRoles, "uniq_name_scope", bson.D{{Key: "name", Value: 1}, {Key: "scope", Value: 1}}, true, false},
	{CollUserRoles, "user_team", bson.D{{Key: "user_id", Value: 1}, {Key: "team_id", Value: 1}}, false, false},
	{CollUserRoles, "uniq_active_role", bson.D{{Key: "active_key", Value: 1}}, true, true},
	{CollAuditLogs, "team_time", bson.D{{Key: "team_id", Value: 1}, {Key: "timestamp", Value: -1}}, false, false},
	{CollAuditLogs, "task_time", bson.D{{Key: "task_id", Value: 1}, {Key: "timestamp", Value: -1}}, false, false},
	{CollTeamCreationCode, "uniq_code", bson.D{{Key: "code", Value: 1}}, true, false},
	{CollMirrorIntents, "due", bson.D{{Key: "state", Value: 1}, {Key: "next_attempt_at", Value: 1}}, false, false},
	// The worker's claim: due intents of any state, oldest due first.
	{CollMirrorIntents, "next_attempt", bson.D{{Key: "next_attempt_at", Value: 1}}, false, false},
	{CollMirrorIntents, "token", bson.D{{Key: "token", Value: 1}}, false, false},
	{CollMirrorIntents, "doc", bson.D{{Key: "coll", Value: 1}, {Key: "doc_id", Value: 1}}, false, false},
	{CollRefreshTokens, "family", bson.D{{Key: "family", Value: 1}}, false, false},
	{CollRefreshTokens, "expires_at", bson.D{{Key: "expires_at", Value: 1}}, false, false},
}

// EnsureIndexes creates every index that is missing. Creating an existing
// index is a no-op, so it runs at every start-up. An index that cannot be
// built (duplicates left by the original service) is reported by name, and
// the others are still created.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	var errs []error
	// refused: every failure is the server's answer (the data breaks the
	// index), none a lost connection or a timeout, which may pass.
	refused := true
	for _, ix := range indexes {
		opts := options.Index().SetName(ix.name)
		if ix.unique {
			opts.SetUnique(true)
		}
		if ix.sparse {
			opts.SetSparse(true)
		}
		_, err := s.coll(ix.coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: opts})
		if err != nil {
			refused = refused && !mongo.IsNetworkError(err) && !mongo.IsTimeout(err) && ctx.Err() == nil
			errs = append(errs, fmt.Errorf("mongo: index %s.%s: %w", ix.coll, ix.name, err))
		}
	}
	switch {
	case len(errs) == 0:
		return nil
	case refused:
		return fmt.Errorf("%w: %w", ErrIndexes, errors.Join(errs...))
	default:
		return errors.Join(errs...)
	}
}

// ErrIndexes: the server refused to build indexes (the data repeats the
// keys of unique ones; `todo migrate normalize` repairs what it can).
var ErrIndexes = errors.New("mongo: indexes incomplete")

// IndexNames lists the index names the service expects on coll.
func IndexNames(coll string) []string {
	var out []string
	for _, ix := range indexes {
		if ix.coll == coll {
			out = append(out, ix.name)
		}
	}
	return out
}

// IndexedCollections lists the collections that carry indexes of ours.
func IndexedCollections() []string {
	seen := map[string]bool{}
	var out []string
	for _, ix := range indexes {
		if !seen[ix.coll] {
			seen[ix.coll] = true
			out = append(out, ix.coll)
		}
	}
	return out
}

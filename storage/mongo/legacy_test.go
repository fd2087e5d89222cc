package mongo

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/todo-backend/todo/models"
)

// modeler is a doc struct: it turns into a domain model.
type modeler[M any] interface{ model() M }

// modelOf decodes a found document through doc struct D into its model.
func modelOf[D modeler[M], M any](r *mongo.SingleResult) (any, error) {
	var d D
	err := r.Decode(&d)
	return d.model(), err
}

// TestLegacyDocuments reads documents shaped as the original service wrote
// them: inserted through pydantic's model_dump(mode="json") (ids as 24-hex
// strings, dates as ISO strings), later $set with native ObjectIds and dates,
// mixed camelCase and snake_case, no version, and stray fields.
func TestLegacyDocuments(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var (
		userOID      = bson.NewObjectID()
		user         = userOID.Hex()
		team         = bson.NewObjectID().Hex()
		task         = bson.NewObjectID().Hex()
		label1       = bson.NewObjectID().Hex()
		label2OID    = bson.NewObjectID()
		created      = time.Date(2025, 8, 1, 12, 34, 56, 123456000, time.UTC)
		createdISO   = "2025-08-01T12:34:56.123456"
		updated      = time.Date(2025, 8, 3, 9, 0, 0, 250000000, time.UTC)
		updatedDate  = bson.NewDateTimeFromTime(updated)
		due          = time.Date(2025, 8, 10, 0, 0, 0, 0, time.UTC)
		desc         = "From the original"
		ptr          = func(t time.Time) *time.Time { return &t }
		ids          = map[string]bson.ObjectID{}
		deferredTill = time.Date(2025, 8, 9, 0, 0, 0, 0, time.UTC)
	)
	for _, coll := range []string{CollTasks, CollTaskDetails, CollTeams, CollUserTeamDetails, CollUsers, CollLabels,
		CollRoles, CollUserRoles, CollWatchlist, CollAuditLogs, CollTeamCreationCode} {
		ids[coll] = bson.NewObjectID()
	}
	cases := []struct {
		coll   string
		doc    bson.D
		decode func(*mongo.SingleResult) (any, error)
		want   any
	}{
		{CollTasks, bson.D{
			{Key: "_id", Value: ids[CollTasks]}, {Key: "displayId", Value: "#12"}, {Key: "title", Value: "Legacy task"},
			{Key: "description", Value: desc}, {Key: "priority", Value: int32(1)}, {Key: "status", Value: "TODO"},
			{Key: "isAcknowledged", Value: false}, {Key: "labels", Value: bson.A{label1, label2OID}},
			{Key: "isDeleted", Value: false},
			{Key: "deferredDetails", Value: bson.D{{Key: "deferredAt", Value: createdISO},
				{Key: "deferredTill", Value: "2025-08-09T00:00:00+00:00"}, {Key: "deferredBy", Value: user}}},
			{Key: "startedAt", Value: nil}, {Key: "dueAt", Value: "2025-08-10T00:00:00Z"},
			{Key: "createdAt", Value: createdISO}, {Key: "updatedAt", Value: updatedDate},
			{Key: "createdBy", Value: user}, {Key: "updatedBy", Value: userOID},
		}, modelOf[taskDoc], models.Task{ID: ids[CollTasks].Hex(), DisplayID: "#12", Title: "Legacy task", Description: &desc,
			Priority: models.PriorityHigh, Status: models.StatusTodo, LabelIDs: []string{label1, label2OID.Hex()},
			DueAt: &due, CreatedAt: created, UpdatedAt: &updated, CreatedBy: user, UpdatedBy: user,
			DeferredDetails: &models.DeferredDetails{DeferredAt: created, DeferredTill: deferredTill, DeferredBy: user}}},
		{CollTaskDetails, bson.D{
			{Key: "_id", Value: ids[CollTaskDetails]}, {Key: "task_id", Value: task}, {Key: "assignee_id", Value: userOID},
			{Key: "user_type", Value: "user"}, {Key: "is_active", Value: true}, {Key: "team_id", Value: team},
			{Key: "executor_id", Value: nil}, {Key: "created_by", Value: user}, {Key: "updated_by", Value: nil},
			{Key: "created_at", Value: createdISO}, {Key: "updated_at", Value: nil},
		}, modelOf[assignmentDoc], models.TaskAssignment{ID: ids[CollTaskDetails].Hex(), TaskID: task, AssigneeID: user,
			AssigneeType: models.AssigneeUser, TeamID: team, IsActive: true, CreatedBy: user, CreatedAt: created}},
		{CollTeams, bson.D{
			{Key: "_id", Value: ids[CollTeams]}, {Key: "name", Value: "Team A"}, {Key: "description", Value: nil},
			{Key: "invite_code", Value: "AB12CD"}, {Key: "poc_id", Value: user}, {Key: "created_by", Value: user},
			{Key: "updated_by", Value: user}, {Key: "created_at", Value: createdISO},
			{Key: "updated_at", Value: createdISO + "+00:00"}, {Key: "is_deleted", Value: false},
		}, modelOf[teamDoc], models.Team{ID: ids[CollTeams].Hex(), Name: "Team A", POCID: user, InviteCode: "AB12CD",
			CreatedBy: user, UpdatedBy: user, CreatedAt: created, UpdatedAt: ptr(created)}},
		{CollUserTeamDetails, bson.D{
			{Key: "_id", Value: ids[CollUserTeamDetails]}, {Key: "user_id", Value: user}, {Key: "team_id", Value: team},
			{Key: "role_id", Value: "1"}, // passed by the original, not a model field
			{Key: "is_active", Value: true}, {Key: "created_by", Value: user}, {Key: "updated_by", Value: user},
			{Key: "created_at", Value: createdISO}, {Key: "updated_at", Value: createdISO},
		}, modelOf[membershipDoc], models.TeamMembership{ID: ids[CollUserTeamDetails].Hex(), UserID: user, TeamID: team, IsActive: true,
			CreatedBy: user, UpdatedBy: user, CreatedAt: created, UpdatedAt: ptr(created)}},
		{CollUsers, bson.D{
			{Key: "_id", Value: ids[CollUsers]}, {Key: "google_id", Value: "1045"}, {Key: "email_id", Value: "a@example.com"},
			{Key: "name", Value: "Ada"}, {Key: "picture", Value: "https://example.com/a.png"},
			{Key: "created_at", Value: createdISO}, {Key: "updated_at", Value: updatedDate},
		}, modelOf[userDoc], models.User{ID: ids[CollUsers].Hex(), GoogleID: "1045", Email: "a@example.com", Name: "Ada",
			Picture: "https://example.com/a.png", CreatedAt: created, UpdatedAt: &updated}},
		{CollLabels, bson.D{
			{Key: "_id", Value: ids[CollLabels]}, {Key: "name", Value: "Feature"}, {Key: "color", Value: "#22c55e"},
			{Key: "description", Value: "New functionality"}, {Key: "isDeleted", Value: false},
			{Key: "createdAt", Value: createdISO}, {Key: "updatedAt", Value: nil}, {Key: "createdBy", Value: "system"},
			{Key: "updatedBy", Value: nil},
		}, modelOf[labelDoc], models.Label{ID: ids[CollLabels].Hex(), Name: "Feature", Color: "#22c55e",
			Description: "New functionality", CreatedAt: created, CreatedBy: "system"}},
		{CollRoles, bson.D{
			{Key: "_id", Value: ids[CollRoles]}, {Key: "name", Value: "owner"}, {Key: "description", Value: "Owner"},
			{Key: "scope", Value: "TEAM"}, {Key: "is_active", Value: true}, {Key: "created_by", Value: "system"},
			{Key: "created_at", Value: createdISO},
		}, modelOf[roleDoc], models.Role{ID: ids[CollRoles].Hex(), Name: "owner", Description: "Owner", Scope: models.ScopeTeam,
			IsActive: true, CreatedBy: "system", CreatedAt: created}},
		{CollUserRoles, bson.D{
			{Key: "_id", Value: ids[CollUserRoles]}, {Key: "user_id", Value: user}, {Key: "role_name", Value: "owner"},
			{Key: "scope", Value: "TEAM"}, {Key: "team_id", Value: team}, {Key: "is_active", Value: true},
			{Key: "created_at", Value: createdISO}, {Key: "created_by", Value: "system"},
		}, modelOf[userRoleDoc], models.UserRole{ID: ids[CollUserRoles].Hex(), UserID: user, RoleName: "owner", Scope: models.ScopeTeam,
			TeamID: team, IsActive: true, CreatedAt: created, CreatedBy: "system"}},
		{CollWatchlist, bson.D{
			{Key: "_id", Value: ids[CollWatchlist]}, {Key: "taskId", Value: task}, {Key: "userId", Value: user},
			{Key: "isActive", Value: false}, {Key: "createdAt", Value: createdISO}, {Key: "createdBy", Value: user},
			{Key: "updatedAt", Value: updatedDate}, {Key: "updatedBy", Value: userOID},
		}, modelOf[watchlistDoc], models.WatchlistEntry{ID: ids[CollWatchlist].Hex(), TaskID: task, UserID: user, CreatedAt: created,
			CreatedBy: user, UpdatedAt: &updated, UpdatedBy: user}},
		{CollAuditLogs, bson.D{
			{Key: "_id", Value: ids[CollAuditLogs]}, {Key: "task_id", Value: task}, {Key: "team_id", Value: team},
			{Key: "previous_executor_id", Value: nil}, {Key: "new_executor_id", Value: user},
			{Key: "spoc_id", Value: nil}, {Key: "action", Value: "assigned_to_team"},
			{Key: "timestamp", Value: createdISO + "Z"}, {Key: "status_from", Value: nil}, {Key: "status_to", Value: nil},
			{Key: "assignee_from", Value: nil}, {Key: "assignee_to", Value: team}, {Key: "performed_by", Value: userOID},
		}, modelOf[auditLogDoc], models.AuditLog{ID: ids[CollAuditLogs].Hex(), Action: "assigned_to_team", TaskID: task, TeamID: team,
			NewExecutorID: user, AssigneeTo: team, PerformedBy: user, Timestamp: created}},
		{CollTeamCreationCode, bson.D{
			{Key: "_id", Value: ids[CollTeamCreationCode]}, {Key: "code", Value: "XY98ZW"}, {Key: "description", Value: nil},
			{Key: "created_by", Value: user}, {Key: "created_at", Value: updatedDate},
			{Key: "used_at", Value: createdISO}, // the original $set it as an ISO string
			{Key: "used_by", Value: user}, {Key: "is_used", Value: true},
		}, modelOf[creationCodeDoc], models.TeamCreationInviteCode{ID: ids[CollTeamCreationCode].Hex(), Code: "XY98ZW", CreatedBy: user,
			CreatedAt: updated, UsedAt: ptr(created), UsedBy: user, IsUsed: true}},
	}
	for _, c := range cases {
		t.Run(c.coll, func(t *testing.T) {
			insertRaw(t, s, c.coll, c.doc)
			got, err := c.decode(s.coll(c.coll).FindOne(t.Context(), bson.D{{Key: "_id", Value: ids[c.coll]}}))
			if err != nil {
				t.Fatalf("decode: got error %v, want none", err)
			}
			sameFields(t, got, c.want)
		})
	}
}

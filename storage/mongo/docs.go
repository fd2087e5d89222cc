package mongo

import "github.com/todo-backend/todo/models"

// Collection names, as the original service named them.
const (
	CollUsers            = "users"
	CollTasks            = "tasks"
	CollTaskDetails      = "task_details"
	CollTeams            = "teams"
	CollUserTeamDetails  = "user_team_details"
	CollLabels           = "labels"
	CollRoles            = "roles"
	CollUserRoles        = "user_roles"
	CollWatchlist        = "watchlist"
	CollAuditLogs        = "audit_logs"
	CollTeamCreationCode = "team_creation_invite_codes"
	CollCounters         = "counters"
)

// The document structs (docs_gen.go) keep the original's field names
// exactly, mixed camelCase and snake_case included, so the service runs on
// its database; storage/schema declares them. `version` is ours: the mirror
// applies a document only if it is newer.

type deferredDoc struct {
	DeferredAt   ts  `bson:"deferredAt"`
	DeferredTill ts  `bson:"deferredTill"`
	DeferredBy   ref `bson:"deferredBy"`
}

func (d *deferredDoc) model() *models.DeferredDetails {
	if d == nil {
		return nil
	}
	return &models.DeferredDetails{DeferredAt: d.DeferredAt.time(), DeferredTill: d.DeferredTill.time(),
		DeferredBy: string(d.DeferredBy)}
}

func deferredDocOf(dd *models.DeferredDetails) *deferredDoc {
	if dd == nil {
		return nil
	}
	return &deferredDoc{DeferredAt: ts(dd.DeferredAt), DeferredTill: ts(dd.DeferredTill), DeferredBy: ref(dd.DeferredBy)}
}

// activeTaskID is an assignment's active_task_id: its task while it is
// active, absent otherwise.
func activeTaskID(a models.TaskAssignment) ref {
	if !a.IsActive {
		return ""
	}
	return ref(a.TaskID)
}

// activeKey is a role grant's active_key: set while it is active.
func activeKey(r models.UserRole) string {
	if !r.IsActive {
		return ""
	}
	return roleKey(r.UserID, r.Scope, r.TeamID, r.RoleName)
}

// roleKey names an active grant: one user, one role, in one scope (and
// team), as the mirror's unique index on active roles does.
func roleKey(userID string, scope models.RoleScope, teamID string, role models.RoleName) string {
	return userID + "/" + string(scope) + "/" + teamID + "/" + string(role)
}

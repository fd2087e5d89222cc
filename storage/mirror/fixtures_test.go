package mirror

import (
	"time"

	"github.com/todo-backend/todo/models"
)

const (
	idUser       = "65a0000000000000000000a1"
	idUser2      = "65a0000000000000000000a2"
	idTask       = "65a0000000000000000000b1"
	idTask2      = "65a0000000000000000000b2"
	idAssignment = "65a0000000000000000000c1"
	idAssign2    = "65a0000000000000000000c2"
	idTeam       = "65a0000000000000000000d1"
	idTeam2      = "65a0000000000000000000d2"
	idMember     = "65a0000000000000000000e1"
	idMember2    = "65a0000000000000000000e2"
	idLabel      = "65a0000000000000000000f1"
	idLabel2     = "65a0000000000000000000f2"
	idLabelA     = "65a0000000000000000001a1"
	idLabelB     = "65a0000000000000000001a2"
	idRole       = "65a000000000000000000101"
	idRole2      = "65a000000000000000000102"
	idUserRole   = "65a000000000000000000111"
	idUserRole2  = "65a000000000000000000112"
	idWatch      = "65a000000000000000000121"
	idWatch2     = "65a000000000000000000122"
	idAudit      = "65a000000000000000000131"
	idAudit2     = "65a000000000000000000132"
	idCode       = "65a000000000000000000141"
	idCode2      = "65a000000000000000000142"
)

// Times with sub-second parts; t1 is in another zone than UTC, tNano has
// nanoseconds, which the mirror keeps to the microsecond (MongoDB dates have
// milliseconds).
var (
	t0    = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	t1    = time.Date(2026, 3, 15, 8, 0, 0, 123000000, time.FixedZone("IST", 5*3600+1800))
	t2    = time.Date(2026, 4, 1, 9, 30, 0, 250000000, time.UTC)
	tNano = time.Date(2026, 3, 16, 10, 0, 0, 987654321, time.UTC)
)

// fixture is a document and the columns its row must hold (bookkeeping
// columns aside).
type fixture struct {
	name string
	id   string
	doc  any
	want map[string]any
}

// fullFixtures have every field of every model set.
func fullFixtures() []fixture {
	return []fixture{
		{"user", idUser, models.User{ID: idUser, GoogleID: "google-oauth2|1234567890", Email: "ada@example.com",
			Name: "Ada Lovelace", Picture: "https://example.com/ada.png", CreatedAt: t0, UpdatedAt: ptr(t1),
			Version: 7},
			map[string]any{"mongo_id": idUser, "version": int64(7), "google_id": "google-oauth2|1234567890",
				"email_id": "ada@example.com", "name": "Ada Lovelace", "picture": "https://example.com/ada.png",
				"created_at": t0, "updated_at": t1}},
		{"task", idTask, models.Task{ID: idTask, DisplayID: "#42", Title: "Write the mirror",
			Description: ptr("Every field, faithfully"), Priority: models.PriorityHigh,
			Status: models.StatusInProgress, IsAcknowledged: true, IsDeleted: true, StartedAt: ptr(tNano),
			DueAt: ptr(t2), CreatedAt: t0, UpdatedAt: ptr(t1), CreatedBy: idUser, UpdatedBy: idUser2, Version: 3,
			LabelIDs: []string{idLabelB, idLabelA, idLabelB}, DeferredDetails: &models.DeferredDetails{
				DeferredAt: t1, DeferredTill: t2, DeferredBy: idUser2}},
			map[string]any{"mongo_id": idTask, "version": int64(3), "display_id": "#42", "title": "Write the mirror",
				"description": "Every field, faithfully", "priority": 1, "status": "IN_PROGRESS",
				"is_acknowledged": true, "is_deleted": true, "started_at": tNano.Truncate(time.Microsecond),
				"due_at": t2, "created_at": t0, "updated_at": t1, "created_by": idUser, "updated_by": idUser2,
				"labels": []string{idLabelA, idLabelB}, "deferred": map[string]any{
					"deferred_at": t1, "deferred_till": t2, "deferred_by": idUser2}}},
		{"task assignment", idAssignment, models.TaskAssignment{ID: idAssignment, TaskID: idTask,
			AssigneeID: idTeam, AssigneeType: models.AssigneeTeam, TeamID: idTeam, IsActive: true,
			ExecutorID: idUser, CreatedBy: idUser, UpdatedBy: idUser2, CreatedAt: t0, UpdatedAt: ptr(t1),
			Version: 2},
			map[string]any{"mongo_id": idAssignment, "version": int64(2), "task_mongo_id": idTask,
				"assignee_id": idTeam, "user_type": "team", "team_id": idTeam, "executor_id": idUser,
				"is_active": true, "created_at": t0, "updated_at": t1, "created_by": idUser, "updated_by": idUser2}},
		{"team", idTeam, models.Team{ID: idTeam, Name: "Platform", Description: ptr("Keeps the lights on"),
			POCID: idUser2, InviteCode: "K7Q2ZX", CreatedBy: idUser, UpdatedBy: idUser2, CreatedAt: t0,
			UpdatedAt: ptr(t1), IsDeleted: true, Version: 4},
			map[string]any{"mongo_id": idTeam, "version": int64(4), "name": "Platform",
				"description": "Keeps the lights on", "invite_code": "K7Q2ZX", "poc_id": idUser2,
				"created_by": idUser, "updated_by": idUser2, "is_deleted": true, "created_at": t0, "updated_at": t1}},
		{"team membership", idMember, models.TeamMembership{ID: idMember, UserID: idUser, TeamID: idTeam,
			IsActive: true, CreatedBy: idUser, UpdatedBy: idUser2, CreatedAt: t0, UpdatedAt: ptr(t1), Version: 5},
			map[string]any{"mongo_id": idMember, "version": int64(5), "user_id": idUser, "team_id": idTeam,
				"created_by": idUser, "updated_by": idUser2, "is_active": true, "created_at": t0, "updated_at": t1}},
		{"label", idLabel, models.Label{ID: idLabel, Name: "Feature", Color: "#22c55e",
			Description: "New behaviour", IsDeleted: true, CreatedAt: t0, UpdatedAt: ptr(t1), CreatedBy: "system",
			UpdatedBy: idUser, Version: 1},
			map[string]any{"mongo_id": idLabel, "version": int64(1), "name": "Feature", "color": "#22c55e",
				"description": "New behaviour", "is_deleted": true, "created_by": "system", "updated_by": idUser,
				"created_at": t0, "updated_at": t1}},
		{"role", idRole, models.Role{ID: idRole, Name: models.RoleOwner, Description: "Owns the team",
			Scope: models.ScopeTeam, IsActive: true, CreatedBy: "system", CreatedAt: t0, UpdatedBy: idUser,
			UpdatedAt: ptr(t1), Version: 1},
			map[string]any{"mongo_id": idRole, "version": int64(1), "name": "owner", "description": "Owns the team",
				"permissions": "{}", "scope": "TEAM", "is_active": true, "created_by": "system", "created_at": t0,
				"updated_at": t1, "updated_by": idUser}},
		{"user role", idUserRole, models.UserRole{ID: idUserRole, UserID: idUser, RoleName: models.RoleAdmin,
			Scope: models.ScopeTeam, TeamID: idTeam, IsActive: true, CreatedAt: t0, CreatedBy: idUser,
			UpdatedAt: ptr(t1), UpdatedBy: idUser2, Version: 2},
			map[string]any{"mongo_id": idUserRole, "version": int64(2), "user_id": idUser, "role_name": "admin",
				"scope": "TEAM", "team_id": idTeam, "is_active": true, "created_at": t0, "created_by": idUser,
				"updated_at": t1, "updated_by": idUser2}},
		{"watchlist entry", idWatch, models.WatchlistEntry{ID: idWatch, TaskID: idTask, UserID: idUser,
			IsActive: true, CreatedAt: t0, CreatedBy: idUser, UpdatedAt: ptr(t1), UpdatedBy: idUser2, Version: 3},
			map[string]any{"mongo_id": idWatch, "version": int64(3), "task_id": idTask, "user_id": idUser,
				"is_active": true, "created_by": idUser, "created_at": t0, "updated_by": idUser2, "updated_at": t1}},
		{"audit log", idAudit, models.AuditLog{ID: idAudit, Action: "assigned_to_team", TaskID: idTask,
			TeamID: idTeam, PreviousExecutorID: idUser, NewExecutorID: idUser2, SpocID: idUser,
			StatusFrom: "TODO", StatusTo: "IN_PROGRESS", AssigneeFrom: idUser, AssigneeTo: idTeam,
			ValueFrom: "tasks=mongodb shadow=0%", ValueTo: "tasks=postgres shadow=100%", PerformedBy: idUser2, TargetUserID: idUser, Timestamp: t1, Version: 1},
			map[string]any{"mongo_id": idAudit, "version": int64(1), "action": "assigned_to_team", "task_id": idTask,
				"team_id": idTeam, "previous_executor_id": idUser, "new_executor_id": idUser2, "spoc_id": idUser,
				"status_from": "TODO", "status_to": "IN_PROGRESS", "assignee_from": idUser, "assignee_to": idTeam,
				"value_from": "tasks=mongodb shadow=0%", "value_to": "tasks=postgres shadow=100%", "performed_by": idUser2, "target_user_id": idUser, "timestamp": t1}},
		{"team creation invite code", idCode, models.TeamCreationInviteCode{ID: idCode, Code: "ABC123",
			Description: "For the platform team", CreatedBy: idUser, CreatedAt: t0, UsedAt: ptr(t1),
			UsedBy: idUser2, IsUsed: true, Version: 2},
			map[string]any{"mongo_id": idCode, "version": int64(2), "code": "ABC123",
				"description": "For the platform team", "created_by": idUser, "used_by": idUser2, "is_used": true,
				"created_at": t0, "used_at": t1}},
	}
}

// sparseFixtures leave every optional field empty: "" references and nil
// pointers become NULL, and zero values stay zero where a column has a
// database default (a label color "", a role scope "", a task priority 0),
// because the mirror copies the document, not the defaults. Version 0 is a
// document the original service wrote.
func sparseFixtures() []fixture {
	return []fixture{
		{"user", idUser2, models.User{ID: idUser2, Email: "bob@example.com", Name: "Bob", CreatedAt: t0},
			map[string]any{"mongo_id": idUser2, "version": int64(0), "google_id": nil, "email_id": "bob@example.com",
				"name": "Bob", "picture": nil, "created_at": t0, "updated_at": nil}},
		{"task", idTask2, models.Task{ID: idTask2, Title: "Bare", Description: ptr(""), CreatedAt: t0,
			CreatedBy: "system", DeferredDetails: &models.DeferredDetails{DeferredTill: t2}},
			map[string]any{"mongo_id": idTask2, "version": int64(0), "display_id": nil, "title": "Bare",
				"description": "", "priority": 0, "status": "", "is_acknowledged": false, "is_deleted": false,
				"started_at": nil, "due_at": nil, "created_at": t0, "updated_at": nil, "created_by": "system",
				"updated_by": nil, "labels": []string{},
				"deferred": map[string]any{"deferred_at": nil, "deferred_till": t2, "deferred_by": nil}}},
		{"task assignment", idAssign2, models.TaskAssignment{ID: idAssign2, TaskID: idTask2, AssigneeID: idUser,
			AssigneeType: models.AssigneeUser, CreatedBy: idUser, CreatedAt: t0},
			map[string]any{"mongo_id": idAssign2, "version": int64(0), "task_mongo_id": idTask2,
				"assignee_id": idUser, "user_type": "user", "team_id": nil, "executor_id": nil, "is_active": false,
				"created_at": t0, "updated_at": nil, "created_by": idUser, "updated_by": nil}},
		{"team", idTeam2, models.Team{ID: idTeam2, Name: "Solo", CreatedBy: idUser, CreatedAt: t0},
			map[string]any{"mongo_id": idTeam2, "version": int64(0), "name": "Solo", "description": nil,
				"invite_code": nil, "poc_id": nil, "created_by": idUser, "updated_by": nil, "is_deleted": false,
				"created_at": t0, "updated_at": nil}},
		{"team membership", idMember2, models.TeamMembership{ID: idMember2, UserID: idUser2, TeamID: idTeam,
			CreatedBy: idUser, CreatedAt: t0},
			map[string]any{"mongo_id": idMember2, "version": int64(0), "user_id": idUser2, "team_id": idTeam,
				"created_by": idUser, "updated_by": nil, "is_active": false, "created_at": t0, "updated_at": nil}},
		{"label", idLabel2, models.Label{ID: idLabel2, Name: "Bare", CreatedAt: t0},
			map[string]any{"mongo_id": idLabel2, "version": int64(0), "name": "Bare", "color": "",
				"description": nil, "is_deleted": false, "created_by": nil, "updated_by": nil, "created_at": t0,
				"updated_at": nil}},
		{"role", idRole2, models.Role{ID: idRole2, Name: models.RoleMember, CreatedAt: t0},
			map[string]any{"mongo_id": idRole2, "version": int64(0), "name": "member", "description": nil,
				"permissions": "{}", "scope": "", "is_active": false, "created_by": nil, "created_at": t0,
				"updated_at": nil, "updated_by": nil}},
		{"user role", idUserRole2, models.UserRole{ID: idUserRole2, UserID: idUser2, RoleName: models.RoleModerator,
			Scope: models.ScopeGlobal, CreatedAt: t0},
			map[string]any{"mongo_id": idUserRole2, "version": int64(0), "user_id": idUser2,
				"role_name": "moderator", "scope": "GLOBAL", "team_id": nil, "is_active": false, "created_at": t0,
				"created_by": "", "updated_at": nil, "updated_by": nil}},
		{"watchlist entry", idWatch2, models.WatchlistEntry{ID: idWatch2, TaskID: idTask, UserID: idUser2,
			CreatedAt: t0, CreatedBy: idUser2},
			map[string]any{"mongo_id": idWatch2, "version": int64(0), "task_id": idTask, "user_id": idUser2,
				"is_active": false, "created_by": idUser2, "created_at": t0, "updated_by": nil, "updated_at": nil}},
		{"audit log", idAudit2, models.AuditLog{ID: idAudit2, Action: "team_created", Timestamp: t0},
			map[string]any{"mongo_id": idAudit2, "version": int64(0), "action": "team_created", "task_id": nil,
				"team_id": nil, "previous_executor_id": nil, "new_executor_id": nil, "spoc_id": nil,
				"status_from": nil, "status_to": nil, "assignee_from": nil, "assignee_to": nil,
				"value_from": nil, "value_to": nil, "performed_by": nil, "target_user_id": nil, "timestamp": t0}},
		{"team creation invite code", idCode2, models.TeamCreationInviteCode{ID: idCode2, Code: "XYZ789",
			CreatedBy: idUser, CreatedAt: t0},
			map[string]any{"mongo_id": idCode2, "version": int64(0), "code": "XYZ789", "description": nil,
				"created_by": idUser, "used_by": nil, "is_used": false, "created_at": t0, "used_at": nil}},
	}
}

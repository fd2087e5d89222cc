package mongo

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

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

// The document structs below keep the original's field names exactly (mixed
// camelCase and snake_case included) so the service runs on its database.
// `version` is ours: the mirror applies a document only if it is newer.

type labelDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Name        string        `bson:"name"`
	Color       string        `bson:"color"`
	Description string        `bson:"description,omitempty"`
	IsDeleted   bool          `bson:"isDeleted"`
	CreatedAt   ts            `bson:"createdAt"`
	UpdatedAt   ts            `bson:"updatedAt"`
	CreatedBy   ref           `bson:"createdBy"`
	UpdatedBy   ref           `bson:"updatedBy"`
	Version     int64         `bson:"version"`
}

func (d labelDoc) model() models.Label {
	return models.Label{ID: d.ID.Hex(), Name: d.Name, Color: d.Color, Description: d.Description,
		IsDeleted: d.IsDeleted, CreatedAt: d.CreatedAt.time(), UpdatedAt: d.UpdatedAt.ptr(),
		CreatedBy: string(d.CreatedBy), UpdatedBy: string(d.UpdatedBy), Version: d.Version}
}

type userDoc struct {
	ID bson.ObjectID `bson:"_id"`
	// GoogleID is omitted, not null, when empty: the unique index on it is
	// sparse, and a sparse index still indexes nulls.
	GoogleID  string `bson:"google_id,omitempty"`
	Email     string `bson:"email_id"`
	Name      string `bson:"name"`
	Picture   string `bson:"picture"`
	CreatedAt ts     `bson:"created_at"`
	UpdatedAt ts     `bson:"updated_at"`
	Version   int64  `bson:"version"`
}

func (d userDoc) model() models.User {
	return models.User{ID: d.ID.Hex(), GoogleID: d.GoogleID, Email: d.Email, Name: d.Name, Picture: d.Picture,
		CreatedAt: d.CreatedAt.time(), UpdatedAt: d.UpdatedAt.ptr(), Version: d.Version}
}

type deferredDoc struct {
	DeferredAt   ts  `bson:"deferredAt"`
	DeferredTill ts  `bson:"deferredTill"`
	DeferredBy   ref `bson:"deferredBy"`
}

type taskDoc struct {
	ID              bson.ObjectID `bson:"_id"`
	DisplayID       string        `bson:"displayId"`
	Title           string        `bson:"title"`
	Description     *string       `bson:"description"`
	Priority        int           `bson:"priority"`
	Status          string        `bson:"status"`
	IsAcknowledged  bool          `bson:"isAcknowledged"`
	Labels          []ref         `bson:"labels"`
	IsDeleted       bool          `bson:"isDeleted"`
	DeferredDetails *deferredDoc  `bson:"deferredDetails"`
	StartedAt       ts            `bson:"startedAt"`
	DueAt           ts            `bson:"dueAt"`
	CreatedAt       ts            `bson:"createdAt"`
	UpdatedAt       ts            `bson:"updatedAt"`
	CreatedBy       ref           `bson:"createdBy"`
	UpdatedBy       ref           `bson:"updatedBy"`
	Version         int64         `bson:"version"`
}

func (d taskDoc) model() models.Task {
	t := models.Task{ID: d.ID.Hex(), DisplayID: d.DisplayID, Title: d.Title, Description: d.Description,
		Priority: models.Priority(d.Priority), Status: models.TaskStatus(d.Status), IsAcknowledged: d.IsAcknowledged,
		IsDeleted: d.IsDeleted, LabelIDs: strs(d.Labels), StartedAt: d.StartedAt.ptr(), DueAt: d.DueAt.ptr(),
		CreatedAt: d.CreatedAt.time(), UpdatedAt: d.UpdatedAt.ptr(), CreatedBy: string(d.CreatedBy),
		UpdatedBy: string(d.UpdatedBy), Version: d.Version}
	if dd := d.DeferredDetails; dd != nil {
		t.DeferredDetails = &models.DeferredDetails{DeferredAt: dd.DeferredAt.time(),
			DeferredTill: dd.DeferredTill.time(), DeferredBy: string(dd.DeferredBy)}
	}
	return t
}

func taskDocOf(t models.Task) (taskDoc, error) {
	id, err := objectID(t.ID)
	if err != nil {
		return taskDoc{}, err
	}
	d := taskDoc{ID: id, DisplayID: t.DisplayID, Title: t.Title, Description: t.Description,
		Priority: int(t.Priority), Status: string(t.Status), IsAcknowledged: t.IsAcknowledged,
		Labels: refs(t.LabelIDs), IsDeleted: t.IsDeleted, StartedAt: tsOf(t.StartedAt), DueAt: tsOf(t.DueAt),
		CreatedAt: ts(t.CreatedAt), UpdatedAt: tsOf(t.UpdatedAt), CreatedBy: ref(t.CreatedBy),
		UpdatedBy: ref(t.UpdatedBy), Version: t.Version}
	if dd := t.DeferredDetails; dd != nil {
		d.DeferredDetails = &deferredDoc{DeferredAt: ts(dd.DeferredAt), DeferredTill: ts(dd.DeferredTill),
			DeferredBy: ref(dd.DeferredBy)}
	}
	return d, nil
}

type assignmentDoc struct {
	ID         bson.ObjectID `bson:"_id"`
	TaskID     ref           `bson:"task_id"`
	AssigneeID ref           `bson:"assignee_id"`
	UserType   string        `bson:"user_type"`
	IsActive   bool          `bson:"is_active"`
	// ActiveTaskID equals TaskID while the assignment is active and is absent
	// otherwise: a unique sparse index on it allows one active assignment per
	// task without the partial index FerretDB lacks.
	ActiveTaskID ref   `bson:"active_task_id,omitempty"`
	TeamID       ref   `bson:"team_id"`
	ExecutorID   ref   `bson:"executor_id"`
	CreatedBy    ref   `bson:"created_by"`
	UpdatedBy    ref   `bson:"updated_by"`
	CreatedAt    ts    `bson:"created_at"`
	UpdatedAt    ts    `bson:"updated_at"`
	Version      int64 `bson:"version"`
}

func (d assignmentDoc) model() models.TaskAssignment {
	return models.TaskAssignment{ID: d.ID.Hex(), TaskID: string(d.TaskID), AssigneeID: string(d.AssigneeID),
		AssigneeType: models.AssigneeType(d.UserType), TeamID: string(d.TeamID), IsActive: d.IsActive,
		ExecutorID: string(d.ExecutorID), CreatedBy: string(d.CreatedBy), UpdatedBy: string(d.UpdatedBy),
		CreatedAt: d.CreatedAt.time(), UpdatedAt: d.UpdatedAt.ptr(), Version: d.Version}
}

type teamDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Name        string        `bson:"name"`
	Description *string       `bson:"description"`
	POCID       ref           `bson:"poc_id"`
	InviteCode  string        `bson:"invite_code"`
	CreatedBy   ref           `bson:"created_by"`
	UpdatedBy   ref           `bson:"updated_by"`
	CreatedAt   ts            `bson:"created_at"`
	UpdatedAt   ts            `bson:"updated_at"`
	IsDeleted   bool          `bson:"is_deleted"`
	Version     int64         `bson:"version"`
}

func (d teamDoc) model() models.Team {
	return models.Team{ID: d.ID.Hex(), Name: d.Name, Description: d.Description, POCID: string(d.POCID),
		InviteCode: d.InviteCode, CreatedBy: string(d.CreatedBy), UpdatedBy: string(d.UpdatedBy),
		CreatedAt: d.CreatedAt.time(), UpdatedAt: d.UpdatedAt.ptr(), IsDeleted: d.IsDeleted, Version: d.Version}
}

type membershipDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	UserID    ref           `bson:"user_id"`
	TeamID    ref           `bson:"team_id"`
	IsActive  bool          `bson:"is_active"`
	CreatedBy ref           `bson:"created_by"`
	UpdatedBy ref           `bson:"updated_by"`
	CreatedAt ts            `bson:"created_at"`
	UpdatedAt ts            `bson:"updated_at"`
	Version   int64         `bson:"version"`
}

func (d membershipDoc) model() models.TeamMembership {
	return models.TeamMembership{ID: d.ID.Hex(), UserID: string(d.UserID), TeamID: string(d.TeamID),
		IsActive: d.IsActive, CreatedBy: string(d.CreatedBy), UpdatedBy: string(d.UpdatedBy),
		CreatedAt: d.CreatedAt.time(), UpdatedAt: d.UpdatedAt.ptr(), Version: d.Version}
}

type roleDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Name        string        `bson:"name"`
	Description string        `bson:"description"`
	Scope       string        `bson:"scope"`
	IsActive    bool          `bson:"is_active"`
	CreatedBy   ref           `bson:"created_by"`
	CreatedAt   ts            `bson:"created_at"`
	UpdatedBy   ref           `bson:"updated_by"`
	UpdatedAt   ts            `bson:"updated_at"`
	Version     int64         `bson:"version"`
}

func (d roleDoc) model() models.Role {
	return models.Role{ID: d.ID.Hex(), Name: models.RoleName(d.Name), Description: d.Description, Scope: models.RoleScope(d.Scope),
		IsActive: d.IsActive, CreatedBy: string(d.CreatedBy), CreatedAt: d.CreatedAt.time(),
		UpdatedBy: string(d.UpdatedBy), UpdatedAt: d.UpdatedAt.ptr(), Version: d.Version}
}

type userRoleDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	UserID   ref           `bson:"user_id"`
	RoleName string        `bson:"role_name"`
	Scope    string        `bson:"scope"`
	// TeamID is absent for GLOBAL roles, as the original required.
	TeamID    ref   `bson:"team_id,omitempty"`
	IsActive  bool  `bson:"is_active"`
	CreatedAt ts    `bson:"created_at"`
	CreatedBy ref   `bson:"created_by"`
	UpdatedAt ts    `bson:"updated_at,omitempty"`
	UpdatedBy ref   `bson:"updated_by,omitempty"`
	Version   int64 `bson:"version"`
	// ActiveKey is carried by active grants only (see roleKey): the sparse
	// unique index on it allows one active grant of a role.
	ActiveKey string `bson:"active_key,omitempty"`
}

// roleKey names an active grant: one user, one role, in one scope (and
// team), as the mirror's unique index on active roles does.
func roleKey(userID string, scope models.RoleScope, teamID string, role models.RoleName) string {
	return userID + "/" + string(scope) + "/" + teamID + "/" + string(role)
}

func (d userRoleDoc) model() models.UserRole {
	return models.UserRole{ID: d.ID.Hex(), UserID: string(d.UserID), RoleName: models.RoleName(d.RoleName),
		Scope: models.RoleScope(d.Scope), TeamID: string(d.TeamID), IsActive: d.IsActive,
		CreatedAt: d.CreatedAt.time(), CreatedBy: string(d.CreatedBy), UpdatedAt: d.UpdatedAt.ptr(),
		UpdatedBy: string(d.UpdatedBy), Version: d.Version}
}

type watchlistDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	TaskID    ref           `bson:"taskId"`
	UserID    ref           `bson:"userId"`
	IsActive  bool          `bson:"isActive"`
	CreatedAt ts            `bson:"createdAt"`
	CreatedBy ref           `bson:"createdBy"`
	UpdatedAt ts            `bson:"updatedAt"`
	UpdatedBy ref           `bson:"updatedBy"`
	Version   int64         `bson:"version"`
}

func (d watchlistDoc) model() models.WatchlistEntry {
	return models.WatchlistEntry{ID: d.ID.Hex(), TaskID: string(d.TaskID), UserID: string(d.UserID),
		IsActive: d.IsActive, CreatedAt: d.CreatedAt.time(), CreatedBy: string(d.CreatedBy),
		UpdatedAt: d.UpdatedAt.ptr(), UpdatedBy: string(d.UpdatedBy), Version: d.Version}
}

type auditLogDoc struct {
	ID                 bson.ObjectID `bson:"_id"`
	TaskID             ref           `bson:"task_id"`
	TeamID             ref           `bson:"team_id"`
	PreviousExecutorID ref           `bson:"previous_executor_id"`
	NewExecutorID      ref           `bson:"new_executor_id"`
	SpocID             ref           `bson:"spoc_id"`
	Action             string        `bson:"action"`
	Timestamp          ts            `bson:"timestamp"`
	StatusFrom         string        `bson:"status_from,omitempty"`
	StatusTo           string        `bson:"status_to,omitempty"`
	AssigneeFrom       ref           `bson:"assignee_from"`
	AssigneeTo         ref           `bson:"assignee_to"`
	PerformedBy        ref           `bson:"performed_by"`
	TargetUserID       ref           `bson:"target_user_id,omitempty"`
	Version            int64         `bson:"version"`
}

func (d auditLogDoc) model() models.AuditLog {
	return models.AuditLog{ID: d.ID.Hex(), Action: d.Action, TaskID: string(d.TaskID), TeamID: string(d.TeamID),
		PreviousExecutorID: string(d.PreviousExecutorID), NewExecutorID: string(d.NewExecutorID),
		SpocID: string(d.SpocID), StatusFrom: d.StatusFrom, StatusTo: d.StatusTo,
		AssigneeFrom: string(d.AssigneeFrom), AssigneeTo: string(d.AssigneeTo), PerformedBy: string(d.PerformedBy),
		TargetUserID: string(d.TargetUserID), Timestamp: d.Timestamp.time(), Version: d.Version}
}

type creationCodeDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Code        string        `bson:"code"`
	Description string        `bson:"description,omitempty"`
	CreatedBy   ref           `bson:"created_by"`
	CreatedAt   ts            `bson:"created_at"`
	UsedAt      ts            `bson:"used_at"`
	UsedBy      ref           `bson:"used_by"`
	IsUsed      bool          `bson:"is_used"`
	Version     int64         `bson:"version"`
}

func (d creationCodeDoc) model() models.TeamCreationInviteCode {
	return models.TeamCreationInviteCode{ID: d.ID.Hex(), Code: d.Code, Description: d.Description,
		CreatedBy: string(d.CreatedBy), CreatedAt: d.CreatedAt.time(), UsedAt: d.UsedAt.ptr(),
		UsedBy: string(d.UsedBy), IsUsed: d.IsUsed, Version: d.Version}
}

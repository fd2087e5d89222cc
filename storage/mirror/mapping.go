package mirror

import (
	"slices"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/postgres"
)

// The functions below are the one mapping between documents and rows, both
// ways (registry.go says which pair is which collection), used to
// write the mirror and to compare it with MongoDB. They are pure: they leave
// the bookkeeping columns other than mongo_id and version unset.
//
// Rules, the same for every collection:
//   - A model string whose column is nullable maps "" to NULL: the model has
//     no other way to say "absent" (no team, no updater), and unique columns
//     (google_id, invite_code) must not collide on "".
//   - A model *string keeps nil (NULL) and "" apart.
//   - A NOT NULL column gets the model's value as is, zero values included
//     (a label color "", a task priority 0): see literalValues in upsert.go.
//   - Times are kept to the microsecond, in UTC, as both PostgreSQL and bun's
//     SQLite encoding store them; MongoDB dates are milliseconds, so nothing
//     is lost. A zero time in a nullable column (a deferral's dates) is NULL.

// Record is a document mapped to the mirror: its row and, for tasks, the rows
// of its parts.
type Record struct {
	Collection string
	// Row points at the postgres row struct of the collection.
	Row any
	// Labels are a task's label ids, sorted and without duplicates: the
	// junction table has no order and one row per label.
	Labels []string
	// Deferred is a task's deferral; nil when it has none.
	Deferred *postgres.DeferredDetailsRow
}

func syncCols(id string, version int64) postgres.SyncColumns {
	return postgres.SyncColumns{MongoID: id, Version: version}
}

// UserRow maps a user.
func UserRow(u models.User) *postgres.UserRow {
	return &postgres.UserRow{SyncColumns: syncCols(u.ID, u.Version), GoogleID: null(u.GoogleID),
		EmailID: u.Email, Name: u.Name, Picture: null(u.Picture), CreatedAt: at(u.CreatedAt),
		UpdatedAt: atPtr(u.UpdatedAt)}
}

// UserOf maps a user row back.
func UserOf(r *postgres.UserRow) models.User {
	return models.User{ID: r.MongoID, GoogleID: str(r.GoogleID), Email: r.EmailID, Name: r.Name,
		Picture: str(r.Picture), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: atPtr(r.UpdatedAt), Version: r.Version}
}

// TaskRows maps a task: its row, its label ids (sorted, unique) and its
// deferral (nil when it has none).
func TaskRows(t models.Task) (*postgres.TaskRow, []string, *postgres.DeferredDetailsRow) {
	row := &postgres.TaskRow{SyncColumns: syncCols(t.ID, t.Version), DisplayID: null(t.DisplayID),
		Title: t.Title, Description: copyPtr(t.Description), Priority: int(t.Priority), Status: string(t.Status),
		IsAcknowledged: t.IsAcknowledged, IsDeleted: t.IsDeleted, StartedAt: atPtr(t.StartedAt),
		DueAt: atPtr(t.DueAt), CreatedAt: at(t.CreatedAt), UpdatedAt: atPtr(t.UpdatedAt), CreatedBy: t.CreatedBy,
		UpdatedBy: null(t.UpdatedBy)}
	labels := slices.Compact(slices.Sorted(slices.Values(t.LabelIDs)))
	if labels == nil {
		labels = []string{}
	}
	var deferred *postgres.DeferredDetailsRow
	if d := t.DeferredDetails; d != nil {
		deferred = &postgres.DeferredDetailsRow{DeferredAt: atNonZero(d.DeferredAt),
			DeferredTill: atNonZero(d.DeferredTill), DeferredBy: null(d.DeferredBy)}
	}
	return row, labels, deferred
}

// TaskOf maps a task's rows back. Its label ids come back sorted: the
// junction has no order.
func TaskOf(r *postgres.TaskRow, labels []string, deferred *postgres.DeferredDetailsRow) models.Task {
	t := models.Task{ID: r.MongoID, DisplayID: str(r.DisplayID), Title: r.Title, Description: copyPtr(r.Description),
		Priority: models.Priority(r.Priority), Status: models.TaskStatus(r.Status), IsAcknowledged: r.IsAcknowledged,
		IsDeleted: r.IsDeleted, LabelIDs: slices.Clone(labels), StartedAt: atPtr(r.StartedAt), DueAt: atPtr(r.DueAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: atPtr(r.UpdatedAt), CreatedBy: r.CreatedBy, UpdatedBy: str(r.UpdatedBy),
		Version: r.Version}
	if t.LabelIDs == nil {
		t.LabelIDs = []string{}
	}
	if d := deferred; d != nil {
		t.DeferredDetails = &models.DeferredDetails{DeferredAt: zeroIfNil(d.DeferredAt),
			DeferredTill: zeroIfNil(d.DeferredTill), DeferredBy: str(d.DeferredBy)}
	}
	return t
}

// TaskAssignmentRow maps an assignment (a task_details document).
func TaskAssignmentRow(a models.TaskAssignment) *postgres.TaskAssignmentRow {
	return &postgres.TaskAssignmentRow{SyncColumns: syncCols(a.ID, a.Version), TaskMongoID: a.TaskID,
		AssigneeID: a.AssigneeID, UserType: string(a.AssigneeType), TeamID: null(a.TeamID),
		ExecutorID: null(a.ExecutorID), IsActive: a.IsActive, CreatedAt: at(a.CreatedAt),
		UpdatedAt: atPtr(a.UpdatedAt), CreatedBy: a.CreatedBy, UpdatedBy: null(a.UpdatedBy)}
}

// TaskAssignmentOf maps an assignment row back.
func TaskAssignmentOf(r *postgres.TaskAssignmentRow) models.TaskAssignment {
	return models.TaskAssignment{ID: r.MongoID, TaskID: r.TaskMongoID, AssigneeID: r.AssigneeID,
		AssigneeType: models.AssigneeType(r.UserType), TeamID: str(r.TeamID), ExecutorID: str(r.ExecutorID),
		IsActive: r.IsActive, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: atPtr(r.UpdatedAt), CreatedBy: r.CreatedBy,
		UpdatedBy: str(r.UpdatedBy), Version: r.Version}
}

// TeamRow maps a team, its POC and soft deletion included.
func TeamRow(t models.Team) *postgres.TeamRow {
	return &postgres.TeamRow{SyncColumns: syncCols(t.ID, t.Version), Name: t.Name,
		Description: copyPtr(t.Description), InviteCode: null(t.InviteCode), POCID: null(t.POCID),
		CreatedBy: t.CreatedBy, UpdatedBy: null(t.UpdatedBy), IsDeleted: t.IsDeleted, CreatedAt: at(t.CreatedAt),
		UpdatedAt: atPtr(t.UpdatedAt)}
}

// TeamOf maps a team row back.
func TeamOf(r *postgres.TeamRow) models.Team {
	return models.Team{ID: r.MongoID, Name: r.Name, Description: copyPtr(r.Description), InviteCode: str(r.InviteCode),
		POCID: str(r.POCID), CreatedBy: r.CreatedBy, UpdatedBy: str(r.UpdatedBy), IsDeleted: r.IsDeleted,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: atPtr(r.UpdatedAt), Version: r.Version}
}

// TeamMembershipRow maps a membership (a user_team_details document).
func TeamMembershipRow(m models.TeamMembership) *postgres.UserTeamDetailsRow {
	return &postgres.UserTeamDetailsRow{SyncColumns: syncCols(m.ID, m.Version), UserID: m.UserID,
		TeamID: m.TeamID, CreatedBy: m.CreatedBy, UpdatedBy: null(m.UpdatedBy), IsActive: m.IsActive,
		CreatedAt: at(m.CreatedAt), UpdatedAt: atPtr(m.UpdatedAt)}
}

// TeamMembershipOf maps a membership row back.
func TeamMembershipOf(r *postgres.UserTeamDetailsRow) models.TeamMembership {
	return models.TeamMembership{ID: r.MongoID, UserID: r.UserID, TeamID: r.TeamID, CreatedBy: r.CreatedBy,
		UpdatedBy: str(r.UpdatedBy), IsActive: r.IsActive, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: atPtr(r.UpdatedAt),
		Version: r.Version}
}

// LabelRow maps a label.
func LabelRow(l models.Label) *postgres.LabelRow {
	return &postgres.LabelRow{SyncColumns: syncCols(l.ID, l.Version), Name: l.Name, Color: l.Color,
		Description: null(l.Description), IsDeleted: l.IsDeleted, CreatedBy: null(l.CreatedBy),
		UpdatedBy: null(l.UpdatedBy), CreatedAt: at(l.CreatedAt), UpdatedAt: atPtr(l.UpdatedAt)}
}

// LabelOf maps a label row back.
func LabelOf(r *postgres.LabelRow) models.Label {
	return models.Label{ID: r.MongoID, Name: r.Name, Color: r.Color, Description: str(r.Description),
		IsDeleted: r.IsDeleted, CreatedBy: str(r.CreatedBy), UpdatedBy: str(r.UpdatedBy), CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: atPtr(r.UpdatedAt), Version: r.Version}
}

// RoleRow maps a catalogue role. Permissions is the original's column that
// no document carries; it always held {} and still does.
func RoleRow(r models.Role) *postgres.RoleRow {
	return &postgres.RoleRow{SyncColumns: syncCols(r.ID, r.Version), Name: string(r.Name),
		Description: null(r.Description), Permissions: "{}", Scope: string(r.Scope), IsActive: r.IsActive,
		CreatedBy: null(r.CreatedBy), CreatedAt: at(r.CreatedAt), UpdatedAt: atPtr(r.UpdatedAt),
		UpdatedBy: null(r.UpdatedBy)}
}

// RoleOf maps a role row back (Permissions has no field to go to).
func RoleOf(r *postgres.RoleRow) models.Role {
	return models.Role{ID: r.MongoID, Name: models.RoleName(r.Name), Description: str(r.Description),
		Scope: models.RoleScope(r.Scope), IsActive: r.IsActive, CreatedBy: str(r.CreatedBy), CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: atPtr(r.UpdatedAt), UpdatedBy: str(r.UpdatedBy), Version: r.Version}
}

// UserRoleRow maps a role grant.
func UserRoleRow(r models.UserRole) *postgres.UserRoleRow {
	return &postgres.UserRoleRow{SyncColumns: syncCols(r.ID, r.Version), UserID: r.UserID,
		RoleName: string(r.RoleName), Scope: string(r.Scope), TeamID: null(r.TeamID), IsActive: r.IsActive,
		CreatedAt: at(r.CreatedAt), CreatedBy: r.CreatedBy, UpdatedAt: atPtr(r.UpdatedAt),
		UpdatedBy: null(r.UpdatedBy)}
}

// UserRoleOf maps a role grant row back.
func UserRoleOf(r *postgres.UserRoleRow) models.UserRole {
	return models.UserRole{ID: r.MongoID, UserID: r.UserID, RoleName: models.RoleName(r.RoleName),
		Scope: models.RoleScope(r.Scope), TeamID: str(r.TeamID), IsActive: r.IsActive, CreatedAt: r.CreatedAt.UTC(),
		CreatedBy: r.CreatedBy, UpdatedAt: atPtr(r.UpdatedAt), UpdatedBy: str(r.UpdatedBy), Version: r.Version}
}

// WatchlistRow maps a watchlist entry.
func WatchlistRow(w models.WatchlistEntry) *postgres.WatchlistRow {
	return &postgres.WatchlistRow{SyncColumns: syncCols(w.ID, w.Version), TaskID: w.TaskID, UserID: w.UserID,
		IsActive: w.IsActive, CreatedBy: w.CreatedBy, CreatedAt: at(w.CreatedAt), UpdatedBy: null(w.UpdatedBy),
		UpdatedAt: atPtr(w.UpdatedAt)}
}

// WatchlistOf maps a watchlist row back.
func WatchlistOf(r *postgres.WatchlistRow) models.WatchlistEntry {
	return models.WatchlistEntry{ID: r.MongoID, TaskID: r.TaskID, UserID: r.UserID, IsActive: r.IsActive,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedBy: str(r.UpdatedBy), UpdatedAt: atPtr(r.UpdatedAt),
		Version: r.Version}
}

// AuditLogRow maps an audit entry.
func AuditLogRow(a models.AuditLog) *postgres.AuditLogRow {
	return &postgres.AuditLogRow{SyncColumns: syncCols(a.ID, a.Version), TaskID: null(a.TaskID),
		TeamID: null(a.TeamID), PreviousExecutorID: null(a.PreviousExecutorID),
		NewExecutorID: null(a.NewExecutorID), SpocID: null(a.SpocID), Action: a.Action,
		Timestamp: at(a.Timestamp), StatusFrom: null(a.StatusFrom), StatusTo: null(a.StatusTo),
		AssigneeFrom: null(a.AssigneeFrom), AssigneeTo: null(a.AssigneeTo), PerformedBy: null(a.PerformedBy),
		TargetUserID: null(a.TargetUserID)}
}

// AuditLogOf maps an audit row back.
func AuditLogOf(r *postgres.AuditLogRow) models.AuditLog {
	return models.AuditLog{ID: r.MongoID, TaskID: str(r.TaskID), TeamID: str(r.TeamID),
		PreviousExecutorID: str(r.PreviousExecutorID), NewExecutorID: str(r.NewExecutorID), SpocID: str(r.SpocID),
		Action: r.Action, Timestamp: r.Timestamp.UTC(), StatusFrom: str(r.StatusFrom), StatusTo: str(r.StatusTo),
		AssigneeFrom: str(r.AssigneeFrom), AssigneeTo: str(r.AssigneeTo), PerformedBy: str(r.PerformedBy),
		TargetUserID: str(r.TargetUserID), Version: r.Version}
}

// TeamCreationInviteCodeRow maps a team creation code.
func TeamCreationInviteCodeRow(c models.TeamCreationInviteCode) *postgres.TeamCreationInviteCodeRow {
	return &postgres.TeamCreationInviteCodeRow{SyncColumns: syncCols(c.ID, c.Version), Code: c.Code,
		Description: null(c.Description), CreatedBy: c.CreatedBy, UsedBy: null(c.UsedBy), IsUsed: c.IsUsed,
		CreatedAt: at(c.CreatedAt), UsedAt: atPtr(c.UsedAt)}
}

// TeamCreationInviteCodeOf maps a team creation code row back.
func TeamCreationInviteCodeOf(r *postgres.TeamCreationInviteCodeRow) models.TeamCreationInviteCode {
	return models.TeamCreationInviteCode{ID: r.MongoID, Code: r.Code, Description: str(r.Description),
		CreatedBy: r.CreatedBy, UsedBy: str(r.UsedBy), IsUsed: r.IsUsed, CreatedAt: r.CreatedAt.UTC(),
		UsedAt: atPtr(r.UsedAt), Version: r.Version}
}

// null maps "" to NULL.
func null(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// str maps NULL back to "".
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func zeroIfNil(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func copyPtr(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

// at is a time as the mirror stores it.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func atPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := at(*t)
	return &v
}

func atNonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return atPtr(&t)
}

// Version is the document version the record carries.
func (r Record) Version() int64 { return r.sync().Version }

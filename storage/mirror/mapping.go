package mirror

import (
	"fmt"
	"slices"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/postgres"
)

// The functions below are the one mapping from documents to rows, used to
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

// Map maps a document (a models value, or a pointer to one) to its record.
func Map(doc any) (Record, error) {
	var rec Record
	switch d := deref(doc).(type) {
	case models.User:
		rec.Row = UserRow(d)
	case models.Task:
		rec.Row, rec.Labels, rec.Deferred = TaskRows(d)
	case models.TaskAssignment:
		rec.Row = TaskAssignmentRow(d)
	case models.Team:
		rec.Row = TeamRow(d)
	case models.TeamMembership:
		rec.Row = TeamMembershipRow(d)
	case models.Label:
		rec.Row = LabelRow(d)
	case models.Role:
		rec.Row = RoleRow(d)
	case models.UserRole:
		rec.Row = UserRoleRow(d)
	case models.WatchlistEntry:
		rec.Row = WatchlistRow(d)
	case models.AuditLog:
		rec.Row = AuditLogRow(d)
	case models.TeamCreationInviteCode:
		rec.Row = TeamCreationInviteCodeRow(d)
	default:
		return Record{}, fmt.Errorf("mirror: %T is not a mirrored document", doc)
	}
	rec.Collection = Collection(doc)
	if id := rec.sync().MongoID; len(id) == 0 || len(id) > 24 {
		return Record{}, fmt.Errorf("mirror: %s document id %q: want 1 to 24 characters", rec.Collection, id)
	}
	return rec, nil
}

// sync returns the record's bookkeeping columns, for Upsert to fill in.
func (r Record) sync() *postgres.SyncColumns {
	switch row := r.Row.(type) {
	case *postgres.UserRow:
		return &row.SyncColumns
	case *postgres.TaskRow:
		return &row.SyncColumns
	case *postgres.TaskAssignmentRow:
		return &row.SyncColumns
	case *postgres.TeamRow:
		return &row.SyncColumns
	case *postgres.UserTeamDetailsRow:
		return &row.SyncColumns
	case *postgres.LabelRow:
		return &row.SyncColumns
	case *postgres.RoleRow:
		return &row.SyncColumns
	case *postgres.UserRoleRow:
		return &row.SyncColumns
	case *postgres.WatchlistRow:
		return &row.SyncColumns
	case *postgres.AuditLogRow:
		return &row.SyncColumns
	case *postgres.TeamCreationInviteCodeRow:
		return &row.SyncColumns
	}
	panic(fmt.Sprintf("mirror: record of %T", r.Row))
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

// TaskAssignmentRow maps an assignment (a task_details document).
func TaskAssignmentRow(a models.TaskAssignment) *postgres.TaskAssignmentRow {
	return &postgres.TaskAssignmentRow{SyncColumns: syncCols(a.ID, a.Version), TaskMongoID: a.TaskID,
		AssigneeID: a.AssigneeID, UserType: string(a.AssigneeType), TeamID: null(a.TeamID),
		ExecutorID: null(a.ExecutorID), IsActive: a.IsActive, CreatedAt: at(a.CreatedAt),
		UpdatedAt: atPtr(a.UpdatedAt), CreatedBy: a.CreatedBy, UpdatedBy: null(a.UpdatedBy)}
}

// TeamRow maps a team, its POC and soft deletion included.
func TeamRow(t models.Team) *postgres.TeamRow {
	return &postgres.TeamRow{SyncColumns: syncCols(t.ID, t.Version), Name: t.Name,
		Description: copyPtr(t.Description), InviteCode: null(t.InviteCode), POCID: null(t.POCID),
		CreatedBy: t.CreatedBy, UpdatedBy: null(t.UpdatedBy), IsDeleted: t.IsDeleted, CreatedAt: at(t.CreatedAt),
		UpdatedAt: atPtr(t.UpdatedAt)}
}

// TeamMembershipRow maps a membership (a user_team_details document).
func TeamMembershipRow(m models.TeamMembership) *postgres.UserTeamDetailsRow {
	return &postgres.UserTeamDetailsRow{SyncColumns: syncCols(m.ID, m.Version), UserID: m.UserID,
		TeamID: m.TeamID, CreatedBy: m.CreatedBy, UpdatedBy: null(m.UpdatedBy), IsActive: m.IsActive,
		CreatedAt: at(m.CreatedAt), UpdatedAt: atPtr(m.UpdatedAt)}
}

// LabelRow maps a label.
func LabelRow(l models.Label) *postgres.LabelRow {
	return &postgres.LabelRow{SyncColumns: syncCols(l.ID, l.Version), Name: l.Name, Color: l.Color,
		Description: null(l.Description), IsDeleted: l.IsDeleted, CreatedBy: null(l.CreatedBy),
		UpdatedBy: null(l.UpdatedBy), CreatedAt: at(l.CreatedAt), UpdatedAt: atPtr(l.UpdatedAt)}
}

// RoleRow maps a catalogue role. Permissions is the original's column that
// no document carries; it always held {} and still does.
func RoleRow(r models.Role) *postgres.RoleRow {
	return &postgres.RoleRow{SyncColumns: syncCols(r.ID, r.Version), Name: string(r.Name),
		Description: null(r.Description), Permissions: "{}", Scope: string(r.Scope), IsActive: r.IsActive,
		CreatedBy: null(r.CreatedBy), CreatedAt: at(r.CreatedAt), UpdatedAt: atPtr(r.UpdatedAt),
		UpdatedBy: null(r.UpdatedBy)}
}

// UserRoleRow maps a role grant.
func UserRoleRow(r models.UserRole) *postgres.UserRoleRow {
	return &postgres.UserRoleRow{SyncColumns: syncCols(r.ID, r.Version), UserID: r.UserID,
		RoleName: string(r.RoleName), Scope: string(r.Scope), TeamID: null(r.TeamID), IsActive: r.IsActive,
		CreatedAt: at(r.CreatedAt), CreatedBy: r.CreatedBy, UpdatedAt: atPtr(r.UpdatedAt),
		UpdatedBy: null(r.UpdatedBy)}
}

// WatchlistRow maps a watchlist entry.
func WatchlistRow(w models.WatchlistEntry) *postgres.WatchlistRow {
	return &postgres.WatchlistRow{SyncColumns: syncCols(w.ID, w.Version), TaskID: w.TaskID, UserID: w.UserID,
		IsActive: w.IsActive, CreatedBy: w.CreatedBy, CreatedAt: at(w.CreatedAt), UpdatedBy: null(w.UpdatedBy),
		UpdatedAt: atPtr(w.UpdatedAt)}
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

// TeamCreationInviteCodeRow maps a team creation code.
func TeamCreationInviteCodeRow(c models.TeamCreationInviteCode) *postgres.TeamCreationInviteCodeRow {
	return &postgres.TeamCreationInviteCodeRow{SyncColumns: syncCols(c.ID, c.Version), Code: c.Code,
		Description: null(c.Description), CreatedBy: c.CreatedBy, UsedBy: null(c.UsedBy), IsUsed: c.IsUsed,
		CreatedAt: at(c.CreatedAt), UsedAt: atPtr(c.UsedAt)}
}

// null maps "" to NULL.
func null(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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

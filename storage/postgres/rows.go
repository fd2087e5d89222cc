package postgres

import (
	"time"

	"github.com/uptrace/bun"
)

// SyncColumns are the bookkeeping columns every mirrored table has: the
// original's mongo_id/sync_status/last_sync_at/sync_error, plus the version
// of the MongoDB document the row holds, which guards every upsert.
type SyncColumns struct {
	ID         int64     `bun:"id,pk,autoincrement"`
	MongoID    string    `bun:"mongo_id,type:varchar(24),notnull,unique"`
	SyncStatus string    `bun:"sync_status,type:varchar(20),notnull,default:'SYNCED'"`
	LastSyncAt time.Time `bun:"last_sync_at,notnull,default:current_timestamp"`
	SyncError  *string   `bun:"sync_error"`
	Version    int64     `bun:"version,notnull,default:0"`
}

// Sync returns the columns, so code holding any row struct reaches them.
func (c *SyncColumns) Sync() *SyncColumns { return c }

// The row structs follow the original mirror's tables and columns
// (reference §8.2). Columns beyond those are marked: they carry fields the
// original dropped, so the mirror holds everything MongoDB holds.
//
// A column whose Go zero value is a real value (is_active = false) has no
// `default:` tag: bun inserts DEFAULT for a zero field that has one, which
// would store every inactive row as active.

// UserRow mirrors users.
type UserRow struct {
	bun.BaseModel `bun:"table:postgres_users"`
	SyncColumns
	GoogleID  *string    `bun:"google_id,type:varchar(255),unique"`
	EmailID   string     `bun:"email_id,type:varchar(255),notnull"`
	Name      string     `bun:"name,type:varchar(255),notnull"`
	Picture   *string    `bun:"picture,type:varchar(500)"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	UpdatedAt *time.Time `bun:"updated_at"`
}

// TaskRow mirrors tasks; labels and deferral live in child tables.
type TaskRow struct {
	bun.BaseModel `bun:"table:postgres_tasks"`
	SyncColumns
	DisplayID      *string    `bun:"display_id,type:varchar(100)"`
	Title          string     `bun:"title,type:varchar(500),notnull"`
	Description    *string    `bun:"description"`
	Priority       int        `bun:"priority,notnull,default:3"`
	Status         string     `bun:"status,type:varchar(20),notnull,default:'TODO'"`
	IsAcknowledged bool       `bun:"is_acknowledged,notnull,default:false"`
	IsDeleted      bool       `bun:"is_deleted,notnull,default:false"`
	StartedAt      *time.Time `bun:"started_at"`
	DueAt          *time.Time `bun:"due_at"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
	UpdatedAt      *time.Time `bun:"updated_at"`
	CreatedBy      string     `bun:"created_by,type:varchar(255),notnull"`
	UpdatedBy      *string    `bun:"updated_by,type:varchar(255)"`
}

// TaskLabelRow is one label of a task (the junction the original left empty).
type TaskLabelRow struct {
	bun.BaseModel `bun:"table:postgres_task_labels"`
	ID            int64     `bun:"id,pk,autoincrement"`
	TaskID        int64     `bun:"task_id,notnull"`
	LabelMongoID  string    `bun:"label_mongo_id,type:varchar(24),notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// DeferredDetailsRow is the deferral of a task, one-to-one.
type DeferredDetailsRow struct {
	bun.BaseModel `bun:"table:postgres_deferred_details"`
	ID            int64      `bun:"id,pk,autoincrement"`
	TaskID        int64      `bun:"task_id,notnull,unique"`
	DeferredAt    *time.Time `bun:"deferred_at"`
	DeferredTill  *time.Time `bun:"deferred_till"`
	DeferredBy    *string    `bun:"deferred_by,type:varchar(255)"`
	CreatedAt     time.Time  `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt     time.Time  `bun:"updated_at,notnull,default:current_timestamp"`
}

// TeamRow mirrors teams.
type TeamRow struct {
	bun.BaseModel `bun:"table:postgres_teams"`
	SyncColumns
	Name        string     `bun:"name,type:varchar(100),notnull"`
	Description *string    `bun:"description"`
	InviteCode  *string    `bun:"invite_code,type:varchar(100),unique"`
	POCID       *string    `bun:"poc_id,type:varchar(255)"`
	CreatedBy   string     `bun:"created_by,type:varchar(255),notnull"`
	UpdatedBy   *string    `bun:"updated_by,type:varchar(255)"`
	IsDeleted   bool       `bun:"is_deleted,notnull,default:false"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UpdatedAt   *time.Time `bun:"updated_at"`
}

// UserTeamDetailsRow mirrors team memberships.
type UserTeamDetailsRow struct {
	bun.BaseModel `bun:"table:postgres_user_team_details"`
	SyncColumns
	UserID    string     `bun:"user_id,type:varchar(255),notnull"`
	TeamID    string     `bun:"team_id,type:varchar(255),notnull"`
	CreatedBy string     `bun:"created_by,type:varchar(255),notnull"`
	UpdatedBy *string    `bun:"updated_by,type:varchar(255)"`
	IsActive  bool       `bun:"is_active,notnull"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	UpdatedAt *time.Time `bun:"updated_at"`
}

// LabelRow mirrors labels. is_deleted, created_by and updated_by are ours.
type LabelRow struct {
	bun.BaseModel `bun:"table:postgres_labels"`
	SyncColumns
	Name        string     `bun:"name,type:varchar(100),notnull,unique"`
	Color       string     `bun:"color,type:varchar(20),notnull,default:'#000000'"`
	Description *string    `bun:"description"`
	IsDeleted   bool       `bun:"is_deleted,notnull,default:false"`
	CreatedBy   *string    `bun:"created_by,type:varchar(255)"`
	UpdatedBy   *string    `bun:"updated_by,type:varchar(255)"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UpdatedAt   *time.Time `bun:"updated_at"`
}

// RoleRow mirrors the role catalogue. scope, is_active, created_by and
// updated_by are ours: the original's table lost them, and with them which
// role is which.
type RoleRow struct {
	bun.BaseModel `bun:"table:postgres_roles"`
	SyncColumns
	Name        string     `bun:"name,type:varchar(100),notnull"`
	Description *string    `bun:"description"`
	Permissions string     `bun:"permissions,type:text,notnull,default:'{}'"`
	Scope       string     `bun:"scope,type:varchar(20),notnull,default:'GLOBAL'"`
	IsActive    bool       `bun:"is_active,notnull"`
	CreatedBy   *string    `bun:"created_by,type:varchar(255)"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UpdatedAt   *time.Time `bun:"updated_at"`
	UpdatedBy   *string    `bun:"updated_by,type:varchar(255)"`
}

// TaskAssignmentRow mirrors task_details. executor_id is ours.
type TaskAssignmentRow struct {
	bun.BaseModel `bun:"table:postgres_task_assignments"`
	SyncColumns
	TaskMongoID string     `bun:"task_mongo_id,type:varchar(24),notnull"`
	AssigneeID  string     `bun:"assignee_id,type:varchar(24),notnull"`
	UserType    string     `bun:"user_type,type:varchar(10),notnull"`
	TeamID      *string    `bun:"team_id,type:varchar(24)"`
	ExecutorID  *string    `bun:"executor_id,type:varchar(24)"`
	IsActive    bool       `bun:"is_active,notnull"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UpdatedAt   *time.Time `bun:"updated_at"`
	CreatedBy   string     `bun:"created_by,type:varchar(255),notnull"`
	UpdatedBy   *string    `bun:"updated_by,type:varchar(255)"`
}

// WatchlistRow mirrors watchlist.
type WatchlistRow struct {
	bun.BaseModel `bun:"table:postgres_watchlist"`
	SyncColumns
	TaskID    string     `bun:"task_id,type:varchar(24),notnull"`
	UserID    string     `bun:"user_id,type:varchar(24),notnull"`
	IsActive  bool       `bun:"is_active,notnull"`
	CreatedBy string     `bun:"created_by,type:varchar(255),notnull"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	UpdatedBy *string    `bun:"updated_by,type:varchar(255)"`
	UpdatedAt *time.Time `bun:"updated_at"`
}

// UserRoleRow mirrors user_roles. updated_at and updated_by are ours.
type UserRoleRow struct {
	bun.BaseModel `bun:"table:postgres_user_roles"`
	SyncColumns
	UserID    string     `bun:"user_id,type:varchar(24),notnull"`
	RoleName  string     `bun:"role_name,type:varchar(50),notnull"`
	Scope     string     `bun:"scope,type:varchar(20),notnull"`
	TeamID    *string    `bun:"team_id,type:varchar(24)"`
	IsActive  bool       `bun:"is_active,notnull"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	CreatedBy string     `bun:"created_by,type:varchar(255),notnull,default:'system'"`
	UpdatedAt *time.Time `bun:"updated_at"`
	UpdatedBy *string    `bun:"updated_by,type:varchar(255)"`
}

// AuditLogRow mirrors audit_logs. target_user_id is ours.
type AuditLogRow struct {
	bun.BaseModel `bun:"table:postgres_audit_logs"`
	SyncColumns
	TaskID             *string   `bun:"task_id,type:varchar(24)"`
	TeamID             *string   `bun:"team_id,type:varchar(24)"`
	PreviousExecutorID *string   `bun:"previous_executor_id,type:varchar(24)"`
	NewExecutorID      *string   `bun:"new_executor_id,type:varchar(24)"`
	SpocID             *string   `bun:"spoc_id,type:varchar(24)"`
	Action             string    `bun:"action,type:varchar(100),notnull"`
	Timestamp          time.Time `bun:"timestamp,notnull"`
	StatusFrom         *string   `bun:"status_from,type:varchar(20)"`
	StatusTo           *string   `bun:"status_to,type:varchar(20)"`
	AssigneeFrom       *string   `bun:"assignee_from,type:varchar(24)"`
	AssigneeTo         *string   `bun:"assignee_to,type:varchar(24)"`
	PerformedBy        *string   `bun:"performed_by,type:varchar(24)"`
	TargetUserID       *string   `bun:"target_user_id,type:varchar(24)"`
}

// TeamCreationInviteCodeRow mirrors team_creation_invite_codes.
type TeamCreationInviteCodeRow struct {
	bun.BaseModel `bun:"table:postgres_team_creation_invite_codes"`
	SyncColumns
	Code        string     `bun:"code,type:varchar(100),notnull,unique"`
	Description *string    `bun:"description"`
	CreatedBy   string     `bun:"created_by,type:varchar(255),notnull"`
	UsedBy      *string    `bun:"used_by,type:varchar(255)"`
	IsUsed      bool       `bun:"is_used,notnull,default:false"`
	CreatedAt   time.Time  `bun:"created_at,notnull"`
	UsedAt      *time.Time `bun:"used_at"`
}

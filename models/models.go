// Package models holds the domain types of the service: what a task, a team or
// a user is, independent of how MongoDB or the mirror store them. gqlgen binds
// the GraphQL schema to these types.
//
// Identifiers are the 24-hex strings of MongoDB ObjectIds, the form existing
// clients already use. A few references of the original service hold other
// strings (a creator of "system" for seeded rows), so references stay strings.
package models

import "time"

// Label is a tag that tasks carry.
type Label struct {
	ID          string
	Name        string
	Color       string
	Description string
	IsDeleted   bool
	CreatedAt   time.Time
	UpdatedAt   *time.Time
	CreatedBy   string
	UpdatedBy   string
	Version     int64
}

// User is a person who signed in.
type User struct {
	ID        string
	GoogleID  string
	Email     string
	Name      string
	Picture   string
	CreatedAt time.Time
	UpdatedAt *time.Time
	Version   int64
}

// Priority is stored as the original's integers: HIGH=1, MEDIUM=2, LOW=3.
type Priority int

// Priorities, in the original's numbering.
const (
	PriorityHigh   Priority = 1
	PriorityMedium Priority = 2
	PriorityLow    Priority = 3
)

// TaskStatus is the stored status of a task. DEFERRED is normally derived
// from DeferredDetails, not stored.
type TaskStatus string

// Task statuses.
const (
	StatusTodo       TaskStatus = "TODO"
	StatusInProgress TaskStatus = "IN_PROGRESS"
	StatusDeferred   TaskStatus = "DEFERRED"
	StatusBlocked    TaskStatus = "BLOCKED"
	StatusDone       TaskStatus = "DONE"
)

// Task is a unit of work.
type Task struct {
	ID              string
	DisplayID       string
	Title           string
	Description     *string
	Priority        Priority
	Status          TaskStatus
	IsAcknowledged  bool
	IsDeleted       bool
	LabelIDs        []string
	DeferredDetails *DeferredDetails
	StartedAt       *time.Time
	DueAt           *time.Time
	CreatedAt       time.Time
	UpdatedAt       *time.Time
	CreatedBy       string
	UpdatedBy       string
	Version         int64
}

// DeferredDetails says until when a task is put aside, and by whom.
type DeferredDetails struct {
	DeferredAt   time.Time
	DeferredTill time.Time
	DeferredBy   string
}

// AssigneeType says whether an assignment points at a user or a team.
type AssigneeType string

// Assignee types, as the original stored them.
const (
	AssigneeUser AssigneeType = "user"
	AssigneeTeam AssigneeType = "team"
)

// TaskAssignment links a task to a user or a team; one is active per task,
// the inactive ones are its history.
type TaskAssignment struct {
	ID           string
	TaskID       string
	AssigneeID   string
	AssigneeType AssigneeType
	// TeamID is the team context: the team itself for team assignments, the
	// team a member works for when a team task was handed to them.
	TeamID     string
	IsActive   bool
	ExecutorID string
	CreatedBy  string
	UpdatedBy  string
	CreatedAt  time.Time
	UpdatedAt  *time.Time
	Version    int64
}

// Team is a group of users with a point of contact (POC).
type Team struct {
	ID          string
	Name        string
	Description *string
	POCID       string
	InviteCode  string
	CreatedBy   string
	UpdatedBy   string
	CreatedAt   time.Time
	UpdatedAt   *time.Time
	IsDeleted   bool
	Version     int64
}

// TeamMembership is one user's membership of one team.
type TeamMembership struct {
	ID        string
	UserID    string
	TeamID    string
	IsActive  bool
	CreatedBy string
	UpdatedBy string
	CreatedAt time.Time
	UpdatedAt *time.Time
	Version   int64
}

// RoleScope says whether a role applies everywhere or inside one team.
type RoleScope string

// Role scopes.
const (
	ScopeGlobal RoleScope = "GLOBAL"
	ScopeTeam   RoleScope = "TEAM"
)

// RoleName names a role. It is stored in lower case, as the original did.
type RoleName string

// Role names of the catalogue.
const (
	RoleModerator RoleName = "moderator"
	RoleAdmin     RoleName = "admin"
	RoleOwner     RoleName = "owner"
	RoleMember    RoleName = "member"
)

// Role is an entry of the role catalogue.
type Role struct {
	ID          string
	Name        RoleName
	Description string
	Scope       RoleScope
	IsActive    bool
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedBy   string
	UpdatedAt   *time.Time
	Version     int64
}

// UserRole grants a role to a user, globally or in one team.
type UserRole struct {
	ID        string
	UserID    string
	RoleName  RoleName
	Scope     RoleScope
	TeamID    string
	IsActive  bool
	CreatedAt time.Time
	CreatedBy string
	UpdatedAt *time.Time
	UpdatedBy string
	Version   int64
}

// WatchlistEntry is one user's bookmark of one task.
type WatchlistEntry struct {
	ID        string
	TaskID    string
	UserID    string
	IsActive  bool
	CreatedAt time.Time
	CreatedBy string
	UpdatedAt *time.Time
	UpdatedBy string
	Version   int64
}

// AuditLog records one action. TargetUserID is the subject the original lost
// (the member added or removed, the new POC).
type AuditLog struct {
	ID                 string
	Action             string
	TaskID             string
	TeamID             string
	PreviousExecutorID string
	NewExecutorID      string
	SpocID             string
	StatusFrom         string
	StatusTo           string
	AssigneeFrom       string
	AssigneeTo         string
	// ValueFrom and ValueTo are the values before and after of a change
	// that is neither a status nor an id: a read source setting, longer
	// than the mirror's assignee columns hold (varchar(24)).
	ValueFrom    string
	ValueTo      string
	PerformedBy  string
	TargetUserID string
	Timestamp    time.Time
	Version      int64
}

// TeamCreationInviteCode is a one-time code, minted by an admin, that lets a
// user create a team.
type TeamCreationInviteCode struct {
	ID          string
	Code        string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	UsedAt      *time.Time
	UsedBy      string
	IsUsed      bool
	Version     int64
}

// IsDeferred reports whether the task reads as DEFERRED at now.
func (t Task) IsDeferred(now time.Time) bool {
	return t.DeferredDetails != nil && t.DeferredDetails.DeferredTill.After(now)
}

// CurrentStatus is the status the API shows now: the GraphQL field status
// binds to it, so gqlgen reads it inline rather than in a goroutine of its
// own (a resolver) for every task of a page.
func (t Task) CurrentStatus() TaskStatus { return t.ReportedStatus(time.Now()) }

// ReportedStatus is the status clients see: DEFERRED while deferred.
func (t Task) ReportedStatus(now time.Time) TaskStatus {
	if t.Status != StatusDone && t.IsDeferred(now) {
		return StatusDeferred
	}
	if t.Status == "" {
		return StatusTodo
	}
	return t.Status
}

// TeamMember is a member of a team as the API shows them.
type TeamMember struct {
	UserID  string
	TeamID  string
	AddedAt time.Time
}

// IsAssignee marks User as a member of the GraphQL union Assignee.
func (User) IsAssignee() {}

// IsAssignee marks Team as a member of the GraphQL union Assignee.
func (Team) IsAssignee() {}

// ValidID tells a 24-hex MongoDB ObjectId, the form of every id the API
// takes, from anything else a client may send.
func ValidID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

package models

import "context"

// The connection types below are Relay pages. Each carries, unexported to
// the schema, the count of its whole selection as a function, so totalCount
// costs a query only when a client asks for it.

// PageInfo says where a page of a connection starts and ends.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// Counter counts a connection's whole selection.
type Counter func(ctx context.Context) (int, error)

func (c Counter) count(ctx context.Context) (int, error) {
	if c == nil {
		return 0, nil
	}
	return c(ctx)
}

// LabelEdge is one label of a page with its cursor.
type LabelEdge struct {
	Cursor string
	Node   Label
}

// LabelConnection is a page of labels.
type LabelConnection struct {
	Edges    []LabelEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the labels of the page without their cursors.
func (c *LabelConnection) Nodes() []Label {
	return nodes(c.Edges, func(e LabelEdge) Label { return e.Node })
}

// TotalCount counts every label the query matches.
func (c *LabelConnection) TotalCount(ctx context.Context) (int, error) { return c.Count.count(ctx) }

// TeamCreationInviteCodeEdge is one code of a page with its cursor.
type TeamCreationInviteCodeEdge struct {
	Cursor string
	Node   TeamCreationInviteCode
}

// TeamCreationInviteCodeConnection is a page of team-creation codes.
type TeamCreationInviteCodeConnection struct {
	Edges    []TeamCreationInviteCodeEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the codes of the page.
func (c *TeamCreationInviteCodeConnection) Nodes() []TeamCreationInviteCode {
	return nodes(c.Edges, func(e TeamCreationInviteCodeEdge) TeamCreationInviteCode { return e.Node })
}

// TotalCount counts every code.
func (c *TeamCreationInviteCodeConnection) TotalCount(ctx context.Context) (int, error) {
	return c.Count.count(ctx)
}

// TaskEdge is one task of a page with its cursor.
type TaskEdge struct {
	Cursor string
	Node   Task
}

// TaskConnection is a page of tasks.
type TaskConnection struct {
	Edges    []TaskEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the tasks of the page.
func (c *TaskConnection) Nodes() []Task {
	return nodes(c.Edges, func(e TaskEdge) Task { return e.Node })
}

// TotalCount counts every task the filter lists.
func (c *TaskConnection) TotalCount(ctx context.Context) (int, error) { return c.Count.count(ctx) }

// TeamMemberEdge is one member of a page with its cursor.
type TeamMemberEdge struct {
	Cursor string
	Node   TeamMember
}

// TeamMemberConnection is a page of team members.
type TeamMemberConnection struct {
	Edges    []TeamMemberEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the members of the page.
func (c *TeamMemberConnection) Nodes() []TeamMember {
	return nodes(c.Edges, func(e TeamMemberEdge) TeamMember { return e.Node })
}

// TotalCount counts the team's members.
func (c *TeamMemberConnection) TotalCount(ctx context.Context) (int, error) {
	return c.Count.count(ctx)
}

// AuditLogEdge is one entry of a page with its cursor.
type AuditLogEdge struct {
	Cursor string
	Node   AuditLog
}

// AuditLogConnection is a page of audit entries.
type AuditLogConnection struct {
	Edges    []AuditLogEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the entries of the page.
func (c *AuditLogConnection) Nodes() []AuditLog {
	return nodes(c.Edges, func(e AuditLogEdge) AuditLog { return e.Node })
}

// TotalCount counts every matching entry.
func (c *AuditLogConnection) TotalCount(ctx context.Context) (int, error) { return c.Count.count(ctx) }

// UserEdge is one user of a page with its cursor.
type UserEdge struct {
	Cursor string
	Node   User
}

// UserConnection is a page of users.
type UserConnection struct {
	Edges    []UserEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the users of the page.
func (c *UserConnection) Nodes() []User {
	return nodes(c.Edges, func(e UserEdge) User { return e.Node })
}

// TotalCount counts every matching user.
func (c *UserConnection) TotalCount(ctx context.Context) (int, error) { return c.Count.count(ctx) }

func nodes[E, N any](edges []E, node func(E) N) []N {
	out := make([]N, len(edges))
	for i, e := range edges {
		out[i] = node(e)
	}
	return out
}

// SyncFailureEdge is one failure of a page with its cursor.
type SyncFailureEdge struct {
	Cursor string
	Node   SyncFailure
}

// SyncFailureConnection is a page of sync failures.
type SyncFailureConnection struct {
	Edges    []SyncFailureEdge
	PageInfo PageInfo
	Count    Counter
}

// Nodes returns the failures of the page.
func (c *SyncFailureConnection) Nodes() []SyncFailure {
	return nodes(c.Edges, func(e SyncFailureEdge) SyncFailure { return e.Node })
}

// TotalCount counts every matching failure.
func (c *SyncFailureConnection) TotalCount(ctx context.Context) (int, error) {
	return c.Count.count(ctx)
}

package models

import (
	"io"
	"strconv"
	"strings"
)

// The GraphQL enums below are bound to the stored forms: the schema speaks
// UPPER_CASE, the database keeps what the original wrote.

// MarshalGQL writes the role name in upper case.
func (r RoleName) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(strings.ToUpper(string(r))))
}

// UnmarshalGQL reads an upper-case role name.
func (r *RoleName) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return inputErrorf("role name must be a string, got %T", v)
	}
	switch n := RoleName(strings.ToLower(s)); n {
	case RoleModerator, RoleAdmin, RoleOwner, RoleMember:
		*r = n
		return nil
	}
	return inputErrorf("%q is not a role name", s)
}

// MarshalGQL writes the scope as stored (GLOBAL or TEAM).
func (s RoleScope) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads GLOBAL or TEAM.
func (s *RoleScope) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return inputErrorf("role scope must be a string, got %T", v)
	}
	switch sc := RoleScope(str); sc {
	case ScopeGlobal, ScopeTeam:
		*s = sc
		return nil
	}
	return inputErrorf("%q is not a role scope", str)
}

// MarshalGQL writes the priority's name (the store keeps the number).
func (p Priority) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(p.String())) }

// UnmarshalGQL reads HIGH, MEDIUM or LOW.
func (p *Priority) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return inputErrorf("priority must be a string, got %T", v)
	}
	switch s {
	case "HIGH":
		*p = PriorityHigh
	case "MEDIUM":
		*p = PriorityMedium
	case "LOW":
		*p = PriorityLow
	default:
		return inputErrorf("%q is not a priority (HIGH, MEDIUM or LOW)", s)
	}
	return nil
}

// String names the priority; an unknown number (bad legacy data) reads LOW,
// the original's default.
func (p Priority) String() string {
	switch p {
	case PriorityHigh:
		return "HIGH"
	case PriorityMedium:
		return "MEDIUM"
	default:
		return "LOW"
	}
}

// MarshalGQL writes the status as stored.
func (s TaskStatus) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a status name.
func (s *TaskStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return inputErrorf("status must be a string, got %T", v)
	}
	switch st := TaskStatus(str); st {
	case StatusTodo, StatusInProgress, StatusDeferred, StatusBlocked, StatusDone:
		*s = st
		return nil
	}
	return inputErrorf("%q is not a task status", str)
}

// AllStatuses lists the statuses in their display order.
var AllStatuses = []TaskStatus{StatusTodo, StatusInProgress, StatusDeferred, StatusBlocked, StatusDone}

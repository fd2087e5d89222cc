package models

import (
	"fmt"
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
		return fmt.Errorf("role name must be a string, got %T", v)
	}
	switch n := RoleName(strings.ToLower(s)); n {
	case RoleModerator, RoleAdmin, RoleOwner, RoleMember:
		*r = n
		return nil
	}
	return fmt.Errorf("%q is not a role name", s)
}

// MarshalGQL writes the scope as stored (GLOBAL or TEAM).
func (s RoleScope) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads GLOBAL or TEAM.
func (s *RoleScope) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("role scope must be a string, got %T", v)
	}
	switch sc := RoleScope(str); sc {
	case ScopeGlobal, ScopeTeam:
		*s = sc
		return nil
	}
	return fmt.Errorf("%q is not a role scope", str)
}

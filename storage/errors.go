package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors of the facade. Callers test them with errors.Is; the
// GraphQL error presenter maps each to one extensions.code.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("forbidden")
	ErrInvalid   = errors.New("invalid input")
	// ErrTokenReused: a refresh token was presented after it had been used
	// or revoked, the sign of a stolen token.
	ErrTokenReused = errors.New("refresh token reused")
	// ErrStale: a document changed between the read a change was decided on
	// and the change's write, which therefore did not happen. The caller
	// reads again and decides again (rules and permissions included); if it
	// does not, the client sees a CONFLICT.
	ErrStale = fmt.Errorf("%w: changed while this change was being made; try again", ErrConflict)
	// ErrUnavailable: a store did not answer in time (an admin command
	// during a partition); the message names it.
	ErrUnavailable = errors.New("unavailable")
)

// FieldError is invalid input in one named argument or input field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Unwrap makes every FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// invalid builds a FieldError.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

package models

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// InputError is a value a client sent that cannot be read as its GraphQL
// type (an unknown enum value, a malformed time). The error presenter turns
// it into BAD_USER_INPUT naming the argument.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// MarshalTime writes the Time scalar: RFC 3339 in UTC, with the
// milliseconds MongoDB keeps.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format("2006-01-02T15:04:05.000Z07:00")))
	})
}

// UnmarshalTime reads the Time scalar: an RFC 3339 timestamp with an offset.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, inputErrorf("a time must be an RFC 3339 string, got %T", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, inputErrorf("%q is not an RFC 3339 time such as 2026-11-25T21:00:00Z", s)
	}
	return t.UTC(), nil
}

// MarshalString writes the String scalar as gqlgen does.
func MarshalString(s string) graphql.Marshaler { return graphql.MarshalString(s) }

// UnmarshalString reads the String scalar strictly: a number or a boolean
// where a string belongs is the client's mistake (the GraphQL spec's input
// coercion), not something to turn into "123".
func UnmarshalString(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", inputErrorf("expected a string, got %T", v)
}

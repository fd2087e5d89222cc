package resolvers

import (
	"context"
	"errors"
	"log/slog"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// Error codes clients see in extensions.code (SPEC §4).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeUnprocessable   = "UNPROCESSABLE"
	CodeRateLimited     = "RATE_LIMITED"
	// CodeUnavailable: a store did not answer in time (an admin command
	// during a partition); the message names it.
	CodeUnavailable = "UNAVAILABLE"
	CodeInternal    = "INTERNAL"
)

// ErrUnprocessable: the request is well-formed but breaks a business rule
// (deferring past the due date, handing a non-team task to a member).
var ErrUnprocessable = errors.New("unprocessable")

// ErrorPresenter is the one place where errors become GraphQL errors: the
// facade's sentinels map to codes, and anything unexpected is logged with the
// request id and shown to the client only as INTERNAL with that id.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		var fe *storage.FieldError
		var ie *models.InputError
		switch {
		case errors.As(err, &ie):
			// A value that could not be read as its type: name the argument
			// or input field it came in.
			gerr.Message = ie.Msg
			gerr.Extensions["code"] = CodeBadUserInput
			if f := lastField(gerr.Path); f != "" {
				gerr.Extensions["field"] = f
			}
		case errors.Is(err, ErrUnauthenticated):
			gerr.Extensions["code"] = CodeUnauthenticated
		case errors.As(err, &fe):
			gerr.Message = fe.Error()
			gerr.Extensions["code"] = CodeBadUserInput
			gerr.Extensions["field"] = fe.Field
		case errors.Is(err, storage.ErrInvalid):
			gerr.Extensions["code"] = CodeBadUserInput
		case errors.Is(err, storage.ErrNotFound):
			gerr.Extensions["code"] = CodeNotFound
		case errors.Is(err, storage.ErrForbidden):
			gerr.Extensions["code"] = CodeForbidden
		case errors.Is(err, storage.ErrConflict):
			gerr.Extensions["code"] = CodeConflict
		case errors.Is(err, ErrUnprocessable):
			gerr.Extensions["code"] = CodeUnprocessable
		case errors.Is(err, storage.ErrRateLimited):
			gerr.Extensions["code"] = CodeRateLimited
		case errors.Is(err, storage.ErrUnavailable):
			gerr.Message = shorten(err.Error(), 300)
			gerr.Extensions["code"] = CodeUnavailable
		case errors.Is(err, context.Canceled):
			// The client hung up: nobody reads this, and it is no fault.
			log.DebugContext(ctx, "graphql: request cancelled", "request_id", requestid.From(ctx), "path", gerr.Path.String())
			gerr.Message = "the request was cancelled"
			gerr.Extensions = map[string]any{"code": CodeInternal, "requestId": requestid.From(ctx)}
		case errors.Is(err, context.DeadlineExceeded):
			// The server's doing, not the client's: INTERNAL, but saying what.
			id := requestid.From(ctx)
			gerr.Message = "the request ran out of time (REQUEST_TIMEOUT); try again or ask for less"
			gerr.Extensions = map[string]any{"code": CodeInternal, "requestId": id}
		case isRequestError(gerr):
			// Parse, validation and cost errors: the client's query is at
			// fault, and the message says how.
			gerr.Extensions["code"] = CodeBadUserInput
		default:
			id := requestid.From(ctx)
			log.ErrorContext(ctx, "graphql: internal error", "request_id", id, "path", gerr.Path.String(), "err", shorten(err.Error(), 2000))
			gerr.Message = "internal error"
			gerr.Extensions = map[string]any{"code": CodeInternal, "requestId": id}
		}
		return gerr
	}
}

// shorten keeps at most n bytes of s (cut at a rune boundary), marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// lastField names the innermost argument or field of an error path.
func lastField(p ast.Path) string {
	for i := len(p) - 1; i >= 0; i-- {
		if name, ok := p[i].(ast.PathName); ok {
			return string(name)
		}
	}
	return ""
}

// isRequestError tells errors about the request itself (it did not parse,
// validate or fit the cost limits) from failures while resolving it.
func isRequestError(e *gqlerror.Error) bool {
	switch e.Extensions["code"] {
	case errcode.ParseFailed, errcode.ValidationFailed, "COMPLEXITY_LIMIT_EXCEEDED", CodeBadUserInput:
		return true
	}
	return false
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/todo-backend/todo/models"
)

// depthLimit rejects operations nested deeper than max before any resolver
// runs. Complexity alone does not stop a narrow but very deep query. It
// bounds data: introspection has its own bound, MaxIntrospectionLists,
// checked with the document's limits.
type depthLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = depthLimit{}
	_ graphql.OperationContextMutator = depthLimit{}
)

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0); depth > d.max {
		err := gqlerror.Errorf("operation is nested %d levels deep, more than the limit of %d", depth, d.max)
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	return nil
}

// selectionDepth counts nested fields; fragments add no level of their own,
// and introspection (__schema and __type, which validation allows at the
// root only) none at all. The cap on level stops the walk even on a
// fragment cycle, which validation refuses anyway.
func selectionDepth(set ast.SelectionSet, level int) int {
	if level > 64 {
		return level
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if isIntrospection(s.Name) {
				continue
			}
			d = 1 + selectionDepth(s.SelectionSet, level+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, level+1)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = selectionDepth(s.Definition.SelectionSet, level+1)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// pageLimit refuses a `first` argument outside 0..max anywhere in the
// operation before any resolver runs, with a message naming the field.
type pageLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = pageLimit{}
	_ graphql.OperationContextMutator = pageLimit{}
)

func (pageLimit) ExtensionName() string                   { return "PageLimit" }
func (pageLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (p pageLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	return eachArgument(oc.Operation.SelectionSet, oc.Variables, 0, func(f *ast.Field, name string, v any) *gqlerror.Error {
		if n, ok := asInt(v); name == "first" && ok && (n < 0 || n > int64(p.max)) {
			err := gqlerror.Errorf("%s: first must be between 0 and %d, got %d", f.Name, p.max, n)
			errcode.Set(err, errcode.ValidationFailed)
			err.Extensions["field"] = "first"
			return err
		}
		return nil
	})
}

// eachArgument calls fn with the value of every argument of every field of
// the operation (fragments followed), stopping at the first error. The
// documents it walks passed documentLimits, so the walk is short.
func eachArgument(set ast.SelectionSet, vars map[string]any, level int, fn func(f *ast.Field, name string, v any) *gqlerror.Error) *gqlerror.Error {
	if level > 64 {
		return nil
	}
	for _, sel := range set {
		var sub ast.SelectionSet
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				v, err := arg.Value.Value(vars)
				if err != nil {
					continue // validation has refused it already
				}
				if gerr := fn(s, arg.Name, v); gerr != nil {
					return gerr
				}
			}
			sub = s.SelectionSet
		case *ast.InlineFragment:
			sub = s.SelectionSet
		case *ast.FragmentSpread:
			if s.Definition != nil {
				sub = s.Definition.SelectionSet
			}
		}
		if gerr := eachArgument(sub, vars, level+1, fn); gerr != nil {
			return gerr
		}
	}
	return nil
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// Bounds on every string a client sends (SPEC §5.4): at most MaxString
// characters (MaxSearch for a search), and no control characters but tab,
// line feed and carriage return. Resolvers hold the tighter bounds of their
// fields (a title's 500); these hold for every argument, however nested, so
// no input reaches a regex or a BSON document unbounded.
const (
	MaxString = 10000
	MaxSearch = 200
)

// inputLimits checks the string values of every argument of the operation,
// literal or variable, before any resolver runs.
type inputLimits struct{}

var (
	_ graphql.HandlerExtension        = inputLimits{}
	_ graphql.OperationContextMutator = inputLimits{}
)

func (inputLimits) ExtensionName() string                   { return "InputLimits" }
func (inputLimits) Validate(graphql.ExecutableSchema) error { return nil }
func (inputLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	return eachArgument(oc.Operation.SelectionSet, oc.Variables, 0, func(_ *ast.Field, name string, v any) *gqlerror.Error {
		return checkValue(name, name, v)
	})
}

// checkValue checks a value at path whose innermost name is name.
// Variables are at most MaxInputDepth deep (documentLimits); literals are
// bounded by the parser's tokens.
func checkValue(path, name string, v any) *gqlerror.Error {
	switch x := v.(type) {
	case string:
		limit := MaxString
		if name == "search" {
			limit = MaxSearch
		}
		if models.HasControl(x) {
			return inputError(path, "must not contain control characters")
		}
		if n := utf8.RuneCountInString(x); n > limit {
			return inputError(path, fmt.Sprintf("at most %d characters, got %d", limit, n))
		}
	case map[string]any:
		for k, e := range x {
			if gerr := checkValue(path+"."+k, k, e); gerr != nil {
				return gerr
			}
		}
	case []any:
		for _, e := range x {
			if gerr := checkValue(path, name, e); gerr != nil {
				return gerr
			}
		}
	}
	return nil
}

func inputError(field, msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s: %s", field, msg)
	errcode.Set(err, "BAD_USER_INPUT")
	err.Extensions["field"] = field
	return err
}

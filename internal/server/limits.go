package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// depthLimit rejects operations nested deeper than max before any resolver
// runs. Complexity alone does not stop a narrow but very deep query.
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

// selectionDepth counts nested fields; fragments add no level of their own.
// The cap on level stops the walk even on a fragment cycle, which validation
// refuses anyway.
func selectionDepth(set ast.SelectionSet, level int) int {
	if level > 64 {
		return level
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
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

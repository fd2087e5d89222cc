package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits on a GraphQL document, checked before validation (SPEC §5.4).
// Validation is where a hostile document costs: OverlappingFieldsCanBeMerged
// is quadratic in the fields of a selection set, and a complexity limit
// checked after it comes too late. Every legitimate client of this API stays
// far inside them (the frontend's largest document has about 60 fields,
// GraphiQL's introspection query about 100).
const (
	MaxDocumentBytes = 32 << 10 // the query text, POST or GET (variables may use the rest of the body)
	MaxTokens        = 5000     // parser tokens
	MaxFields        = 1000     // fields, fragments expanded
	MaxAliases       = 50
	MaxRootFields    = 20
	MaxDuplicates    = 20 // selections of a response key already selected in the same set
)

// documentLimits refuses, before validation, a document over any of the
// limits above or MaxDepth deep. It parses the document itself (linear,
// bounded by the token limit) unless the query cache already holds it,
// validated, from an earlier request; the walk stops as soon as a limit is
// passed, so fragments spread inside fragments cannot make it long.
type documentLimits struct {
	cache graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = documentLimits{}
	_ graphql.OperationParameterMutator = documentLimits{}
)

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if n := len(p.Query); n > MaxDocumentBytes {
		return limitError("the document has %d bytes, more than the limit of %d", n, MaxDocumentBytes)
	}
	if d.cache != nil {
		if _, ok := d.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, MaxTokens)
	if err != nil {
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) {
			errcode.Set(gerr, errcode.ParseFailed)
			return gerr
		}
		return limitError("the document does not parse: %v", err)
	}
	// Validation reads the whole document, whichever operation is named, and
	// every fragment, spread or not: so do the counts.
	m := measure{doc: doc, inFragment: map[string]bool{}}
	for _, op := range doc.Operations {
		if n := m.rootFields(op.SelectionSet, 0, 0); n > MaxRootFields {
			return limitError("the operation selects %d root fields, more than the limit of %d", n, MaxRootFields)
		}
		m.walk(op.SelectionSet, 1)
		if m.err != nil {
			return m.err
		}
	}
	for _, f := range doc.Fragments {
		m.inFragment[f.Name] = true
		m.walk(f.SelectionSet, 1)
		m.inFragment[f.Name] = false
		if m.err != nil {
			return m.err
		}
	}
	return nil
}

// measure walks a document, counting as it goes.
type measure struct {
	doc        *ast.QueryDocument
	fields     int
	aliases    int
	duplicates int
	steps      int // selections visited: fields, fragments and spreads
	inFragment map[string]bool
	err        *gqlerror.Error
}

func (m *measure) walk(set ast.SelectionSet, depth int) {
	if m.err != nil {
		return
	}
	if depth > MaxDepth {
		m.err = limitError("the operation is nested more than %d levels deep", MaxDepth)
		return
	}
	keys := map[string]bool{}
	for _, sel := range set {
		if m.steps++; m.steps > 4*MaxFields {
			m.err = limitError("the operation has more than %d selections (fragments expanded)", 4*MaxFields)
		}
		if m.err != nil {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			m.fields++
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			if key != s.Name {
				m.aliases++
			}
			if keys[key] {
				m.duplicates++
			}
			keys[key] = true
			switch {
			case m.fields > MaxFields:
				m.err = limitError("the operation selects more than %d fields (fragments expanded)", MaxFields)
			case m.aliases > MaxAliases:
				m.err = limitError("the operation uses more than %d aliases", MaxAliases)
			case m.duplicates > MaxDuplicates:
				m.err = limitError("the operation selects the same field more than %d times over", MaxDuplicates)
			default:
				m.walk(s.SelectionSet, depth+1)
			}
		case *ast.InlineFragment:
			m.walk(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			f := m.doc.Fragments.ForName(s.Name)
			if f == nil || m.inFragment[s.Name] {
				continue // validation names the missing or cyclic fragment
			}
			m.inFragment[s.Name] = true
			m.walk(f.SelectionSet, depth)
			m.inFragment[s.Name] = false
		}
	}
}

// rootFields counts the fields of an operation's own selection set,
// fragments expanded, from n, stopping once past the limit.
func (m *measure) rootFields(set ast.SelectionSet, level, n int) int {
	if level > MaxDepth {
		return n
	}
	for _, sel := range set {
		if n > MaxRootFields {
			return n
		}
		switch s := sel.(type) {
		case *ast.Field:
			n++
		case *ast.InlineFragment:
			n = m.rootFields(s.SelectionSet, level+1, n)
		case *ast.FragmentSpread:
			if f := m.doc.Fragments.ForName(s.Name); f != nil {
				n = m.rootFields(f.SelectionSet, level+1, n)
			}
		}
	}
	return n
}

func limitError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf("%s", fmt.Sprintf(format, args...))
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

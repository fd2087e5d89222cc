package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
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
	MaxTokens        = 2000     // lexer tokens: five times GraphiQL's introspection query
	MaxFields        = 1000     // fields, fragments expanded
	MaxAliases       = 50
	MaxRootFields    = 20
	MaxDuplicates    = 20 // selections of a response key already selected in the same set
)

// MaxIntrospectionLists bounds introspection instead of MaxDepth, which is
// meant for data. An introspection answer grows only where a list nests in
// a list (types › fields › args); ofType and type add one object a level
// and end with the schema's wrappers, so GraphiQL's query (graphql-js
// getIntrospectionQuery, ofType nested typeDepth times, 9 by default) is
// 15 levels deep yet cheap, while fields { type { fields … } } multiplies
// at every turn. Three is what that query nests; the other limits above
// hold for it as for data, and whether a caller may introspect at all is
// resolvers.Guard's rule.
const MaxIntrospectionLists = 3

// introspectionLists are the list fields with selections of the spec's
// introspection types (__Schema, __Type, __Field, __Directive).
var introspectionLists = map[string]bool{
	"types": true, "directives": true, "fields": true, "args": true,
	"inputFields": true, "interfaces": true, "possibleTypes": true, "enumValues": true,
}

// isIntrospection reports whether a root field is introspection's;
// __typename, a leaf anywhere, is counted as data.
func isIntrospection(field string) bool { return field == "__schema" || field == "__type" }

// nesting is where a selection set sits: depth counts fields for data; in
// introspection (under __schema or __type, or in a fragment on an
// introspection type) only the lists nested so far count.
type nesting struct {
	depth int
	intro bool
	lists int
}

// under is the nesting of the selection set of a field f at n.
func (n nesting) under(f *ast.Field) nesting {
	sub := nesting{depth: n.depth + 1, intro: n.intro || (n.depth == 1 && isIntrospection(f.Name)), lists: n.lists}
	if sub.intro && introspectionLists[f.Name] {
		sub.lists++
	}
	return sub
}

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
	// Lexing is a tenth of what parsing costs (the parser builds a node per
	// field): a document over the token limit is refused after lexing only.
	if overTokens(p.Query, MaxTokens) {
		return limitError("the document has more than %d tokens, the token limit", MaxTokens)
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
	// every fragment, spread or not: so do the counts. A fragment on an
	// introspection type (graphql-js's TypeRef) is measured as introspection.
	m := measure{doc: doc, inFragment: map[string]bool{}}
	for _, op := range doc.Operations {
		m.roots, m.countRoots = 0, true
		m.walk(op.SelectionSet, nesting{depth: 1}, map[string]bool{})
		m.countRoots = false
		if m.err != nil {
			return m.err
		}
	}
	for _, f := range doc.Fragments {
		m.inFragment[f.Name] = true
		m.walk(f.SelectionSet, nesting{depth: 1, intro: strings.HasPrefix(f.TypeCondition, "__")}, map[string]bool{})
		m.inFragment[f.Name] = false
		if m.err != nil {
			return m.err
		}
	}
	for name, v := range p.Variables {
		if err := checkShape("$"+name, v, 0); err != nil {
			return err
		}
	}
	return nil
}

// measure walks a document, counting as it goes. Every selection visited,
// fragments expanded, counts a step, and the walk stops past 4×MaxFields of
// them, so no document can make it long (a fragment of spreads of a
// fragment of spreads… stops there too).
type measure struct {
	doc        *ast.QueryDocument
	fields     int
	aliases    int
	duplicates int
	steps      int
	roots      int  // fields of the operation's own selection set
	countRoots bool // walking an operation (not a lone fragment)
	inFragment map[string]bool
	err        *gqlerror.Error
}

// walk visits a selection set nested as at says; keys are the response
// keys already selected at this level (inline fragments and spreads share
// their parent's, so repeating a field through them counts as repeating it).
func (m *measure) walk(set ast.SelectionSet, at nesting, keys map[string]bool) {
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
			if at.depth == 1 && m.countRoots {
				m.roots++
			}
			sub := at.under(s)
			switch {
			case m.roots > MaxRootFields:
				m.err = limitError("the operation selects more than %d root fields", MaxRootFields)
			case m.fields > MaxFields:
				m.err = limitError("the operation selects more than %d fields (fragments expanded)", MaxFields)
			case m.aliases > MaxAliases:
				m.err = limitError("the operation uses more than %d aliases", MaxAliases)
			case m.duplicates > MaxDuplicates:
				m.err = limitError("the operation selects the same field more than %d times over", MaxDuplicates)
			case len(s.SelectionSet) == 0:
			case sub.intro && sub.lists > MaxIntrospectionLists:
				m.err = limitError("the introspection nests lists more than %d deep", MaxIntrospectionLists)
			case !sub.intro && at.depth >= MaxDepth:
				m.err = limitError("the operation is nested more than %d levels deep", MaxDepth)
			default:
				m.walk(s.SelectionSet, sub, map[string]bool{})
			}
		case *ast.InlineFragment:
			m.walk(s.SelectionSet, at, keys)
		case *ast.FragmentSpread:
			f := m.doc.Fragments.ForName(s.Name)
			if f == nil || m.inFragment[s.Name] {
				continue // validation names the missing or cyclic fragment
			}
			m.inFragment[s.Name] = true
			m.walk(f.SelectionSet, at, keys)
			m.inFragment[s.Name] = false
		}
	}
}

// Bounds on the shape of variables, checked before validation: the values
// are decoded again for every field that uses them (complexity reads the
// arguments of every field), so a long list or a deep object multiplies.
const (
	MaxListItems  = 100
	MaxInputDepth = 16
)

// checkShape refuses a variable's value nested deeper than MaxInputDepth or
// holding a list of more than MaxListItems.
func checkShape(path string, v any, depth int) *gqlerror.Error {
	if depth > MaxInputDepth {
		return inputError(path, fmt.Sprintf("nested more than %d levels deep", MaxInputDepth))
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := checkShape(path, e, depth+1); err != nil {
				if depth == 0 {
					err.Extensions["field"] = path + "." + k
				}
				return err
			}
		}
	case []any:
		if len(x) > MaxListItems {
			return inputError(path, fmt.Sprintf("at most %d items, got %d", MaxListItems, len(x)))
		}
		for _, e := range x {
			if err := checkShape(path, e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func limitError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf("%s", fmt.Sprintf(format, args...))
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// overTokens reports whether the document has more than limit tokens,
// reading no further than that. A lexing error is left to the parser,
// which reports it with its position.
func overTokens(query string, limit int) bool {
	lex := lexer.New(&ast.Source{Input: query})
	for n := 0; n <= limit; n++ {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return false
		}
	}
	return true
}

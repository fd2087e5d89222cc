package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// readable are the object types with a read rule (Checker.Filter knows
// their Go shapes).
var readable = []string{"Task", "Team", "TeamMember", "AuditLog", "TeamCreationInviteCode", "UserRole"}

// fieldRules guard single fields of otherwise readable objects; each reads
// the object the field belongs to, or the field's value.
type fieldRule func(ctx context.Context, c *Checker, parent, value any) (bool, error)

var fieldRules = map[string]fieldRule{
	"User.email": func(ctx context.Context, c *Checker, parent, _ any) (bool, error) {
		u, ok := deref[models.User](parent)
		if !ok {
			return false, fmt.Errorf("policy: User.email of a %T", parent)
		}
		return c.CanSeeEmail(ctx, u)
	},
	"Team.inviteCode": func(ctx context.Context, c *Checker, parent, _ any) (bool, error) {
		t, ok := deref[models.Team](parent)
		if !ok {
			return false, fmt.Errorf("policy: Team.inviteCode of a %T", parent)
		}
		return c.CanSeeInviteCode(ctx, t)
	},
	"AuditLog.from": auditValue,
	"AuditLog.to":   auditValue,
}

// auditValue: an entry's from and to may hold the id of a team (the one a
// task left or joined); it shows only to readers of that team.
func auditValue(ctx context.Context, c *Checker, _, value any) (bool, error) {
	if p, ok := value.(*string); ok && p == nil {
		return true, nil // no value: nothing to hide
	}
	s, ok := deref[string](value)
	if !ok {
		return false, fmt.Errorf("policy: an audit value of a %T", value)
	}
	return c.CanSeeAuditValue(ctx, s)
}

// Fields returns the gqlgen field middleware that applies the read rules.
// Every field whose type is guarded has its value checked after its
// resolver ran: an object the viewer may not read becomes null, and lists
// and connection edges leave it out. Guarded are the types with a read rule,
// every union or interface one of them belongs to, and every edge type whose
// node is one, all found in schema, so a new union or connection is covered
// without a line here. A guarded value of a Go shape Filter does not know
// fails closed, with an error in every test rather than a leak.
func Fields(schema *ast.Schema) (*FieldRules, error) {
	guarded := map[string]bool{}
	for _, name := range readable {
		if schema.Types[name] == nil {
			return nil, fmt.Errorf("policy: the schema has no type %s", name)
		}
		guarded[name] = true
	}
	for name, def := range schema.Types {
		switch def.Kind {
		case ast.Union, ast.Interface:
			for _, p := range schema.GetPossibleTypes(def) {
				if guarded[p.Name] {
					guarded[name] = true
				}
			}
		case ast.Object:
			if node := def.Fields.ForName("node"); node != nil && slices.Contains(readable, node.Type.Name()) {
				guarded[name] = true
			}
		}
	}
	// The field rules by object and field: the middleware runs for every
	// field of every answer, so its look-ups allocate nothing.
	rules := map[string]map[string]fieldRule{}
	for f, rule := range fieldRules {
		typ, field, _ := strings.Cut(f, ".")
		if schema.Types[typ] == nil || schema.Types[typ].Fields.ForName(field) == nil {
			return nil, fmt.Errorf("policy: the schema has no field %s", f)
		}
		if rules[typ] == nil {
			rules[typ] = map[string]fieldRule{}
		}
		rules[typ][field] = rule
	}
	return &FieldRules{rules: rules, guarded: guarded}, nil
}

// FieldRules are the read rules by field, compiled against the schema.
// The server's one field middleware asks Applies for every field of every
// answer (it allocates nothing), and runs Around only where it does.
type FieldRules struct {
	rules   map[string]map[string]fieldRule
	guarded map[string]bool
}

// Applies reports whether the field has a rule or returns a guarded type.
func (f *FieldRules) Applies(fc *graphql.FieldContext) bool {
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return false
	}
	return f.rules[fc.Object][fc.Field.Name] != nil || f.guarded[fc.Field.Definition.Type.Name()]
}

// Around resolves the field with next and keeps of its result what the
// viewer may read; fc is the field's context (Applies holds).
func (f *FieldRules) Around(ctx context.Context, fc *graphql.FieldContext, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil || res == nil {
		return res, err
	}
	c := For(ctx)
	if rule := f.rules[fc.Object][fc.Field.Name]; rule != nil {
		var parent any
		if fc.Parent != nil {
			parent = fc.Parent.Result
		}
		ok, err := rule(ctx, c, parent, res)
		if err != nil || !ok {
			return nil, err
		}
		return res, nil
	}
	return c.Filter(ctx, res)
}

// Filter returns v with what the viewer may not read taken out: nil for a
// single object, the readable rest for a list. It knows every Go shape the
// resolvers return guarded types in.
func (c *Checker) Filter(ctx context.Context, v any) (any, error) {
	switch x := v.(type) {
	case *models.Task:
		return one(ctx, x, c.CanReadTask)
	case models.Task:
		return oneValue(ctx, x, c.CanReadTask)
	case []models.Task:
		return keep(ctx, x, c.CanReadTask)
	case []models.TaskEdge:
		return keep(ctx, x, func(ctx context.Context, e models.TaskEdge) (bool, error) { return c.CanReadTask(ctx, e.Node) })
	case *models.Team:
		return one(ctx, x, c.CanReadTeam)
	case models.Team:
		return oneValue(ctx, x, c.CanReadTeam)
	case []models.Team:
		return keep(ctx, x, c.CanReadTeam)
	case *models.User: // the other member of the Assignee union
		return x, nil
	case *models.TeamMember:
		return one(ctx, x, c.CanReadTeamMember)
	case models.TeamMember:
		return oneValue(ctx, x, c.CanReadTeamMember)
	case []models.TeamMember:
		return keep(ctx, x, c.CanReadTeamMember)
	case []models.TeamMemberEdge:
		return keep(ctx, x, func(ctx context.Context, e models.TeamMemberEdge) (bool, error) {
			return c.CanReadTeamMember(ctx, e.Node)
		})
	case models.AuditLog:
		return oneValue(ctx, x, c.CanReadAuditLog)
	case *models.AuditLog:
		return one(ctx, x, c.CanReadAuditLog)
	case []models.AuditLog:
		return keep(ctx, x, c.CanReadAuditLog)
	case []models.AuditLogEdge:
		return keep(ctx, x, func(ctx context.Context, e models.AuditLogEdge) (bool, error) { return c.CanReadAuditLog(ctx, e.Node) })
	case *models.TeamCreationInviteCode:
		return one(ctx, x, c.CanReadCreationCode)
	case models.TeamCreationInviteCode:
		return oneValue(ctx, x, c.CanReadCreationCode)
	case []models.TeamCreationInviteCode:
		return keep(ctx, x, c.CanReadCreationCode)
	case []models.TeamCreationInviteCodeEdge:
		return keep(ctx, x, func(ctx context.Context, e models.TeamCreationInviteCodeEdge) (bool, error) {
			return c.CanReadCreationCode(ctx, e.Node)
		})
	case []models.UserRole:
		return keep(ctx, x, c.CanReadUserRole)
	case models.UserRole:
		return oneValue(ctx, x, c.CanReadUserRole)
	}
	return nil, fmt.Errorf("policy: no read rule for a %T", v)
}

func one[T any](ctx context.Context, x *T, rule func(context.Context, T) (bool, error)) (any, error) {
	if x == nil {
		return x, nil
	}
	ok, err := rule(ctx, *x)
	if err != nil || !ok {
		return nil, err
	}
	return x, nil
}

func oneValue[T any](ctx context.Context, x T, rule func(context.Context, T) (bool, error)) (any, error) {
	ok, err := rule(ctx, x)
	if err != nil || !ok {
		return nil, err
	}
	return x, nil
}

// keep returns the items rule allows, in order. The rules of all items run
// at once, so the loaders they ask batch their keys into one query per kind.
func keep[T any](ctx context.Context, items []T, rule func(context.Context, T) (bool, error)) ([]T, error) {
	oks, err := All(ctx, items, rule)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for i, it := range items {
		if oks[i] {
			out = append(out, it)
		}
	}
	return out, nil
}

// All evaluates rule for every item concurrently and returns the answers in
// order.
func All[T any](ctx context.Context, items []T, rule func(context.Context, T) (bool, error)) ([]bool, error) {
	oks := make([]bool, len(items))
	if len(items) == 1 {
		ok, err := rule(ctx, items[0])
		oks[0] = ok
		return oks, err
	}
	errs := make([]error, len(items))
	ctx = loaders.Together(ctx) // the rules' asks batch
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { oks[i], errs[i] = rule(ctx, it) })
	}
	wg.Wait()
	return oks, errors.Join(errs...)
}

// deref reads a T held by value or by pointer.
func deref[T any](v any) (T, bool) {
	switch x := v.(type) {
	case T:
		return x, true
	case *T:
		if x != nil {
			return *x, true
		}
	}
	var zero T
	return zero, false
}

func ignoreNotFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

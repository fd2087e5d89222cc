package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// guarded are the schema types whose values pass a read rule wherever a
// field returns them (or a list, a connection's edges, or a union holding
// them).
var guarded = map[string]bool{
	"Task": true, "TaskEdge": true,
	"Team": true, "Assignee": true,
	"TeamMember": true, "TeamMemberEdge": true,
	"AuditLog": true, "AuditLogEdge": true,
	"TeamCreationInviteCode": true, "TeamCreationInviteCodeEdge": true,
	"UserRole": true,
}

// fieldRules guard single fields of otherwise readable objects; each reads
// the object the field belongs to.
var fieldRules = map[string]func(ctx context.Context, c *Checker, parent any) (bool, error){
	"User.email": func(ctx context.Context, c *Checker, parent any) (bool, error) {
		u, ok := deref[models.User](parent)
		if !ok {
			return false, fmt.Errorf("policy: User.email of a %T", parent)
		}
		return c.CanSeeEmail(ctx, u)
	},
	"Team.inviteCode": func(ctx context.Context, c *Checker, parent any) (bool, error) {
		t, ok := deref[models.Team](parent)
		if !ok {
			return false, fmt.Errorf("policy: Team.inviteCode of a %T", parent)
		}
		return c.CanSeeInviteCode(ctx, t)
	},
}

// Fields is the gqlgen field middleware that applies the read rules. Every
// field whose type is guarded has its value checked after its resolver ran:
// an object the viewer may not read becomes null, and lists and connection
// edges leave it out. A guarded field whose value has no rule fails closed,
// so a new shape of an old type shows up as an error in every test rather
// than as a leak.
func Fields(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return next(ctx)
	}
	rule := fieldRules[fc.Object+"."+fc.Field.Name]
	if rule == nil && !guarded[fc.Field.Definition.Type.Name()] {
		return next(ctx)
	}
	res, err := next(ctx)
	if err != nil || res == nil {
		return res, err
	}
	c := For(ctx)
	if rule != nil {
		var parent any
		if fc.Parent != nil {
			parent = fc.Parent.Result
		}
		ok, err := rule(ctx, c, parent)
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

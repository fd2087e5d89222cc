package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/todo-backend/todo/graph"
	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/internal/policy"
	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/resolvers"
	"github.com/todo-backend/todo/storage"
)

// Query cost bounds (SPEC §4). A list field costs its children times the
// page size asked for, so the limit bounds the rows a request can touch.
const (
	MaxDepth      = 12
	MaxComplexity = 20000
	// MaxRootConcurrency bounds the root fields of one request that run at
	// once against the stores.
	MaxRootConcurrency = 4
	// MaxFanOutConcurrency bounds the per-parent queries of one request that
	// run at once (perParentQueries): a hundred tasks' activity, or a
	// hundred teams' members, take turns instead of a hundred connections.
	MaxFanOutConcurrency = 4
	// MutationTimeout bounds the mutations of one document, run detached
	// from its request (all of them together, answers included).
	MutationTimeout = 30 * time.Second
)

type slotsKey struct{}

// slots bound how much of the stores one request holds at once: its root
// fields, and the queries its fields below the root send one per parent.
// They are separate, so a root field that holds a slot never waits on one
// its own children need.
type slots struct{ root, fanOut chan struct{} }

// acquire takes one of ch's slots, or fails when ctx ends before one is free.
func acquire(ctx context.Context, ch chan struct{}) (release func(), err error) {
	if err := take(ctx, ch); err != nil {
		return nil, err
	}
	return func() { <-ch }, nil
}

// perParentQueries are the fields below the root whose resolver sends a
// query of its own for every parent object, not through a loader (SPEC
// §5.4): each weighs a page in setComplexity, and each runs in a fan-out
// slot. Every connection's totalCount is one too (a count per connection).
var perParentQueries = map[string]map[string]bool{
	"Task": {"activity": true},
	"Team": {"members": true, "tasks": true},
}

// isPerParentQuery reports whether the field of object sends its own query.
func isPerParentQuery(object, field string) bool {
	return perParentQueries[object][field] || (field == "totalCount" && strings.HasSuffix(object, "Connection"))
}

func newGraphQL(d Deps) http.Handler {
	root := &resolvers.Resolver{Store: d.Store}
	cfg := graph.Config{Resolvers: root}
	cfg.Directives.HasRole = root.HasRole
	setComplexity(&cfg.Complexity)
	schema := graph.NewExecutableSchema(cfg)
	srv := handler.New(schema)
	srv.AddTransport(httpTransport{}) // GET and POST, per GraphQL over HTTP (transport.go)
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	// Cost bounded before validation: the document's size, tokens, fields,
	// aliases, root fields, duplicates and depth (document.go).
	srv.SetParserTokenLimit(MaxTokens)
	srv.Use(documentLimits{cache: cache})
	// Suggestions ("Did you mean …") map the schema for strangers.
	srv.SetDisableSuggestion(d.Config.Env != config.EnvDevelopment)
	// Introspection is on; Guard lets only admins use it outside development.
	srv.Use(extension.Introspection{})
	srv.Use(depthLimit{max: MaxDepth})
	srv.Use(pageLimit{max: storage.MaxPageSize})
	srv.Use(inputLimits{})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.AroundRootFields(root.Guard(d.Config.Env == config.EnvDevelopment))
	// A request's root fields run at most MaxRootConcurrency at a time, so
	// one request cannot take the stores' connection pool.
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		ctx = context.WithValue(ctx, slotsKey{}, slots{
			root:   make(chan struct{}, MaxRootConcurrency),
			fanOut: make(chan struct{}, MaxFanOutConcurrency),
		})
		var kind ast.Operation
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
			kind = oc.Operation.Operation
		}
		if kind == ast.Query {
			ctx = storage.WithReadMemo(ctx)
		}
		if kind != ast.Mutation {
			return next(ctx)
		}
		// A mutation whose document was accepted runs to completion on a
		// context of its own: a client that hangs up, or a request deadline
		// that passes, must not leave half an operation (the writes of
		// removeTeamMember, createTeam… are several), nor drop it between
		// validation and its first field (gqlgen runs no operation whose
		// context has ended; under load parsing alone can outlast a short
		// deadline). MutationTimeout bounds all the mutations of the
		// document instead, and they read the system of record they write,
		// whatever the read flags say.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), MutationTimeout)
		respond := next(storage.WithPrimaryReads(mctx))
		return func(ctx context.Context) *graphql.Response {
			defer cancel()
			return respond(ctx)
		}
	})
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		sl, ok := ctx.Value(slotsKey{}).(slots)
		if !ok {
			return next(ctx)
		}
		release, err := acquire(ctx, sl.root)
		if err != nil {
			graphql.AddError(ctx, err)
			return graphql.Null
		}
		defer release()
		return next(ctx)
	})
	// The read rules of SPEC §5.3, on every field that returns a guarded type.
	rules, err := policy.Fields(schema.Schema())
	if err != nil {
		panic(err) // the schema and the rules are compiled in together: a test catches this
	}
	// One field middleware for every field of every answer (about 1,500 in
	// a page of tasks): a plain field passes straight through, and only the
	// fields that need one get a step, so nothing is allocated for the
	// others. Outermost the retry of a stale mutation, then the read rules,
	// and inside them the fan-out slot, held for the resolver's own query
	// only (the rules' loads, and the children, run after it is given back).
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Field.Field == nil {
			return next(ctx)
		}
		res := next
		if isPerParentQuery(fc.Object, fc.Field.Name) {
			res = func(ctx context.Context) (any, error) { return inSlot(ctx, next) }
		}
		if rules.Applies(fc) {
			inner := res
			res = func(ctx context.Context) (any, error) { return rules.Around(ctx, fc, inner) }
		}
		if fc.Object == "Mutation" || fc.Object == "Query" {
			// A root field's resolver runs by itself: its loader asks have
			// nothing to wait for (the fields below batch again).
			ctx = loaders.Alone(ctx)
		}
		if fc.Object == "Mutation" {
			return retryStale(ctx, fc, res)
		}
		return res(ctx)
	})
	srv.SetErrorPresenter(resolvers.ErrorPresenter(d.Log))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		d.Log.ErrorContext(ctx, "graphql: panic", "request_id", requestid.From(ctx),
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errors.New("panic while resolving")
	})
	return srv
}

// inSlot runs a per-parent query's resolver in one of the request's
// fan-out slots, so one request cannot take the stores' connection pool.
func inSlot(ctx context.Context, next graphql.Resolver) (any, error) {
	sl, ok := ctx.Value(slotsKey{}).(slots)
	if !ok {
		return next(ctx)
	}
	release, err := acquire(ctx, sl.fanOut)
	if err != nil {
		return nil, err
	}
	defer release()
	return next(ctx)
}

// MaxStaleAttempts bounds how often a mutation is decided again because a
// document it rewrites changed between its read and its write.
const MaxStaleAttempts = 8

// retryStale runs a mutation's resolver again when its write found a
// document changed since the resolver read it (storage.ErrStale: nothing
// was written by that step). The request's loaders are emptied first, so
// the resolver reads the documents afresh and checks its permissions and
// rules on the version it will write over; steps the earlier attempt
// completed are part of what it reads. After MaxStaleAttempts the client
// gets CONFLICT. Only the resolver runs again: the answer is resolved once,
// from the attempt that wrote. Attempts are spread by a random wait of up
// to as many attempt lengths as attempts so far, so writers of one document
// that keep colliding drift apart instead of colliding again.
func retryStale(ctx context.Context, fc *graphql.FieldContext, next graphql.Resolver) (any, error) {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, err := next(ctx)
		if !errors.Is(err, storage.ErrStale) {
			return res, err
		}
		if attempt == MaxStaleAttempts {
			return nil, fmt.Errorf("%w: what %s changes was changed by others %d times while it was being made; try again",
				storage.ErrConflict, fc.Field.Name, attempt)
		}
		loaders.For(ctx).Forget()
		wait := time.Duration(rand.Int64N(int64(attempt)*int64(time.Since(start)) + 1)) //nolint:gosec // G404: jitter
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pageSize is the number of items a connection field may return, for cost.
func pageSize(first *int) int {
	if first == nil {
		return storage.DefaultPageSize
	}
	return min(max(*first, 1), storage.MaxPageSize)
}

// Weights of the fields that start database work of their own, beyond the
// batched loads every field shares (SPEC §5.4): a query of one page, a count
// (FerretDB scans for it), a search (a regex over a collection), a summary
// (every task of the scope read), the admin figures (a count per collection).
const (
	costQuery   = 10
	costCount   = 20
	costSearch  = 50
	costSummary = 200
	costAdmin   = 200
	// costPerParent is a perParentQueries field's own query: a round trip
	// for every parent (no loader batches it), which on FerretDB costs the
	// CPU of many loaded fields. tasks(first: 100) { activity }
	// weighs over 3,000, so a document holds at most six of them (600 queries).
	costPerParent = 30
)

// setComplexity weights every list field by the page size it asks for, so
// nested lists multiply: tasks(first:100){activity(first:100)} costs 10^4;
// and every field that queries by what it starts.
func setComplexity(c *graph.ComplexityRoot) {
	page := func(child int, first *int) int { return costQuery + child*pageSize(first) }
	search := func(child int, s *string, first *int) int {
		if s != nil && *s != "" {
			return costSearch + page(child, first)
		}
		return page(child, first)
	}
	count := func(int) int { return costCount }
	c.TaskConnection.TotalCount, c.AuditLogConnection.TotalCount, c.LabelConnection.TotalCount = count, count, count
	c.UserConnection.TotalCount, c.TeamMemberConnection.TotalCount, c.SyncFailureConnection.TotalCount = count, count, count
	c.TeamCreationInviteCodeConnection.TotalCount = count
	c.Query.TaskSummary = func(child int, _ *string, _ *string) int { return costSummary + child }
	c.Query.SyncMetrics = func(child int) int { return costAdmin + child }
	c.Query.SyncStatus = func(child int, _ string, _ string) int { return costQuery + child }
	c.TeamMember.TasksAssignedCount = func(int) int { return costQuery }
	c.Query.Labels = func(child int, q *string, first *int, _ *string) int { return search(child, q, first) }
	c.Query.TeamCreationInviteCodes = func(child int, first *int, _ *string) int { return page(child, first) }
	c.Query.Tasks = func(child int, f *models.TaskFilter, _ *models.TaskOrder, first *int, _ *string) int {
		if f != nil {
			return search(child, f.Search, first)
		}
		return page(child, first)
	}
	c.Query.Watchlist = func(child int, first *int, _ *string) int { return page(child, first) }
	c.Query.Users = func(child int, q string, first *int, _ *string) int { return search(child, &q, first) }
	c.Query.AuditLogs = func(child int, _ *models.AuditLogFilter, first *int, _ *string) int { return page(child, first) }
	c.Query.TeamActivity = func(child int, _ string, first *int, _ *string) int { return page(child, first) }
	perParent := func(child int, first *int) int { return costPerParent + child*pageSize(first) }
	c.Team.Members = func(child int, first *int, _ *string) int { return perParent(child, first) }
	c.Team.Tasks = func(child int, f *models.TaskFilter, _ *models.TaskOrder, first *int, _ *string) int {
		if f != nil && f.Search != nil && *f.Search != "" {
			return costSearch + perParent(child, first)
		}
		return perParent(child, first)
	}
	c.Task.Activity = func(child int, first *int, _ *string) int { return perParent(child, first) }
	c.Query.SyncFailures = func(child int, _ *models.SyncFailureFilter, first *int, _ *string) int { return page(child, first) }
	// Lists without paging are bounded by the data, small by nature.
	c.Query.Teams = func(child int) int { return 1 + child*10 }
	c.User.Teams = func(child int) int { return 1 + child*10 }
	c.User.Roles = func(child int) int { return 1 + child*10 }
	c.Task.Labels = func(child int) int { return 1 + child*5 }
}

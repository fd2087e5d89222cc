package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/todo-backend/todo/graph"
	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/resolvers"
	"github.com/todo-backend/todo/storage"
)

// Query cost bounds (SPEC §4). A list field costs its children times the
// page size asked for, so the limit bounds the rows a request can touch.
const (
	MaxDepth      = 12
	MaxComplexity = 5000
)

func newGraphQL(d Deps) http.Handler {
	root := &resolvers.Resolver{Store: d.Store}
	cfg := graph.Config{Resolvers: root}
	cfg.Directives.HasRole = root.HasRole
	cfg.Complexity.Query.Labels = func(child int, _ *string, first *int, _ *string) int {
		return 1 + child*pageSize(first)
	}
	cfg.Complexity.Query.TeamCreationInviteCodes = func(child int, first *int, _ *string) int {
		return 1 + child*pageSize(first)
	}
	srv := handler.New(graph.NewExecutableSchema(cfg))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if d.Config.Env == config.EnvDevelopment {
		srv.Use(extension.Introspection{})
	}
	srv.Use(depthLimit{max: MaxDepth})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.AroundRootFields(resolvers.RequireViewer)
	srv.SetErrorPresenter(resolvers.ErrorPresenter(d.Log))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		d.Log.ErrorContext(ctx, "graphql: panic", "request_id", requestid.From(ctx),
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errors.New("panic while resolving")
	})
	return srv
}

// pageSize is the number of items a connection field may return, for cost.
func pageSize(first *int) int {
	if first == nil {
		return storage.DefaultPageSize
	}
	return min(max(*first, 1), storage.MaxPageSize)
}

func playground() http.HandlerFunc {
	return gqlplayground.Handler("todo GraphQL", "/graphql")
}

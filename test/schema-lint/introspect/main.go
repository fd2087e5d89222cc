// Command introspect answers one introspection query, read from stdin, with
// the schema the server is built from (graph.NewExecutableSchema), and writes
// the JSON response to stdout. It needs no stores or network: introspection
// reads the compiled schema only, so no resolvers are wired. lint.mjs feeds it
// graphql-js's standard introspection query and lints what comes back.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/todo-backend/todo/graph"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "introspect:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	query, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read query: %w", err)
	}
	body, err := json.Marshal(map[string]string{"query": string(query)})
	if err != nil {
		return err
	}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{}))
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})

	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)

	var resp struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		return fmt.Errorf("status %d, not JSON: %w", rec.Code, err)
	}
	if rec.Code != http.StatusOK || len(resp.Errors) > 0 {
		return fmt.Errorf("status %d: %s", rec.Code, rec.Body.Bytes())
	}
	_, err = out.Write(rec.Body.Bytes())
	return err
}

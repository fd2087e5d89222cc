// Package hostile holds the hostile requests of issue 9, at the sizes
// measured there, for the tests that assert their refusal and cost and for
// the benchmark's attacked run: one list, so both send the same.
package hostile

import (
	"fmt"
	"net/http"
	"strings"
)

// Attack is one hostile request.
type Attack struct {
	Name string
	// Method is POST (a JSON body) or GET (the query in the URL).
	Method string
	Query  string
	Vars   map[string]any
	// Anonymous attacks send no token.
	Anonymous bool
	// Status is the refusal's HTTP status: 200 (a request error, answered as
	// application/json: GraphQL over HTTP), or 413 for a body over the
	// limit.
	Status int
}

// Attacks returns the attacks of issue 9's table.
func Attacks() []Attack {
	rep := strings.Repeat
	big := func(n int) string { return rep("a", n) }
	search := func(root string, n int) (string, map[string]any) {
		return fmt.Sprintf(`query($s: String!) { %s(search: $s) { totalCount } }`, root), map[string]any{"s": big(n)}
	}
	users100, v100 := search("users", 100<<10)
	users120, v120 := search("users", 120<<10)
	users250, v250 := search("users", 250<<10)
	users300, v300 := search("users", 300<<10)
	users900, v900 := search("users", 900<<10)
	return []Attack{
		{Name: "5,000 duplicate fields", Method: http.MethodPost, Query: "{ me { " + rep("id ", 5000) + "} }", Anonymous: true, Status: 200},
		{Name: "10,000 duplicate fields", Method: http.MethodPost, Query: "{ me { " + rep("id ", 10000) + "} }", Anonymous: true, Status: 200},
		{Name: "50,000 duplicate fields", Method: http.MethodPost, Query: "{ me { " + rep("id ", 50000) + "} }", Anonymous: true, Status: 413},
		{Name: "GET of 60 KB", Method: http.MethodGet, Query: "{ me { " + rep("id ", 20000) + "} }", Anonymous: true, Status: 200},
		{Name: "10,000 __typename", Method: http.MethodPost, Query: "{ " + rep("__typename ", 10000) + "}", Anonymous: true, Status: 200},
		{Name: "5,000 aliases of taskSummary", Method: http.MethodPost, Query: "{ " + Aliases("taskSummary { overdue }", 5000) + "}", Status: 413},
		{Name: "users(search) of 100 KB", Method: http.MethodPost, Query: users100, Vars: v100, Status: 200},
		{Name: "users(search) of 120 KB", Method: http.MethodPost, Query: users120, Vars: v120, Status: 200},
		// Over the body limit: 413 before any decoding.
		{Name: "users(search) of 250 KB", Method: http.MethodPost, Query: users250, Vars: v250, Status: 413},
		{Name: "users(search) of 300 KB", Method: http.MethodPost, Query: users300, Vars: v300, Status: 413},
		{Name: "users(search) of 900 KB", Method: http.MethodPost, Query: users900, Vars: v900, Status: 413},
		{Name: "labels(search) of 900 KB", Method: http.MethodPost, Query: `query($s: String) { labels(search: $s) { totalCount } }`,
			Vars: map[string]any{"s": big(900 << 10)}, Status: 413},
	}
}

// Heavy returns requests that pass every limit yet make the most database
// work a document may start: a query per parent object (issue 9's review).
// They are answered, not refused; what bounds them is that one request's
// queries take turns (server.MaxRootConcurrency, MaxFanOutConcurrency) and
// its deadline, so others are served beside them.
func Heavy() []Attack {
	return []Attack{
		// Six is the most the complexity limit lets through (the review
		// sent fifteen, before per-parent queries weighed more).
		{Name: "activity of 100 tasks, 6 times", Method: http.MethodPost,
			Query: "{ " + Aliases(ActivityOfEveryTask, 6) + "}", Status: 200},
	}
}

// ActivityOfEveryTask asks for a query per task of a page: its activity.
const ActivityOfEveryTask = "tasks(first: 100, filter: {scope: CREATED_BY_ME}) { nodes { activity(first: 1) { nodes { id } } } }"

// Aliases repeats field n times under the aliases a0, a1, …
func Aliases(field string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	return b.String()
}

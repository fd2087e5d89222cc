package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/hostile"
)

// hostileDocuments are the attacks of issue 9's table, at the sizes
// measured there: each must be refused before validation, with a message
// naming the limit. (cmd/todo's TestRefusalsCostLittle measures what each
// refusal costs a `todo serve` process in CPU.)
func hostileDocuments() []struct{ name, query, want string } {
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	return []struct{ name, query, want string }{
		{"5,000 duplicate fields", "{ me { " + rep("id ", 5000) + "} }", "token limit"},
		{"10,000 duplicate fields", "{ me { " + rep("id ", 10000) + "} }", "token limit"},
		{"40,000 duplicate fields", "{ me { " + rep("id ", 40000) + "} }", "bytes, more than the limit"},
		{"2,000 duplicate fields", "{ me { " + rep("id ", 2000) + "} }", "token limit"},
		{"1,500 duplicate fields", "{ me { " + rep("id ", 1500) + "} }", "same field more than 20 times"},
		{"30 duplicate fields", "{ me { " + rep("id ", 30) + "} }", "same field more than 20 times"},
		{"10,000 __typename", "{ " + rep("__typename ", 10000) + "}", "bytes, more than the limit"},
		{"1,500 __typename", "{ " + rep("__typename ", 1500) + "}", "root fields"},
		{"3,500 aliases of taskSummary", "{ " + aliases("taskSummary { overdue }", 3500) + " }", "bytes, more than the limit"},
		{"60 aliases of taskSummary", "{ " + aliases("taskSummary { overdue }", 60) + " }", "root fields"},
		{"60 aliases of a nested field", "{ me { " + aliases("name", 60) + " } }", "more than 50 aliases"},
		{"fragments spread in fragments", nestedFragments(12), "same field more than 20 times"},
		{"1,050 fields", "{ me { " + aliases("teams { id name description inviteCode createdAt viewerRoles members { totalCount } "+
			"poc { id name email picture createdAt } createdBy { id name email picture createdAt } }", 50) + "} }", "more than 1000 fields"},
		{"13 levels", "{ me " + rep("{ teams ", 12) + "{ id }" + rep(" }", 12) + " }", "levels deep"},
		// Validation reads every operation and fragment, named or not.
		{"an unnamed heavy operation beside a light one", "query A { __typename } query B { me { " + rep("id ", 1500) + "} }", "same field more than 20 times"},
		{"an unused heavy fragment", "{ __typename } fragment F on User { " + rep("id ", 1500) + "}", "same field more than 20 times"},
	}
}

func aliases(field string, n int) string { return hostile.Aliases(field, n) }

// nestedFragments builds a document whose fragments each spread the next
// one four times: 4^depth fields once expanded, in a few hundred bytes.
func nestedFragments(depth int) string {
	var b strings.Builder
	b.WriteString("{ me { ...f0 } }")
	for i := range depth {
		fmt.Fprintf(&b, " fragment f%d on User { ...f%d ...f%d ...f%d ...f%d }", i, i+1, i+1, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment f%d on User { id }", depth)
	return b.String()
}

func TestHostileDocumentsRefused(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	for _, h := range hostileDocuments() {
		t.Run(h.name, func(t *testing.T) {
			for _, anonymous := range []bool{true, false} {
				token := e.token
				if anonymous {
					token = ""
				}
				g := e.graphqlAs(t, token, h.query, nil)
				if len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(g.Errors[0].Message, h.want) {
					t.Errorf("anonymous=%v: got %+v, want one BAD_USER_INPUT naming %q", anonymous, g.Errors, h.want)
				}
			}
		})
	}
	// GET has the same limits, however long the query string.
	q := "{ me { " + strings.Repeat("id ", 20000) + "} }"
	r := e.do(t, http.MethodGet, "/graphql?query="+url.QueryEscape(q), "", "")
	if !strings.Contains(string(r.body), "BAD_USER_INPUT") || !strings.Contains(string(r.body), "bytes, more than the limit") {
		t.Errorf("GET of %d bytes: %d %s", len(q), r.status, r.body)
	}
}

func TestStringInputsBounded(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	long := strings.Repeat("a", 100<<10)
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"users search of 100 KB", `query($s: String!) { users(search: $s) { totalCount } }`, map[string]any{"s": long}, "search"},
		{"labels search of 100 KB", `query($s: String) { labels(search: $s) { totalCount } }`, map[string]any{"s": long}, "search"},
		{"users search of 201 characters", `query($s: String!) { users(search: $s) { totalCount } }`, map[string]any{"s": strings.Repeat("é", 201)}, "search"},
		{"NUL in a search", `query($s: String!) { users(search: $s) { totalCount } }`, map[string]any{"s": "abc\x00def"}, "search"},
		{"NUL in a task filter", `query($f: TaskFilter) { tasks(filter: $f) { totalCount } }`, map[string]any{"f": map[string]any{"search": "a\x00"}}, "filter.search"},
		{"escape in a literal", `{ users(search: "abc\u0007") { totalCount } }`, nil, "search"},
		{"a title of 20,000 characters", `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": strings.Repeat("x", 20000)}}, "input.title"},
		{"a control character in a label list", `query($f: TaskFilter) { tasks(filter: $f) { totalCount } }`,
			map[string]any{"f": map[string]any{"labelIds": []any{"\x01"}}}, "filter.labelIds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.expect(t, person{token: e.token}, tc.name, tc.query, tc.vars, "BAD_USER_INPUT", tc.field)
		})
	}
	// Tabs and line breaks are text.
	g := e.graphql(t, `mutation($in: CreateTaskInput!) { createTask(input: $in) { description } }`,
		map[string]any{"in": map[string]any{"title": "Lines", "description": "one\n\ttwo\r\n"}})
	if len(g.Errors) > 0 {
		t.Errorf("a description with tabs and newlines: %+v", g.Errors)
	}
}

// A malformed body of 120 KB is refused as the client's mistake, in a few
// words: nothing of it is echoed (gqlgen quoted it whole) or logged.
func TestMalformedBodyNotEchoed(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	body := `{"query": "{ me { id } }", "variables": {"x": "` + strings.Repeat("b", 120<<10)
	r := e.do(t, http.MethodPost, "/graphql", "application/json", body, "Authorization", "Bearer "+e.token)
	if r.status != http.StatusBadRequest || len(r.body) > 1000 || !strings.Contains(string(r.body), `"code":"BAD_REQUEST"`) ||
		strings.Contains(string(r.body), "bbbb") {
		t.Errorf("got HTTP %d, %d bytes: %.300s; want 400, a short BAD_REQUEST with none of the body", r.status, len(r.body), r.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	parallel(t)
	for _, secure := range []string{"false", "true"} {
		e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"COOKIE_SECURE": secure}})
		for _, path := range []string{"/v1/health", "/playground", "/graphql?query=%7B__typename%7D"} {
			r := e.do(t, http.MethodGet, path, "", "")
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q, want nosniff", path, got)
			}
			if got, want := r.header.Get("Strict-Transport-Security") != "", secure == "true"; got != want {
				t.Errorf("%s with COOKIE_SECURE=%s: HSTS %v, want %v", path, secure, got, want)
			}
			framing := r.header.Get("X-Frame-Options") == "DENY" && strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
			if framing != (path == "/playground") {
				t.Errorf("%s: no-framing headers %v, want them on the playground only", path, framing)
			}
		}
	}
}

// Field suggestions map the schema for strangers: only development makes them.
func TestNoSuggestionsOutsideDevelopment(t *testing.T) {
	parallel(t)
	for env, want := range map[string]bool{"development": true, "staging": false} {
		e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"ENV": env}})
		g := e.graphql(t, "{ tsks { totalCount } }", nil)
		if len(g.Errors) != 1 || strings.Contains(g.Errors[0].Message, "Did you mean") != want {
			t.Errorf("ENV=%s: %+v, want a suggestion: %v", env, g.Errors, want)
		}
	}
}

// A request's reads are cut off at REQUEST_TIMEOUT with an error that says
// so; a mutation whose document was accepted runs to completion however
// short the request's deadline. Here it is 1 µs: it has passed before the
// body is read, so neither outcome depends on how busy the machine is (at
// 1 ms a busy CI machine parsed past it and the mutation never began).
func TestRequestDeadline(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"REQUEST_TIMEOUT": "0.000001"}})
	g := e.graphql(t, "{ me { id teams { id } } }", nil)
	if len(g.Errors) == 0 || !strings.Contains(g.Errors[0].Message, "ran out of time") || g.Errors[0].Extensions["requestId"] == nil {
		t.Errorf("a read past the deadline: %s %+v, want the out-of-time error with a request id", g.Data, g.Errors)
	}
	g = e.graphql(t, `mutation { createTask(input: {title: "written whole"}) { id title } }`, nil)
	if len(g.Errors) > 0 || !strings.Contains(string(g.Data), "written whole") {
		t.Fatalf("a mutation with a 1 µs request deadline: %s %+v, want it done", g.Data, g.Errors)
	}
}

// Each signed-in user has a request budget, each anonymous address a
// quarter of it; a client over it gets RATE_LIMITED with Retry-After, and
// nobody else notices.
func TestRequestBudget(t *testing.T) {
	e := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"REQUEST_RATE": "2", "REQUEST_BURST": "8"}})
	other := e.signIn(t, "other@example.com")
	limited := func(token string, n int) (int, response) {
		t.Helper()
		for i := range n {
			r := e.do(t, http.MethodPost, "/graphql", "application/json", `{"query":"{ __typename }"}`, "Authorization", "Bearer "+token)
			if r.status == http.StatusTooManyRequests {
				return i, r
			}
			if r.status != http.StatusOK {
				t.Fatalf("request %d: HTTP %d %s", i, r.status, r.body)
			}
		}
		return n, response{}
	}
	served, r := limited(e.token, 20)
	// The burst of 8, and at most a token or two that 2/s refill meanwhile.
	if served < 8 || served > 12 || r.status != http.StatusTooManyRequests {
		t.Fatalf("served %d before 429, want the burst of 8 (and what refilled meanwhile)", served)
	}
	if ra := r.header.Get("Retry-After"); ra != "1" || !strings.Contains(string(r.body), `"RATE_LIMITED"`) {
		t.Errorf("the refusal: Retry-After %q, %s; want 1 second and RATE_LIMITED", ra, r.body)
	}
	// A client that comes back before its Retry-After gets its refusal
	// only once that time has come, so a loop of retries is paced.
	start := time.Now()
	if r := e.do(t, http.MethodPost, "/graphql", "application/json", `{"query":"{ __typename }"}`, "Authorization", "Bearer "+e.token); r.status != http.StatusTooManyRequests {
		t.Errorf("a retry at once: HTTP %d, want 429", r.status)
	}
	if held := time.Since(start); held < 300*time.Millisecond {
		t.Errorf("a retry at once was refused after %v, want about the 0.5 s it was told to wait", held)
	}
	// A refused request's body is not read: a big one's connection is
	// closed rather than drained, a small one's kept.
	refused := func(body string) response {
		t.Helper()
		for range 5 {
			if r := e.do(t, http.MethodPost, "/graphql", "application/json", body, "Authorization", "Bearer "+e.token); r.status == http.StatusTooManyRequests {
				return r
			}
		}
		t.Fatal("no 429 in 5 requests over the budget")
		return response{}
	}
	if r := refused(`{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 100<<10) + `"}}`); !r.closed {
		t.Error("a refused 100 KB body: the connection was kept, want it closed (its body is not drained)")
	}
	if r := refused(`{"query":"{ __typename }"}`); r.closed {
		t.Error("a refused small body: the connection was closed, want it kept")
	}
	if n, _ := limited(other, 8); n != 8 {
		t.Errorf("another user was refused after %d requests, want their own burst of 8", n)
	}
	// Anonymous clients share their address's quarter: a burst of 2.
	n := 0
	for ; n < 10; n++ {
		if r := e.do(t, http.MethodPost, "/graphql", "application/json", `{"query":"{ __typename }"}`); r.status == http.StatusTooManyRequests {
			break
		}
	}
	if n < 2 || n > 4 {
		t.Errorf("anonymous requests served before 429: %d, want the burst of 2", n)
	}
}

// The review of issue 9's first cut: documents that cost seconds before.
func TestHostileDocumentsFromTheReview(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	var chain strings.Builder
	chain.WriteString("query A { ...f0 } query B { __typename }")
	for i := range 26 {
		fmt.Fprintf(&chain, " fragment f%d on Query { ...f%d ...f%d }", i, i+1, i+1)
	}
	chain.WriteString(" fragment f26 on Query { __typename }")
	deep := strings.Repeat(`{"k":`, 9900) + `"x"` + strings.Repeat("}", 9900)
	var deepV any
	if err := json.Unmarshal([]byte(deep), &deepV); err != nil {
		t.Fatal(err)
	}
	ids := make([]any, 30000)
	for i := range ids {
		ids[i] = "a"
	}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"a fragment of spreads of itself", "{ ...F } fragment F on Query { ...F ...F ...F ...F ...F ...F }", nil, ""},
		{"a chain of fragments doubling", chain.String(), nil, "root fields"},
		{"a field repeated through inline fragments", "{ me { " + strings.Repeat("... { id } ", 390) + "} }", nil, "same field"},
		{"a variable nested 9,900 deep", `query($d: Time) { tasks(filter: {dueBefore: $d}) { totalCount } }`, map[string]any{"d": deepV}, "levels deep"},
		{"a list variable of 30,000", `query($ids: [ID!]) { tasks(filter: {labelIds: $ids}) { totalCount } }`, map[string]any{"ids": ids}, "at most 100 items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := e.graphql(t, tc.query, tc.vars)
			if len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(g.Errors[0].Message, tc.want) {
				t.Errorf("got %+v, want BAD_USER_INPUT naming %q", g.Errors, tc.want)
			}
		})
	}
	// Exactly 12 levels is allowed, as the README says.
	g := e.graphql(t, "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }", nil)
	if len(g.Errors) > 0 {
		t.Errorf("a document 12 levels deep: %+v, want it served", g.Errors)
	}
}

// Behind a proxy we trust, anonymous budgets are per client, named by the
// right-most X-Forwarded-For entry that is not a proxy, so a client cannot
// pick its key by writing the header itself; IPv6 clients are keyed by
// their /64. From a peer we do not trust, the header is ignored.
func TestBudgetBehindProxies(t *testing.T) {
	// Anonymous clients get a quarter of the user budget: a burst of 2,
	// refilled every 4 s, longer than this test takes.
	budget := map[string]string{"REQUEST_RATE": "1", "REQUEST_BURST": "8"}
	served := func(e *env, xff string) int {
		t.Helper()
		for i := range 5 {
			r := e.do(t, http.MethodPost, "/graphql", "application/json", `{"query":"{ __typename }"}`, "X-Forwarded-For", xff)
			if r.status == http.StatusTooManyRequests {
				return i
			}
			if r.status != http.StatusOK {
				t.Fatalf("X-Forwarded-For %s: HTTP %d %s", xff, r.status, r.body)
			}
		}
		return 5
	}
	behind := map[string]string{"TRUSTED_PROXIES": "127.0.0.1,::1"}
	for k, v := range budget {
		behind[k] = v
	}
	e := newEnv(t, opts{unmirrored: true, cfg: behind})
	for _, tc := range []struct {
		xff  string
		want int
	}{
		{"203.0.113.7", 2},
		{"203.0.113.8", 2},                // another client, its own budget
		{"198.51.100.99, 203.0.113.7", 0}, // a made-up entry in front changes nothing
		{"2001:db8::1", 2},                // IPv6
		{"2001:db8::2", 0},                // the same /64
		{"2001:db8:0:1::1", 2},            // another /64
		{"203.0.113.9, 127.0.0.1", 2},     // a second proxy hop we trust
	} {
		if got := served(e, tc.xff); got != tc.want {
			t.Errorf("behind a trusted proxy, X-Forwarded-For %q: %d served before 429, want %d", tc.xff, got, tc.want)
		}
	}

	direct := newEnv(t, opts{unmirrored: true, cfg: budget})
	if got := served(direct, "203.0.113.7"); got != 2 {
		t.Errorf("no trusted proxy: %d served before 429, want the burst of 2", got)
	}
	if got := served(direct, "203.0.113.8"); got != 0 {
		t.Errorf("no trusted proxy, another X-Forwarded-For from the same peer: %d served, want 0 (the header is ignored)", got)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/internal/server"
	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/storage"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
	"github.com/todo-backend/todo/storage/postgres"
)

// The package schedules its parallel tests itself (see parallel), so the
// testing package's own bound must not bind: it would start them in no
// particular order, and the longest ones could start last.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Parallel(128))) }

// lightSlots bounds the parallel tests other than the few long ones: their
// envs, each with databases and pools of its own, and the CPU they share
// with the long tests. The machine has 2 cores; the tests wait on FerretDB
// and PostgreSQL about half the time. It holds a unit for each long test
// from the start, and each long test gives its unit back when it ends: the
// others then run more at once.
var lightSlots = func() chan struct{} {
	c := make(chan struct{}, lightTests+longTests)
	for range longTests {
		c <- struct{}{}
	}
	return c
}()

// lightTests is how many tests that call parallel run at once beside the
// longTests, the tests that call long.
const lightTests, longTests = 4, 5

// parallel runs t beside the package's other parallel tests, once one of
// the lightSlots is free. Every test of the package owns its data (its env
// builds fresh databases), so any two may run at once. The long tests
// (the permission matrix, the read-policy walk, the mirror drills, the
// browser) call long instead and start at once, so that the run takes
// about as long as its longest test, not that plus a queue.
// The few tests whose bounds are in wall time under a fixed budget (rate
// limits refilling per second, a burst of writes within MutationTimeout)
// are not parallel: they run first, alone.
//
// The test's elapsed time in go test's report counts from t.Parallel, so
// it includes the wait for a slot: the test logs both.
func parallel(t *testing.T) {
	t.Helper()
	t.Parallel()
	queued := time.Now()
	lightSlots <- struct{}{}
	began := time.Now()
	t.Cleanup(func() {
		<-lightSlots
		t.Logf("ran %s after %s waiting for a slot", time.Since(began).Round(time.Millisecond), began.Sub(queued).Round(time.Millisecond))
	})
}

// long runs t, one of the longTests, beside the package's other parallel
// tests from the start (see parallel), and gives its unit of lightSlots
// back when it ends.
func long(t *testing.T) {
	t.Helper()
	t.Parallel()
	t.Cleanup(func() { <-lightSlots })
}

type downPinger struct{}

func (downPinger) Ping(context.Context) error { return errors.New("down") }

type env struct {
	url    string
	cfg    config.Config
	mongo  *mongo.Store
	mirror *mirror.Mirror
	// pg is the mirror's database, for tests that edit rows by hand.
	pg      *postgres.DB
	engine  *mirror.Engine
	store   *storage.Store
	auth    *auth.Service
	metrics *metrics.Metrics
	flight  *commandsInFlight
	// token is a Bearer access token of a signed-in user, sent by graphql.
	token string
}

type opts struct {
	mongo, mirror server.Pinger
	cfg           map[string]string
	// unmirrored: writes record their intents but are not applied to
	// PostgreSQL, for tests of the API's rules, which do not read the
	// mirror (half the cost of every write).
	unmirrored bool
	// mongoVia, when set, rewrites the MongoDB URI the service connects
	// to (through a fault proxy); the test's own checks use it too.
	mongoVia func(uri string) string
}

// newEnv serves the real handler over HTTP, on seeded real stores.
func newEnv(t *testing.T, o opts) *env {
	t.Helper()
	return newEnvAt(t, o, nil)
}

// newEnvAt builds the env; cfgFor, when set, completes the configuration
// once the server's URL is known (redirect URIs need it).
func newEnvAt(t *testing.T, o opts, cfgFor func(url string) map[string]string) *env {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	// Tests send as fast as they can; the budget has a test of its own.
	vars := map[string]string{"REQUEST_RATE": "0"}
	for k, v := range o.cfg {
		vars[k] = v
	}
	if cfgFor != nil {
		for k, v := range cfgFor(srv.URL) {
			vars[k] = v
		}
	}
	cfg, err := config.Load(config.MapLookup(vars))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	flight := &commandsInFlight{}
	uri := testenv.MongoURI(t)
	if o.mongoVia != nil {
		uri = o.mongoVia(uri)
	}
	ms, err := mongo.Connect(uri, indexedMongoDatabase(t), mongo.Options{Monitor: flight.monitor(m.MongoMonitor())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close(context.Background()) })
	// As serve does at start-up: the unique indexes are part of the rules.
	if err := ms.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Seed(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	pg, err := postgres.Open(migratedPostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	// As serve does at start-up; on a copy of the migrated template it
	// applies nothing.
	if _, err := pg.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := mirror.NewEngine(ms, mirror.New(pg), mirror.EngineOptions{Enabled: !o.unmirrored, Log: log})
	engine.SetReady()
	startCommitter(t, engine)
	if len(cfg.ReadsFromPostgres) > 0 {
		// The seeds, as serve copies them: reads may come from the mirror.
		if _, err := engine.Backfill(context.Background(), []string{mirror.Labels, mirror.Roles}, 100, nil); err != nil {
			t.Fatalf("backfilling the seeds: %v", err)
		}
	}
	store := storage.New(ms, storage.Options{Engine: engine, Log: log, Reads: readOptions(t, cfg)})
	authSvc := auth.NewService(cfg, store, auth.NewTokens(testKeys(t), cfg.AccessLifetime, cfg.RefreshLifetime, nil),
		[]byte("test-secret-test-secret-test-secret"), log, nil)
	deps := server.Deps{Config: cfg, Log: log, Metrics: m, Store: store, Auth: authSvc, Mongo: ms, Mirror: pg}
	if o.mongo != nil {
		deps.Mongo = o.mongo
	}
	if o.mirror != nil {
		deps.Mirror = o.mirror
	}
	handler = server.New(deps)
	e := &env{url: srv.URL, cfg: cfg, mongo: ms, mirror: mirror.New(pg), pg: pg, engine: engine, store: store, auth: authSvc, metrics: m, flight: flight}
	e.token = e.signIn(t, "tester@example.com")
	return e
}

// readOptions are the read flags' defaults of cfg, as serve builds them.
func readOptions(t *testing.T, cfg config.Config) storage.ReadOptions {
	t.Helper()
	families, err := storage.ReadDefaults(cfg.ReadsFromPostgres)
	if err != nil {
		t.Fatal(err)
	}
	// Shadows are bounded by their slots only: a test wants every sampled read compared.
	return storage.ReadOptions{Postgres: families, ShadowPercent: cfg.ReadShadowPercent, ShadowBudget: storage.NoShadowBudget}
}

// signIn creates (or finds) the user with email and returns a Bearer token.
func (e *env) signIn(t *testing.T, email string) string {
	t.Helper()
	u, err := e.store.SignInByEmail(context.Background(), email, "")
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.IsAdminEmail(email) { // as every sign-in path does
		if err := e.store.GrantGlobalRole(context.Background(), u.ID, "admin", "system"); err != nil {
			t.Fatal(err)
		}
	}
	tok, _, err := e.auth.Tokens().Issue(u.ID, auth.AccessToken, "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// indexedMongoDatabase is a MongoDB database of the test's own, empty but
// for the indexes serve creates: on FerretDB, creating them is DDL under a
// lock that stalls every other test, so the databases are recycled (see
// testenv.MongoPreparedDatabase).
func indexedMongoDatabase(t *testing.T) string {
	t.Helper()
	return testenv.MongoPreparedDatabase(t, "todo-indexes", func(ctx context.Context, uri, name string) error {
		ms, err := mongo.Connect(uri, name, mongo.Options{})
		if err != nil {
			return err
		}
		defer func() { _ = ms.Close(context.Background()) }()
		return ms.EnsureIndexes(ctx)
	})
}

// migratedPostgresDSN is a fresh PostgreSQL database holding the mirror's
// schema: a copy of a template migrated once per test binary, since
// migrating every env's database anew was a third of building the env.
func migratedPostgresDSN(t *testing.T) string {
	t.Helper()
	return testenv.PostgresTemplateDSN(t, "mirror-migrated", postgres.MigrateDSN)
}

var (
	keysOnce sync.Once
	keys     *auth.Keys
	keysErr  error
)

// testKeys generates one RSA pair per test binary: 2048-bit generation is
// slow enough to matter when every test builds an env.
func testKeys(t *testing.T) *auth.Keys {
	t.Helper()
	keysOnce.Do(func() { keys, keysErr = auth.GenerateKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys
}

type response struct {
	status int
	header http.Header
	body   []byte
	// closed: the server closes the connection after this answer.
	closed bool
}

func (e *env) do(t *testing.T, method, path, contentType, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close}
}

type gqlError struct {
	Message    string
	Extensions map[string]any
}

type gqlResponse struct {
	Data   json.RawMessage
	Errors []gqlError
}

func (e *env) graphql(t *testing.T, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return e.graphqlAs(t, e.token, query, vars)
}

// graphqlAs posts a query with a Bearer token ("" for anonymous).
func (e *env) graphqlAs(t *testing.T, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var headers []string
	if token != "" {
		headers = []string{"Authorization", "Bearer " + token}
	}
	r := e.do(t, http.MethodPost, "/graphql", "application/json", string(body), headers...)
	if r.status != http.StatusOK && r.status != http.StatusUnprocessableEntity {
		t.Fatalf("POST /graphql: HTTP %d: %s", r.status, r.body)
	}
	var g gqlResponse
	if err := json.Unmarshal(r.body, &g); err != nil {
		t.Fatalf("POST /graphql: %v: %s", err, r.body)
	}
	return g
}

func TestHealth(t *testing.T) {
	parallel(t)
	tests := []struct {
		name       string
		o          opts
		wantStatus int
		wantBody   string
	}{
		{"both up", opts{}, 200, `{"status":"UP","components":{"db":{"status":"UP"},"postgres":{"status":"UP"}}}`},
		{"mongodb down", opts{mongo: downPinger{}}, 503, `{"status":"DOWN","components":{"db":{"status":"DOWN"},"postgres":{"status":"UP"}}}`},
		{"mirror down", opts{mirror: downPinger{}}, 200, `{"status":"UP","components":{"db":{"status":"UP"},"postgres":{"status":"DOWN"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newEnv(t, tt.o).do(t, http.MethodGet, "/v1/health", "", "")
			if r.status != tt.wantStatus || strings.TrimSpace(string(r.body)) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestHealthWithUnreachableStores uses real clients pointed at closed ports:
// the checks must fail within the health timeout, not hang.
func TestHealthWithUnreachableStores(t *testing.T) {
	parallel(t)
	ms, err := mongo.Connect("mongodb://127.0.0.1:1/?connectTimeoutMS=200", "x", mongo.Options{ServerSelectionTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close(context.Background())
	pg, err := postgres.Open("postgres://postgres@127.0.0.1:1/x?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	e := newEnv(t, opts{mongo: ms, mirror: pg})
	start := time.Now()
	r := e.do(t, http.MethodGet, "/v1/health", "", "")
	want := `{"status":"DOWN","components":{"db":{"status":"DOWN"},"postgres":{"status":"DOWN"}}}`
	if r.status != 503 || strings.TrimSpace(string(r.body)) != want {
		t.Errorf("got %d %s, want 503 %s", r.status, r.body, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("health took %v with stores down, want it bounded by its timeout", d)
	}
}

func TestLabelsOverHTTP(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	q := "{labels(first:3){totalCount nodes{name color} pageInfo{hasNextPage endCursor}}}"
	bearer := []string{"Authorization", "Bearer " + e.token}
	get := e.do(t, http.MethodGet, "/graphql?query="+url.QueryEscape(q), "", "", bearer...)
	post := e.do(t, http.MethodPost, "/graphql", "application/json", fmt.Sprintf(`{"query":%q}`, q), bearer...)
	for _, r := range []response{get, post} {
		var g struct {
			Data struct {
				Labels struct {
					TotalCount int
					Nodes      []struct{ Name, Color string }
					PageInfo   struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
		}
		if err := json.Unmarshal(r.body, &g); err != nil || r.status != 200 {
			t.Fatalf("got %d %s (%v)", r.status, r.body, err)
		}
		l := g.Data.Labels
		if l.TotalCount != 8 || len(l.Nodes) != 3 || !l.PageInfo.HasNextPage || l.PageInfo.EndCursor == "" {
			t.Errorf("got %+v, want 3 of 8 labels and a next page", l)
		}
		if l.Nodes[0].Name != "API" || l.Nodes[1].Name != "Bug" || l.Nodes[2].Name != "Documentation" {
			t.Errorf("got %+v, want name order API, Bug, Documentation", l.Nodes)
		}
	}
	// Search is literal and case-insensitive: "ui/" finds "UI/UX" only.
	g := e.graphql(t, `query($s:String){labels(search:$s){totalCount nodes{name}}}`, map[string]any{"s": "ui/"})
	if string(g.Data) != `{"labels":{"totalCount":1,"nodes":[{"name":"UI/UX"}]}}` {
		t.Errorf("search ui/: got %s %v", g.Data, g.Errors)
	}
}

// TestTotalCountOnlyWhenAsked: counting is a round trip of its own.
func TestTotalCountOnlyWhenAsked(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	counter := e.metrics.MongoCommands.WithLabelValues("aggregate")
	before := testCounter(counter)
	e.graphql(t, "{labels{nodes{name}}}", nil)
	if got := testCounter(counter) - before; got != 0 {
		t.Errorf("labels without totalCount ran %v aggregate commands, want 0", got)
	}
	e.graphql(t, "{labels{totalCount}}", nil)
	if got := testCounter(counter) - before; got != 1 {
		t.Errorf("labels with totalCount ran %v aggregate commands, want 1", got)
	}
}

// TestBadRequests: GraphQL over HTTP as the spec has it (see transport.go).
// A request the server cannot read is 4xx with BAD_REQUEST and no data; a
// document that does not parse or validate, or variables that do not
// coerce, is 200 under application/json (the default) and 400 with no data
// under application/graphql-response+json.
func TestBadRequests(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{unmirrored: true})
	const gqlResponseJSON = "application/graphql-response+json"
	tests := []struct {
		name        string
		method      string
		contentType string
		accept      string
		body, path  string
		chunked     bool
		wantStatus  int
		wantCode    string
		wantField   string
		// wantData: whether the body has a data entry at all.
		wantData bool
	}{
		{name: "malformed JSON", method: "POST", contentType: "application/json", body: `{"query":`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "empty body", method: "POST", contentType: "application/json", body: ``, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "query not a string", method: "POST", contentType: "application/json", body: `{"query":0}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "no query", method: "POST", contentType: "application/json", body: `{"qeury":"{labels{totalCount}}"}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "variables a string", method: "POST", contentType: "application/json",
			body: `{"query":"{labels{totalCount}}","variables":"{}"}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "batch", method: "POST", contentType: "application/json", body: `[{"query":"{labels{totalCount}}"}]`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "not JSON", method: "POST", contentType: "text/plain", body: `{labels{totalCount}}`, wantStatus: 415, wantCode: "BAD_REQUEST"},
		{name: "no acceptable answer", method: "POST", contentType: "application/json", accept: "text/html",
			body: `{"query":"{labels{totalCount}}"}`, wantStatus: 406, wantCode: "BAD_REQUEST"},
		{name: "oversized body", method: "POST", contentType: "application/json",
			body: `{"query":"{labels{totalCount}}","x":"` + strings.Repeat("a", server.MaxBodyBytes) + `"}`, wantStatus: 413, wantCode: "BAD_REQUEST"},
		{name: "oversized body of unknown length", method: "POST", contentType: "application/json", chunked: true,
			body: `{"query":"{labels{totalCount}}","x":"` + strings.Repeat("a", 1<<20) + `"}`, wantStatus: 413, wantCode: "BAD_REQUEST"},
		{name: "syntax error", method: "POST", contentType: "application/json", body: `{"query":"{labels{"}`,
			wantStatus: 200, wantCode: "BAD_USER_INPUT"},
		{name: "syntax error, graphql-response+json", method: "POST", contentType: "application/json", accept: gqlResponseJSON,
			body: `{"query":"{labels{"}`, wantStatus: 400, wantCode: "BAD_USER_INPUT"},
		{name: "unknown field", method: "POST", contentType: "application/json", body: `{"query":"{labels{nope}}"}`,
			wantStatus: 200, wantCode: "BAD_USER_INPUT"},
		{name: "unknown field, graphql-response+json", method: "POST", contentType: "application/json", accept: gqlResponseJSON,
			body: `{"query":"{labels{nope}}"}`, wantStatus: 400, wantCode: "BAD_USER_INPUT"},
		{name: "first too large", method: "POST", contentType: "application/json", body: `{"query":"{labels(first:101){totalCount}}"}`,
			wantStatus: 200, wantCode: "BAD_USER_INPUT", wantField: "first"},
		{name: "negative first", method: "POST", contentType: "application/json", body: `{"query":"{labels(first:-1){totalCount}}"}`,
			wantStatus: 200, wantCode: "BAD_USER_INPUT", wantField: "first"},
		{name: "forged cursor", method: "POST", contentType: "application/json", body: `{"query":"{labels(after:\"bm9wZQ\"){totalCount}}"}`,
			wantStatus: 200, wantCode: "BAD_USER_INPUT", wantField: "after", wantData: true},
		{name: "wrong variable type", method: "POST", contentType: "application/json",
			body: `{"query":"query($n:Int){labels(first:$n){totalCount}}","variables":{"n":"ten"}}`, wantStatus: 200, wantCode: "BAD_USER_INPUT"},
		{name: "wrong variable type, graphql-response+json", method: "POST", contentType: "application/json", accept: gqlResponseJSON,
			body: `{"query":"query($n:Int){labels(first:$n){totalCount}}","variables":{"n":"ten"}}`, wantStatus: 400, wantCode: "BAD_USER_INPUT"},
		{name: "too costly", method: "POST", contentType: "application/json",
			body: `{"query":"{` + costly(15) + `}"}`, wantStatus: 200, wantCode: "BAD_USER_INPUT"},
		{name: "too many root fields", method: "POST", contentType: "application/json",
			body: `{"query":"{` + costly(60) + `}"}`, wantStatus: 200, wantCode: "BAD_USER_INPUT"},
		{name: "mutation over GET", method: "GET", path: "/graphql?query=" + url.QueryEscape("mutation{retryAllFailedSyncs}"),
			wantStatus: 405, wantCode: "BAD_REQUEST"},
		{name: "GET without a query", method: "GET", path: "/graphql", wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "GET with variables that are not JSON", method: "GET",
			path: "/graphql?query=" + url.QueryEscape("{labels{totalCount}}") + "&variables=nope", wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "unknown route", method: "GET", path: "/nope", wantStatus: 404},
		{name: "wrong method", method: "DELETE", path: "/v1/health", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/graphql"
			}
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // a length the client does not declare
			}
			req, err := http.NewRequest(tt.method, e.url+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("HTTP status: got %d (%s), want %d", resp.StatusCode, truncate(raw), tt.wantStatus)
			}
			if tt.wantCode == "" {
				return
			}
			wantType := "application/json; charset=utf-8"
			if tt.accept == gqlResponseJSON {
				wantType = gqlResponseJSON + "; charset=utf-8"
			}
			if got := resp.Header.Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type: got %q, want %q", got, wantType)
			}
			var g gqlResponse
			if err := json.Unmarshal(raw, &g); err != nil || len(g.Errors) == 0 {
				t.Fatalf("want a GraphQL error, got %s", truncate(raw))
			}
			if got := g.Errors[0].Extensions["code"]; got != tt.wantCode {
				t.Errorf("extensions.code: got %v, want %s (%s)", got, tt.wantCode, g.Errors[0].Message)
			}
			if msg := g.Errors[0].Message; msg == "internal error" || strings.Contains(msg, strings.Repeat("a", 100)) {
				t.Errorf("message: got %q, want the reason, and none of the body", truncate([]byte(msg)))
			}
			if got := g.Errors[0].Extensions["field"]; tt.wantField != "" && got != tt.wantField {
				t.Errorf("extensions.field: got %v, want %s", got, tt.wantField)
			}
			var entries map[string]json.RawMessage
			_ = json.Unmarshal(raw, &entries)
			if _, has := entries["data"]; has != tt.wantData {
				t.Errorf("data entry: present %v, want %v (%s)", has, tt.wantData, truncate(raw))
			}
		})
	}
}

// costly builds n aliased labels fields at the maximum page size; their
// complexity adds up past the limit without any one of them being deep.
func costly(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "l%d:tasks(first:100){nodes{activity(first:100){nodes{id}}}} ", i)
	}
	return b.String()
}

func TestDepthLimit(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	// A narrow query one level too deep. (Introspection's ofType chains are
	// measured otherwise: TestStandardIntrospection.)
	g := e.graphql(t, deepData(server.MaxDepth+1), nil)
	if len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(g.Errors[0].Message, "nested") {
		t.Fatalf("got %s %+v, want a BAD_USER_INPUT depth error", g.Data, g.Errors)
	}
	ok := e.graphql(t, "{labels{edges{node{name}}}}", nil)
	if len(ok.Errors) != 0 {
		t.Errorf("a shallow query was refused: %+v", ok.Errors)
	}
}

func TestRequestIDAndCORS(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"}})
	r := e.do(t, http.MethodGet, "/v1/health", "", "", "X-Request-Id", "abc-123")
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id: got %q, want the client's abc-123", got)
	}
	r = e.do(t, http.MethodGet, "/v1/health", "", "", "X-Request-Id", "two words")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, "\n ") {
		t.Errorf("X-Request-Id: got %q, want a fresh safe id", got)
	}
	pre := e.do(t, http.MethodOptions, "/graphql", "", "", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || pre.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight from an allowed origin: got headers %v", pre.header)
	}
	bad := e.do(t, http.MethodOptions, "/graphql", "", "", "Origin", "https://evil.example.com",
		"Access-Control-Request-Method", "POST")
	if got := bad.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin: got Access-Control-Allow-Origin %q, want none", got)
	}
}

func TestMetricsCountMongoCommands(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	e.graphql(t, "{labels{nodes{name}}}", nil)
	r := e.do(t, http.MethodGet, "/metrics", "", "")
	for _, want := range []string{`todo_mongodb_commands_total{command="find"}`, `todo_http_requests_total{code="200",method="POST",route="/graphql"}`, "go_goroutines"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestPlayground(t *testing.T) {
	parallel(t)
	r := newEnv(t, opts{}).do(t, http.MethodGet, "/playground", "", "")
	if r.status != 200 || !strings.Contains(string(r.body), "playground/assets/main.js") {
		t.Errorf("got %d, want the playground page loading GraphiQL from the server", r.status)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

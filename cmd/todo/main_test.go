package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// syncBuffer collects a command's output while its goroutines write to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// configVars are the variables config reads that a developer's own
// environment may hold.
var configVars = []string{"ENV", "PORT", "MONGODB_URI", "DB_NAME", "POSTGRES_DSN", "POSTGRES_HOST",
	"POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_NAME", "POSTGRES_USER", "POSTGRES_PASSWORD", "DATA_DIR",
	"PRIVATE_KEY", "PUBLIC_KEY", "SECRET_KEY", "AUTH_DEV_LOGIN", "GOOGLE_OAUTH_CLIENT_ID"}

// isolateEnv clears every variable config reads, so the developer's own
// environment cannot leak into a test, then sets the given ones.
func isolateEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range configVars {
		t.Setenv(name, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// isolatedEnviron is isolateEnv for a process of its own: this process's
// environment with every variable config reads cleared, then env set.
func isolatedEnviron(env map[string]string) []string {
	out := os.Environ()
	for _, name := range configVars {
		out = append(out, name+"=")
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a `todo serve` running in this process.
type process struct {
	base   string
	token  string // from dev login, sent as Bearer
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

func startServe(t *testing.T, env map[string]string) *process {
	t.Helper()
	port := freePort(t)
	env["PORT"] = fmt.Sprint(port)
	isolateEnv(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	s := &process{base: fmt.Sprintf("http://127.0.0.1:%d", port), log: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { s.done <- run(ctx, []string{"serve"}, io.Discard, s.log) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.base + "/v1/health")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("todo serve exited with %d before answering:\n%s", code, s.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("todo serve did not answer within 30s:\n%s", s.log)
	return nil
}

// stop sends the equivalent of SIGTERM and waits for a clean exit.
func (s *process) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("todo serve exited with %d, want 0:\n%s", code, s.log)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("todo serve did not stop within 30s")
	}
}

func (s *process) getJSON(t *testing.T, path string, into any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
	return resp.StatusCode
}

// waitHealth polls until the health answer has the wanted status for the
// stores, since preparing them runs beside the server.
func (s *process) waitHealth(t *testing.T, wantCode int, wantDB, wantPG string) {
	t.Helper()
	var body struct {
		Status     string
		Components map[string]struct{ Status string }
	}
	var code int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code = s.getJSON(t, "/v1/health", &body)
		if code == wantCode && body.Components["db"].Status == wantDB && body.Components["postgres"].Status == wantPG {
			return
		}
	}
	t.Fatalf("health: got %d %+v, want %d db %s postgres %s", code, body, wantCode, wantDB, wantPG)
}

// waitLog waits for a log line: preparing the stores runs beside the server.
func (s *process) waitLog(t *testing.T, substr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(s.log.String(), substr) {
			return
		}
	}
	t.Fatalf("log never said %s:\n%s", substr, s.log)
}

type labelsAnswer struct {
	Data struct {
		Labels struct {
			TotalCount int
			Nodes      []struct{ Name, Color string }
		}
	}
	Errors []json.RawMessage
}

// devLogin signs in the way the start-up log tells a newcomer to.
func (s *process) devLogin(t *testing.T, email string) {
	t.Helper()
	resp, err := http.Post(s.base+"/v1/auth/dev/login", "application/json", strings.NewReader(`{"email":"`+email+`","name":"New"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ AccessToken string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("dev login: HTTP %d, %v", resp.StatusCode, err)
	}
	s.token = body.AccessToken
}

func (s *process) labels(t *testing.T) labelsAnswer {
	t.Helper()
	if s.token == "" {
		s.devLogin(t, "newcomer@example.com")
	}
	var a labelsAnswer
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		a = labelsAnswer{}
		code := s.getJSON(t, "/graphql?query="+url.QueryEscape("{labels(first:3){totalCount nodes{name color}}}"), &a)
		if code != http.StatusOK {
			t.Fatalf("labels: HTTP %d", code)
		}
		if a.Data.Labels.TotalCount == 8 { // seeding runs beside the server
			return a
		}
	}
	t.Fatalf("labels never reached the 8 seeded ones: %+v", a)
	return a
}

// TestEmbeddedDefault is the newcomer's path: no configuration at all, data
// under DATA_DIR, and a restart that keeps it without duplicating seeds.
func TestEmbeddedDefault(t *testing.T) {
	dataDir := t.TempDir()
	s := startServe(t, map[string]string{"DATA_DIR": dataDir})
	s.waitHealth(t, http.StatusOK, "UP", "UP")
	a := s.labels(t)
	if len(a.Data.Labels.Nodes) != 3 || len(a.Errors) != 0 {
		t.Fatalf("labels(first:3): got %+v, want 3 nodes and no errors", a)
	}
	if got := a.Data.Labels.Nodes[0]; got.Name != "API" || got.Color != "#3b82f6" {
		t.Errorf("first label: got %+v, want API #3b82f6 (name order)", got)
	}
	for _, want := range []string{"embedded FerretDB", "embedded SQLite", "/playground", "/v1/auth/dev/login"} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("start-up log does not mention %q:\n%s", want, s.log)
		}
	}
	s.stop(t)

	again := startServe(t, map[string]string{"DATA_DIR": dataDir})
	again.waitHealth(t, http.StatusOK, "UP", "UP")
	// The signing keys were generated once into DATA_DIR: a token from the
	// first run still works.
	again.token = s.token
	if got := again.labels(t).Data.Labels.TotalCount; got != 8 {
		t.Errorf("after restart: got %d labels, want 8", got)
	}
	again.waitLog(t, `"msg":"mongodb ready"`)
	if !strings.Contains(again.log.String(), `"seeded_labels":0`) {
		t.Errorf("restart seeded labels again:\n%s", again.log)
	}
}

// TestStartsWithMongoDown: the service comes up and reports DOWN (503)
// while MongoDB is unreachable, and the mirror keeps its own status.
func TestStartsWithMongoDown(t *testing.T) {
	s := startServe(t, map[string]string{
		"DATA_DIR":    t.TempDir(),
		"MONGODB_URI": fmt.Sprintf("mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=300&connectTimeoutMS=300", freePort(t)),
	})
	s.waitHealth(t, http.StatusServiceUnavailable, "DOWN", "UP")
}

// TestRealStores runs serve and migrate against the harness's MongoDB-wire
// server and PostgreSQL.
func TestRealStores(t *testing.T) {
	env := map[string]string{
		"DATA_DIR":     t.TempDir(),
		"MONGODB_URI":  testenv.MongoURI(t),
		"DB_NAME":      testenv.MongoDatabase(t),
		"POSTGRES_DSN": testenv.PostgresDSN(t),
	}
	isolateEnv(t, env)
	for i := range 2 { // the second run must be a no-op that still succeeds
		var out, errOut syncBuffer
		if code := run(context.Background(), []string{"migrate"}, &out, &errOut); code != 0 {
			t.Fatalf("migrate run %d: exit %d\n%s%s", i+1, code, &out, &errOut)
		}
		if !strings.Contains(out.String(), "mirror: migrations applied") || !strings.Contains(out.String(), "mongodb: indexes and seeds in place") {
			t.Errorf("migrate run %d output: %q", i+1, out.String())
		}
	}
	s := startServe(t, env)
	s.waitHealth(t, http.StatusOK, "UP", "UP")
	s.waitLog(t, `"msg":"mirror ready"`)
	if !strings.Contains(s.log.String(), `"applied_migrations":null`) {
		t.Errorf("serve after migrate applied migrations again:\n%s", s.log)
	}
	s.labels(t)
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		env      map[string]string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{args: []string{"help"}, wantCode: 0, wantOut: "todo keys generate"},
		{args: []string{"frobnicate"}, wantCode: 2, wantErr: `unknown command "frobnicate"`},
		{args: []string{"keys"}, wantCode: 2, wantErr: "keys takes one subcommand"},
		{args: []string{"serve", "extra"}, wantCode: 2, wantErr: "serve takes no arguments"},
		{args: []string{"serve"}, env: map[string]string{"PORT": "eighty"}, wantCode: 1, wantErr: "todo: config: PORT: must be an integer"},
		{args: []string{"migrate"}, env: map[string]string{"ENV": "production"}, wantCode: 1, wantErr: "todo: config: MONGODB_URI: required in production"},
		{args: []string{"serve"}, env: map[string]string{"ENV": "staging", "AUTH_DEV_LOGIN": "true"}, wantCode: 1, wantErr: "todo: config: AUTH_DEV_LOGIN: allowed only with ENV=development"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			isolateEnv(t, tt.env)
			var out, errOut syncBuffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout: got %q, want it to contain %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut.String(), tt.wantErr)
			}
			if tt.wantCode == 1 && strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
				t.Errorf("a configuration error must be one line, got %q", errOut.String())
			}
		})
	}
}

// TestKeysGenerate checks that the printed pair is what PRIVATE_KEY and
// PUBLIC_KEY accept, read back the way a .env file is.
func TestKeysGenerate(t *testing.T) {
	var out syncBuffer
	if code := run(context.Background(), []string{"keys", "generate"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	env, err := godotenv.Unmarshal(out.String())
	if err != nil {
		t.Fatalf("output is not .env syntax: %v\n%s", err, out.String())
	}
	env["ENV"] = "production"
	env["MONGODB_URI"] = "mongodb://mongo:27017"
	env["POSTGRES_DSN"] = "postgres://pg/todo"
	env["SECRET_KEY"] = strings.Repeat("s", 32)
	c, err := config.Load(config.MapLookup(env))
	if err != nil {
		t.Fatalf("config rejects the generated pair: %v", err)
	}
	if !strings.HasPrefix(c.PrivateKeyPEM, "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("private key: got %.40q", c.PrivateKeyPEM)
	}
}

// TestStartsAndWritesWithPostgresDown: the mirror's database is away; the
// server starts, reports it in health, and takes writes (their intents wait).
func TestStartsAndWritesWithPostgresDown(t *testing.T) {
	s := startServe(t, map[string]string{
		"DATA_DIR":     t.TempDir(),
		"MONGODB_URI":  testenv.MongoURI(t),
		"DB_NAME":      testenv.MongoDatabase(t),
		"POSTGRES_DSN": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?connect_timeout=1", freePort(t)),
	})
	s.waitHealth(t, http.StatusOK, "UP", "DOWN")
	s.devLogin(t, "writer@example.com")
	body := strings.NewReader(`{"query":"mutation { createTask(input: {title: \"while PostgreSQL is down\"}) { id } }"}`)
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var g struct {
		Data   struct{ CreateTask struct{ ID string } }
		Errors []json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil || len(g.Errors) > 0 || g.Data.CreateTask.ID == "" {
		t.Fatalf("createTask with PostgreSQL down: HTTP %d, %v %s\n%s", resp.StatusCode, err, g.Errors, s.log)
	}
	var health struct {
		Components map[string]struct {
			Status  string
			Pending *int
		}
	}
	// One health answer serves every caller for up to a second.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s.getJSON(t, "/v1/health", &health); health.Components["sync"].Pending != nil && *health.Components["sync"].Pending > 0 {
			break
		}
	}
	if sc := health.Components["sync"]; sc.Pending == nil || *sc.Pending == 0 {
		t.Errorf("health sync component: got %+v, want pending writes", sc)
	}
}

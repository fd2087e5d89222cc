package deploy

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// repoRoot is where docker-compose.yml and Dockerfile live, seen from this package.
const repoRoot = "../.."

// dummyKeys stand in for the values compose requires from .env (`${VAR:?}`), so the
// test never reads the developer's environment or .env file.
var dummyKeys = map[string]string{
	"PRIVATE_KEY": "dummy-private-key",
	"PUBLIC_KEY":  "dummy-public-key",
	"SECRET_KEY":  "dummy-secret-key",
}

// loadCompose loads docker-compose.yml the way `docker compose` would, with only the
// given variables as the environment and the given profiles active.
func loadCompose(t *testing.T, env map[string]string, profiles ...string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(envList), // no WithOsEnv / WithDotEnv: hermetic
		cli.WithResolvedPaths(true),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	p, err := loadCompose(t, dummyKeys, profiles...)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %q: missing; got services %v", name, p.ServiceNames())
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func healthTest(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 {
		t.Fatalf("service %q: no usable healthcheck; got %+v", s.Name, s.HealthCheck)
	}
	return strings.Join(s.HealthCheck.Test, " ")
}

// namedVolumeAt reports whether s mounts a top-level named volume at target.
func namedVolumeAt(p *types.Project, s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == target {
			_, declared := p.Volumes[v.Source]
			return declared
		}
	}
	return false
}

// flagValue returns the argument after flag in cmd, or "".
func flagValue(cmd []string, flag string) string {
	for i, a := range cmd {
		if a == flag && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func TestComposeMongoIsHealthyReplicaSet(t *testing.T) {
	p := mustLoadCompose(t)
	mongo := service(t, p, "mongo")

	if !strings.HasPrefix(mongo.Image, "mongo:") {
		t.Errorf("mongo image: got %q, want mongo:<version>", mongo.Image)
	}
	if rs := flagValue(mongo.Command, "--replSet"); rs != "rs0" {
		t.Errorf("mongo --replSet: got %q (command %q), want rs0", rs, mongo.Command)
	}
	hc := healthTest(t, mongo)
	for _, want := range []string{"mongosh", "rs.initiate", "isWritablePrimary", `host: "mongo:27017"`} {
		if !strings.Contains(hc, want) {
			t.Errorf("mongo healthcheck: got %q, want it to contain %q", hc, want)
		}
	}
	if !namedVolumeAt(p, mongo, "/data/db") {
		t.Errorf("mongo: no named volume at /data/db; got %+v", mongo.Volumes)
	}
}

func TestComposePostgresIsHealthyWithVolume(t *testing.T) {
	p := mustLoadCompose(t)
	pg := service(t, p, "postgres")

	if !strings.HasPrefix(pg.Image, "postgres:") {
		t.Errorf("postgres image: got %q, want postgres:<version>", pg.Image)
	}
	if hc := healthTest(t, pg); !strings.Contains(hc, "pg_isready") {
		t.Errorf("postgres healthcheck: got %q, want pg_isready", hc)
	}
	if !namedVolumeAt(p, pg, "/var/lib/postgresql/data") {
		t.Errorf("postgres: no named volume at /var/lib/postgresql/data; got %+v", pg.Volumes)
	}
	for _, k := range []string{"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} {
		if env(pg, k) == "" {
			t.Errorf("postgres environment %s: empty", k)
		}
	}
}

func TestComposeApp(t *testing.T) {
	p := mustLoadCompose(t)
	app := service(t, p, "app")
	mongo := service(t, p, "mongo")
	pg := service(t, p, "postgres")

	t.Run("build", func(t *testing.T) {
		root, _ := filepath.Abs(repoRoot)
		if app.Build == nil {
			t.Fatal("app: no build section")
		}
		if got := filepath.Clean(app.Build.Context); got != root {
			t.Errorf("app build context: got %q, want %q", got, root)
		}
		if got := filepath.Base(app.Build.Dockerfile); got != "Dockerfile" {
			t.Errorf("app build dockerfile: got %q, want Dockerfile", app.Build.Dockerfile)
		}
	})

	t.Run("port", func(t *testing.T) {
		ok := slices.ContainsFunc(app.Ports, func(pc types.ServicePortConfig) bool {
			return pc.Target == 8000 && pc.Published == "8000"
		})
		if !ok {
			t.Errorf("app ports: got %+v, want 8000:8000", app.Ports)
		}
	})

	t.Run("depends on healthy stores", func(t *testing.T) {
		for _, dep := range []string{"mongo", "postgres"} {
			d, ok := app.DependsOn[dep]
			if !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("app depends_on %s: got %+v (present %v), want condition %s",
					dep, d, ok, types.ServiceConditionHealthy)
			}
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		if hc := healthTest(t, app); !strings.Contains(hc, "/v1/health") {
			t.Errorf("app healthcheck: got %q, want a request to /v1/health", hc)
		}
	})

	t.Run("mongodb", func(t *testing.T) {
		raw := env(app, "MONGODB_URI")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("app MONGODB_URI %q: %v", raw, err)
		}
		if u.Scheme != "mongodb" || u.Hostname() != "mongo" {
			t.Errorf("app MONGODB_URI: got %q, want mongodb://mongo...", raw)
		}
		if got, want := u.Query().Get("replicaSet"), flagValue(mongo.Command, "--replSet"); got == "" || got != want {
			t.Errorf("app MONGODB_URI replicaSet: got %q, want %q (mongo's --replSet)", got, want)
		}
		if got := env(app, "DB_NAME"); got != "todo-app" {
			t.Errorf("app DB_NAME: got %q, want todo-app", got)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		if dsn := env(app, "POSTGRES_DSN"); dsn != "" {
			if u, err := url.Parse(dsn); err != nil || u.Hostname() != "postgres" {
				t.Errorf("app POSTGRES_DSN: got %q, want a URL to host postgres", dsn)
			}
			return
		}
		if got := env(app, "POSTGRES_HOST"); got != "postgres" {
			t.Errorf("app POSTGRES_HOST: got %q, want postgres", got)
		}
		// The app must log in with the credentials the postgres service is created with.
		for _, k := range []string{"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} {
			if got, want := env(app, k), env(pg, k); got == "" || got != want {
				t.Errorf("app %s: got %q, want %q (the postgres service's)", k, got, want)
			}
		}
	})

	t.Run("keys and mode", func(t *testing.T) {
		for k, want := range dummyKeys {
			if got := env(app, k); got != want {
				t.Errorf("app %s: got %q, want %q from the environment", k, got, want)
			}
		}
		if got := env(app, "ENV"); got != "production" {
			t.Errorf("app ENV: got %q, want production by default", got)
		}
	})
}

func TestComposeRequiresKeys(t *testing.T) {
	for missing := range dummyKeys {
		t.Run(missing, func(t *testing.T) {
			partial := map[string]string{}
			for k, v := range dummyKeys {
				if k != missing {
					partial[k] = v
				}
			}
			_, err := loadCompose(t, partial)
			if err == nil || !strings.Contains(err.Error(), missing) {
				t.Errorf("load without %s: got error %v, want one naming %s", missing, err, missing)
			}
		})
	}
}

// SPEC §6.6: compose can run two replicas of the app against the same stores.
func TestComposeScaleProfileRunsSecondReplica(t *testing.T) {
	if p := mustLoadCompose(t); slices.Contains(p.ServiceNames(), "app2") {
		t.Errorf("app2 runs without the scale profile; want it opt-in")
	}

	p := mustLoadCompose(t, "scale")
	app, app2 := service(t, p, "app"), service(t, p, "app2")
	if app2.Build == nil || app.Build == nil || app2.Build.Context != app.Build.Context {
		t.Errorf("app2 build: got %+v, want the same build as app %+v", app2.Build, app.Build)
	}
	for _, k := range []string{"MONGODB_URI", "DB_NAME", "POSTGRES_HOST", "POSTGRES_DSN", "PRIVATE_KEY", "PUBLIC_KEY", "SECRET_KEY"} {
		if env(app, k) != env(app2, k) {
			t.Errorf("app2 %s: got %q, want app's %q", k, env(app2, k), env(app, k))
		}
	}
	published := map[string]string{}
	for _, s := range []types.ServiceConfig{app, app2} {
		for _, pc := range s.Ports {
			if other, dup := published[pc.Published]; dup && pc.Published != "" {
				t.Errorf("host port %s published by both %s and %s", pc.Published, other, s.Name)
			}
			published[pc.Published] = s.Name
		}
	}
}

// dockerStage is one FROM ... section of a Dockerfile: its base and its instructions,
// continuation lines joined.
type dockerStage struct {
	from         string
	instructions []string
}

func parseDockerfile(t *testing.T, text string) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var logical strings.Builder
	flush := func() {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		if line == "" {
			return
		}
		if strings.EqualFold(strings.Fields(line)[0], "FROM") {
			stages = append(stages, dockerStage{from: line})
			return
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: instruction before FROM: %q", line)
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, line)
	}
	for _, raw := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") {
			continue // comments and parser directives
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			logical.WriteString(cont + " ")
			continue
		}
		logical.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func instructionArgs(s dockerStage, keyword string) []string {
	var args []string
	for _, in := range s.instructions {
		kw, rest, _ := strings.Cut(in, " ")
		if strings.EqualFold(kw, keyword) {
			args = append(args, strings.TrimSpace(rest))
		}
	}
	return args
}

func TestDockerfile(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, string(text))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile stages: got %d, want a multi-stage build", len(stages))
	}
	final := stages[len(stages)-1]

	t.Run("builds cmd/todo statically", func(t *testing.T) {
		build := regexp.MustCompile(`CGO_ENABLED=0\b.*\bgo build\b.*\s\./cmd/todo\b`)
		found := false
		for _, s := range stages[:len(stages)-1] {
			for _, run := range instructionArgs(s, "RUN") {
				found = found || build.MatchString(run)
			}
		}
		if !found {
			t.Errorf("Dockerfile: no build stage runs `CGO_ENABLED=0 go build ... ./cmd/todo`")
		}
	})

	t.Run("final stage runs as non-root", func(t *testing.T) {
		users := instructionArgs(final, "USER")
		if len(users) == 0 {
			t.Fatalf("final stage (%s): no USER", final.from)
		}
		user, _, _ := strings.Cut(users[len(users)-1], ":")
		if user == "root" || user == "0" || user == "" {
			t.Errorf("final stage USER: got %q, want a non-root user", users[len(users)-1])
		}
	})

	t.Run("final stage serves on 8000", func(t *testing.T) {
		if got := instructionArgs(final, "EXPOSE"); !slices.Contains(got, "8000") {
			t.Errorf("final stage EXPOSE: got %q, want 8000", got)
		}
		if got := instructionArgs(final, "ENTRYPOINT"); len(got) != 1 || got[0] != `["/todo"]` {
			t.Errorf("final stage ENTRYPOINT: got %q, want [\"/todo\"]", got)
		}
		if got := instructionArgs(final, "CMD"); len(got) != 1 || got[0] != `["serve"]` {
			t.Errorf("final stage CMD: got %q, want [\"serve\"]", got)
		}
	})
}

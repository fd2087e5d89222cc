package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// auditDir holds the pinned graphql-http audit suite (package.json and its
// lockfile) and the script that runs it.
var auditDir = filepath.Join("..", "..", "test", "graphql-http")

// TestGraphQLOverHTTPAudit runs graphql-http's own audit of the GraphQL
// over HTTP spec against the real handler, signed in (every field needs a
// caller): no error and no warning. The suite is installed from its
// lockfile when missing (npm's registry is reachable here and in CI).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	parallel(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for graphql-http's audit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(auditDir, "node_modules", "graphql-http", "package.json")); err != nil {
		npm := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = auditDir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", auditDir, err, out)
		}
	}
	e := newEnv(t, opts{unmirrored: true})
	cmd := exec.CommandContext(ctx, node, "audit.mjs", e.url+"/graphql", e.token)
	cmd.Dir = auditDir
	out, err := cmd.CombinedOutput()
	summary := lastLine(string(out))
	t.Logf("%s", out)
	if err != nil || !strings.HasSuffix(summary, " 0 warnings, 0 errors") {
		t.Errorf("graphql-http audit: %v; got %q, want no warning and no error", err, summary)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

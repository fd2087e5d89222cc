package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/todo-backend/todo/internal/testenv"
)

// browserTestDir holds the pinned playwright-core (package.json and its
// lockfile) and the script that drives the browser; the screenshots go to
// its out/ folder.
var browserTestDir = filepath.Join("..", "..", "test", "playground")

// chromiumPath is Debian's chromium, which .ci/run installs when missing.
const chromiumPath = "/usr/bin/chromium"

// TestPlaygroundInBrowser drives headless chromium through /playground on a
// development server and a production one, with nothing beyond loopback
// reachable (test/playground/browser.mjs says what it checks). Without
// chromium or node it is skipped, except with CI=true, where it fails.
func TestPlaygroundInBrowser(t *testing.T) {
	long(t)
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node is needed to drive the browser: %v", err)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Unavailable(t, "chromium is needed (apt-get install chromium; .ci/run does): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(browserTestDir, "node_modules", "playwright-core", "package.json")); err != nil {
		npm := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		npm.Dir = browserTestDir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", browserTestDir, err, out)
		}
	}

	// The page's requests carry its own origin (browsers send Origin on
	// every POST), which is not in CORS_ALLOWED_ORIGINS: the CSRF check of
	// cookie sessions takes them by the browser's Sec-Fetch-Site.
	dev := newEnv(t, opts{unmirrored: true, cfg: map[string]string{"ADMIN_EMAILS": "admin@example.com"}})
	// The admin has tasks (assigned to them: tasks lists those by default)
	// before signing in through the browser.
	admin := dev.person(t, "admin@example.com")
	const adminTasks = 4
	for i := range adminTasks {
		dev.create(t, admin, map[string]any{"title": fmt.Sprintf("Playground task %d", i+1), "assignee": map[string]any{"userId": admin.id}})
	}
	private, public := testKeys(t).PEM()
	prod := newEnv(t, opts{unmirrored: true, cfg: map[string]string{
		"ENV":          "production",
		"ADMIN_EMAILS": "root@example.com",
		// What production's validation asks for; the env connects to the
		// test's own servers whatever these say.
		"MONGODB_URI":  "mongodb://127.0.0.1:1/unused",
		"POSTGRES_DSN": "postgres://127.0.0.1:1/unused",
		"PRIVATE_KEY":  private,
		"PUBLIC_KEY":   public,
		"SECRET_KEY":   strings.Repeat("s", 32),
	}})

	out, err := filepath.Abs(filepath.Join(browserTestDir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	args, err := json.Marshal(map[string]any{
		"dev":           dev.url,
		"adminTasks":    adminTasks,
		"prod":          prod.url,
		"adminEmail":    "admin@example.com",
		"prodAdmin":     prod.signIn(t, "root@example.com"),
		"prodMember":    prod.token,
		"cookie":        prod.cfg.AccessCookieName,
		"introspection": standardIntrospection,
		"out":           out,
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "browser.mjs", string(args))
	cmd.Dir = browserTestDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	// On timeout, SIGINT: Playwright closes the browser it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	output, err := cmd.CombinedOutput()
	t.Logf("%s", output)
	summary := "no summary line"
	for _, line := range strings.Split(string(output), "\n") {
		if strings.HasPrefix(line, "playground browser test: ") {
			summary = line
		}
	}
	if err != nil || summary != "playground browser test: ok" {
		t.Errorf("browser test: %v; got %q, want \"playground browser test: ok\"", err, summary)
	}
}

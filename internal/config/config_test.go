package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load(MapLookup(nil))
	if err != nil {
		t.Fatalf("Load(empty): %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Env", c.Env, EnvDevelopment},
		{"Port", c.Port, 8000},
		{"DBName", c.DBName, "todo-app"},
		{"Embedded", c.Embedded(), true},
		{"EmbeddedMirror", c.EmbeddedMirror(), true},
		{"DualWriteEnabled", c.DualWriteEnabled, true},
		{"DualWriteSyncMode", c.DualWriteSyncMode, SyncModeSync},
		{"DualWriteRetryAttempts", c.DualWriteRetryAttempts, 3},
		{"DualWriteRetryDelay", c.DualWriteRetryDelay, 5 * time.Second},
		{"OIDCIssuerURL", c.OIDCIssuerURL, "https://accounts.google.com"},
		{"AccessLifetime", c.AccessLifetime, time.Hour},
		{"RefreshLifetime", c.RefreshLifetime, 7 * 24 * time.Hour},
		{"AccessCookieName", c.AccessCookieName, "todo-access"},
		{"RefreshCookieName", c.RefreshCookieName, "todo-refresh"},
		{"CookieSecure", c.CookieSecure, false},
		{"CookieSameSite", c.CookieSameSite, http.SameSiteLaxMode},
		{"UIBaseURL", c.UIBaseURL, "http://localhost:3000"},
		{"UIRedirectPath", c.UIRedirectPath, "dashboard"},
		{"CORSAllowedOrigins", strings.Join(c.CORSAllowedOrigins, ","), "http://localhost:3000"},
		{"DevLogin", c.DevLogin, true},
		{"DataDir", c.DataDir, "./.todo-data"},
		{"RequestConcurrency", c.RequestConcurrency, 4},
		{"TrustedProxies", len(c.TrustedProxies), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestDerivedDefaults(t *testing.T) {
	c, err := Load(MapLookup(map[string]string{"ENV": "staging", "GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.CookieSecure {
		t.Error("CookieSecure: got false outside development, want true")
	}
	if c.DevLogin {
		t.Error("DevLogin: got true outside development, want false")
	}
	c, err = Load(MapLookup(map[string]string{"GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DevLogin {
		t.Error("DevLogin: got true with a Google client id, want false")
	}
}

func TestPostgresDSN(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"POSTGRES_DSN": "postgres://u:p@db:5433/x"}, "postgres://u:p@db:5433/x"},
		{map[string]string{"POSTGRES_HOST": "db"}, "postgres://todo_user@db:5432/todo_postgres?sslmode=prefer"},
		{map[string]string{"POSTGRES_HOST": "db", "POSTGRES_NAME": "n", "POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p@ss", "POSTGRES_PORT": "6000"},
			"postgres://u:p%40ss@db:6000/n?sslmode=prefer"},
		{map[string]string{"POSTGRES_DB": "a", "POSTGRES_NAME": "b"}, "postgres://todo_user@localhost:5432/a?sslmode=prefer"},
	}
	for _, tt := range tests {
		c, err := Load(MapLookup(tt.env))
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if c.PostgresDSN != tt.want {
			t.Errorf("%v: got %q, want %q", tt.env, c.PostgresDSN, tt.want)
		}
	}
}

func TestListsAreTrimmed(t *testing.T) {
	c, err := Load(MapLookup(map[string]string{
		"ADMIN_EMAILS":         " Ann@Example.com, ,bob@example.com ",
		"CORS_ALLOWED_ORIGINS": "https://a.example.com/, http://localhost:5173",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.AdminEmails, ","); got != "ann@example.com,bob@example.com" {
		t.Errorf("AdminEmails: got %q", got)
	}
	if !c.IsAdminEmail("ANN@example.com ") || c.IsAdminEmail("eve@example.com") {
		t.Error("IsAdminEmail: wrong answer")
	}
	if got := strings.Join(c.CORSAllowedOrigins, ","); got != "https://a.example.com,http://localhost:5173" {
		t.Errorf("CORSAllowedOrigins: got %q", got)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load(MapLookup(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::1, 172.16.5.9/12, ::ffff:100.64.0.0/106"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	// A bare address is a prefix of its own; a prefix is kept masked.
	// An IPv4-mapped prefix is kept as the IPv4 one: clients are compared unmapped.
	if want := "10.0.0.0/8,192.168.1.7/32,fd00::/8,::1/128,172.16.0.0/12,100.64.0.0/10"; strings.Join(got, ",") != want {
		t.Errorf("TrustedProxies: got %s, want %s", strings.Join(got, ","), want)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantVar string
	}{
		{map[string]string{"PORT": "eighty"}, "PORT"},
		{map[string]string{"PORT": "70000"}, "PORT"},
		{map[string]string{"ENV": "prod"}, "ENV"},
		{map[string]string{"MONGODB_URI": "http://x"}, "MONGODB_URI"},
		{map[string]string{"DB_NAME": "a/b"}, "DB_NAME"},
		{map[string]string{"POSTGRES_DSN": "mysql://x"}, "POSTGRES_DSN"},
		{map[string]string{"POSTGRES_PORT": "x"}, "POSTGRES_PORT"},
		{map[string]string{"DUAL_WRITE_ENABLED": "maybe"}, "DUAL_WRITE_ENABLED"},
		{map[string]string{"DUAL_WRITE_SYNC_MODE": "later"}, "DUAL_WRITE_SYNC_MODE"},
		{map[string]string{"DUAL_WRITE_RETRY_ATTEMPTS": "0"}, "DUAL_WRITE_RETRY_ATTEMPTS"},
		{map[string]string{"DUAL_WRITE_RETRY_DELAY": "-1"}, "DUAL_WRITE_RETRY_DELAY"},
		{map[string]string{"OIDC_ISSUER_URL": "accounts.google.com"}, "OIDC_ISSUER_URL"},
		{map[string]string{"GOOGLE_OAUTH_CLIENT_ID": "x"}, "GOOGLE_OAUTH_CLIENT_SECRET"},
		{map[string]string{"PRIVATE_KEY": "not pem"}, "PRIVATE_KEY"},
		{map[string]string{"ACCESS_LIFETIME": "0"}, "ACCESS_LIFETIME"},
		{map[string]string{"REQUEST_TIMEOUT": "0"}, "REQUEST_TIMEOUT"},
		{map[string]string{"REQUEST_TIMEOUT": "soon"}, "REQUEST_TIMEOUT"},
		{map[string]string{"REQUEST_TIMEOUT": "301"}, "REQUEST_TIMEOUT"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "0.0.0.0/0"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "::/0"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "::ffff:0:0/80"}, "TRUSTED_PROXIES"},
		{map[string]string{"TRUSTED_PROXIES": "fe80::1%eth0"}, "TRUSTED_PROXIES"},
		{map[string]string{"REQUEST_CONCURRENCY": "-1"}, "REQUEST_CONCURRENCY"},
		{map[string]string{"WRITER_LEASE_TTL": "0.5"}, "WRITER_LEASE_TTL"},
		{map[string]string{"WRITER_LEASE_TTL": "301"}, "WRITER_LEASE_TTL"},
		{map[string]string{"REFRESH_LIFETIME": "10"}, "REFRESH_LIFETIME"},
		{map[string]string{"REFRESH_TOKEN_COOKIE_NAME": "todo-access"}, "REFRESH_TOKEN_COOKIE_NAME"},
		{map[string]string{"COOKIE_SAMESITE": "sometimes"}, "COOKIE_SAMESITE"},
		{map[string]string{"COOKIE_SAMESITE": "None", "COOKIE_SECURE": "false"}, "COOKIE_SAMESITE"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"},
		{map[string]string{"ADMIN_EMAILS": "root"}, "ADMIN_EMAILS"},
		{map[string]string{"SECRET_KEY": "short"}, "SECRET_KEY"},
		{map[string]string{"AUTH_DEV_LOGIN": "yes please"}, "AUTH_DEV_LOGIN"},
	}
	for _, tt := range tests {
		_, err := Load(MapLookup(tt.env))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%v: got error %v, want *config.Error", tt.env, err)
			continue
		}
		if ce.Var != tt.wantVar {
			t.Errorf("%v: got variable %s (%v), want %s", tt.env, ce.Var, err, tt.wantVar)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error spans lines: %q", tt.env, err)
		}
	}
}

func TestProductionRefusesDevelopmentConveniences(t *testing.T) {
	priv, pub := testKeys(t)
	full := map[string]string{
		"ENV":          "production",
		"MONGODB_URI":  "mongodb://mongo:27017/?replicaSet=rs0",
		"POSTGRES_DSN": "postgres://u:p@pg:5432/todo",
		"PRIVATE_KEY":  priv,
		"PUBLIC_KEY":   pub,
		"SECRET_KEY":   strings.Repeat("k", 40),
	}
	if _, err := Load(MapLookup(full)); err != nil {
		t.Fatalf("complete production config: %v", err)
	}
	tests := []struct {
		drop, set, value, wantVar string
	}{
		{drop: "MONGODB_URI", wantVar: "MONGODB_URI"},
		{drop: "POSTGRES_DSN", wantVar: "POSTGRES_DSN"},
		{drop: "PRIVATE_KEY", wantVar: "PUBLIC_KEY"}, // a lone public key is itself an error
		{drop: "SECRET_KEY", wantVar: "SECRET_KEY"},
		{set: "AUTH_DEV_LOGIN", value: "true", wantVar: "AUTH_DEV_LOGIN"},
	}
	for _, tt := range tests {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		delete(env, tt.drop)
		if tt.set != "" {
			env[tt.set] = tt.value
		}
		_, err := Load(MapLookup(env))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tt.wantVar {
			t.Errorf("drop %q set %q: got %v, want an error naming %s", tt.drop, tt.set, err, tt.wantVar)
		}
	}
	delete(full, "PRIVATE_KEY")
	delete(full, "PUBLIC_KEY")
	_, err := Load(MapLookup(full))
	var ce *Error
	if !errors.As(err, &ce) || ce.Var != "PRIVATE_KEY" {
		t.Errorf("no keys in production: got %v, want an error naming PRIVATE_KEY", err)
	}
}

// TestDevLoginOnlyInDevelopment: dev login signs anyone in by email, so
// every ENV but development refuses it, staging as much as production.
func TestDevLoginOnlyInDevelopment(t *testing.T) {
	for _, env := range []string{EnvStaging, EnvProduction} {
		_, err := Load(MapLookup(map[string]string{"ENV": env, "AUTH_DEV_LOGIN": "true"}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != "AUTH_DEV_LOGIN" {
			t.Errorf("ENV=%s AUTH_DEV_LOGIN=true: got %v, want an error naming AUTH_DEV_LOGIN", env, err)
			continue
		}
		if want := "config: AUTH_DEV_LOGIN: allowed only with ENV=development"; err.Error() != want {
			t.Errorf("ENV=%s AUTH_DEV_LOGIN=true: got %q, want %q", env, err, want)
		}
	}
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{"ENV": EnvStaging}, false},
		{map[string]string{"ENV": EnvStaging, "AUTH_DEV_LOGIN": "false"}, false},
		{map[string]string{"ENV": EnvDevelopment, "AUTH_DEV_LOGIN": "true"}, true},
		{map[string]string{"ENV": EnvDevelopment, "AUTH_DEV_LOGIN": "true", "GOOGLE_OAUTH_CLIENT_ID": "id", "GOOGLE_OAUTH_CLIENT_SECRET": "s"}, true},
	} {
		c, err := Load(MapLookup(tt.env))
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
			continue
		}
		if c.DevLogin != tt.want {
			t.Errorf("%v: DevLogin got %v, want %v", tt.env, c.DevLogin, tt.want)
		}
	}
}

func TestEscapedPEMOnOneLine(t *testing.T) {
	priv, pub := testKeys(t)
	oneLine := func(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }
	c, err := Load(MapLookup(map[string]string{"PRIVATE_KEY": oneLine(priv), "PUBLIC_KEY": oneLine(pub)}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PrivateKeyPEM != priv {
		t.Errorf("PrivateKeyPEM: escapes not expanded: %q", c.PrivateKeyPEM[:40])
	}
}

func TestEnvironPrefersProcessEnvOverDotenv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("PORT=9001\nDB_NAME=fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DB_NAME", "fromenv")
	lookup, err := Environ(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9001 || c.DBName != "fromenv" {
		t.Errorf("got Port %d DBName %q, want 9001 and fromenv", c.Port, c.DBName)
	}
	if _, err := Environ(filepath.Join(dir, "missing.env")); err != nil {
		t.Errorf("a missing .env file is not an error: %v", err)
	}
}

func testKeys(t *testing.T) (priv, pub string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
}

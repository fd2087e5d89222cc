// Package config turns the process environment (and an optional .env file) into
// one validated Config value. Nothing reads the environment after start-up: the
// value is passed down explicitly, so tests can build any configuration they need.
package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Environments the service knows. Production is strict: see validateProduction.
const (
	EnvDevelopment = "development"
	EnvStaging     = "staging"
	EnvProduction  = "production"
)

// Mirror write modes (DUAL_WRITE_SYNC_MODE).
const (
	SyncModeSync  = "sync"
	SyncModeAsync = "async"
)

// Config is the whole configuration of a todo process.
type Config struct {
	Env  string
	Port int

	// MongoURI empty means: start the embedded FerretDB under DataDir.
	MongoURI string
	DBName   string
	// PostgresDSN empty means: use the embedded SQLite mirror under DataDir.
	PostgresDSN string

	DualWriteEnabled bool
	// BenchNoMirror (BENCH_NO_MIRROR) builds the facade with no mirror
	// engine at all: no intents, no worker, no catch-up note. It is the
	// baseline the benchmark takes every mirror mode's ratio against, not
	// a way to run the service: writes made so are never copied (use
	// DUAL_WRITE_ENABLED=false, which leaves the note a later catch-up
	// reads).
	BenchNoMirror          bool
	DualWriteSyncMode      string
	DualWriteRetryAttempts int
	DualWriteRetryDelay    time.Duration
	// DualWriteMaxBackoff caps the wait between retries of a mirror write
	// that fails transiently (DUAL_WRITE_MAX_BACKOFF).
	DualWriteMaxBackoff time.Duration
	// DualWriteVerifyInterval is the time between background verification
	// passes (DUAL_WRITE_VERIFY_INTERVAL; 0 off), DualWriteVerifyRate the
	// documents a pass compares per second at most, DualWriteVerifyRepair
	// whether it repairs the drift it finds.
	DualWriteVerifyInterval time.Duration
	DualWriteVerifyRate     int
	DualWriteVerifyRepair   bool
	// ReadsFromPostgres are the read families served from the mirror
	// unless an admin set otherwise (READS_FROM_POSTGRES: a comma list of
	// tasks, teams, users, labels, watchlist, audit, or all), and
	// ReadShadowPercent the share of reads compared with the other store
	// (READ_SHADOW_PERCENT, 0 to 100); ReadShadowBudget is the share of
	// wall-clock time, in percent, an instance's shadow reads may take
	// together (READ_SHADOW_BUDGET, 1 to 400, default 20).
	ReadsFromPostgres []string
	ReadShadowPercent int
	ReadShadowBudget  int

	GoogleClientID     string
	GoogleClientSecret string
	GoogleRedirectURI  string
	OIDCIssuerURL      string

	// PrivateKeyPEM and PublicKeyPEM are empty in development when the keys are
	// to be generated into DataDir.
	PrivateKeyPEM string
	PublicKeyPEM  string

	AccessLifetime time.Duration
	// WriterLeaseTTL is how long the single-writer lease of a FerretDB
	// primary outlives its holder (WRITER_LEASE_TTL): a second instance
	// waits that long for it before it refuses to start.
	WriterLeaseTTL time.Duration
	// RequestTimeout bounds a GraphQL request's reads (REQUEST_TIMEOUT);
	// a mutation, once begun, runs to its own bound of MutationTimeout.
	RequestTimeout time.Duration
	// RequestRate and RequestBurst are each signed-in user's budget on
	// /graphql, per second and at once (anonymous addresses get a quarter);
	// a rate of 0 turns budgets off.
	RequestRate  int
	RequestBurst int
	// RequestConcurrency is how many /graphql requests of one client run at
	// once in this process; the rest wait their turn (REQUEST_CONCURRENCY,
	// 0: no bound).
	RequestConcurrency int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES: addresses or CIDR prefixes); from any other peer the
	// header is ignored.
	TrustedProxies    []netip.Prefix
	RefreshLifetime   time.Duration
	AccessCookieName  string
	RefreshCookieName string
	CookieDomain      string
	CookieSecure      bool
	CookieSameSite    http.SameSite

	UIBaseURL      string
	UIRedirectPath string

	CORSAllowedOrigins []string
	// AdminEmails are trimmed and lower-cased.
	AdminEmails []string
	// SecretKey is empty in development when it is to be generated.
	SecretKey string
	DevLogin  bool
	DataDir   string
}

// Error names the variable that made the configuration invalid.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return "config: " + e.Var + ": " + e.Msg }

// Lookup reads one variable; it reports whether the variable was set.
type Lookup func(name string) (string, bool)

// Environ returns a Lookup over the process environment, falling back to the
// values of the .env file at dotenvPath when it exists. The real environment
// wins, as with every dotenv convention.
func Environ(dotenvPath string) (Lookup, error) {
	file := map[string]string{}
	if dotenvPath != "" {
		m, err := godotenv.Read(dotenvPath)
		switch {
		case err == nil:
			file = m
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("config: reading %s: %w", dotenvPath, err)
		}
	}
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		v, ok := file[name]
		return v, ok
	}, nil
}

// MapLookup is a Lookup over a fixed map, for tests and tools.
func MapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// Load reads, defaults and validates every variable. The first problem found is
// returned as an *Error naming its variable.
func Load(lookup Lookup) (Config, error) {
	r := reader{lookup: lookup}
	var c Config

	c.Env = r.oneOf("ENV", EnvDevelopment, EnvDevelopment, EnvStaging, EnvProduction)
	dev := c.Env == EnvDevelopment
	c.Port = r.intRange("PORT", 8000, 1, 65535)
	c.MongoURI = r.str("MONGODB_URI", "")
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		r.fail("MONGODB_URI", "must start with mongodb:// or mongodb+srv://")
	}
	c.DBName = r.str("DB_NAME", "todo-app")
	if c.DBName == "" || strings.ContainsAny(c.DBName, "/\\. \"$") {
		r.fail("DB_NAME", fmt.Sprintf("%q is not a valid MongoDB database name", c.DBName))
	}
	c.PostgresDSN = r.postgresDSN()

	c.DualWriteEnabled = r.boolean("DUAL_WRITE_ENABLED", true)
	c.BenchNoMirror = r.boolean("BENCH_NO_MIRROR", false)
	c.DualWriteSyncMode = r.oneOf("DUAL_WRITE_SYNC_MODE", SyncModeSync, SyncModeSync, SyncModeAsync)
	c.DualWriteRetryAttempts = r.intRange("DUAL_WRITE_RETRY_ATTEMPTS", 3, 1, 100)
	c.DualWriteRetryDelay = r.seconds("DUAL_WRITE_RETRY_DELAY", 5)
	c.DualWriteMaxBackoff = r.seconds("DUAL_WRITE_MAX_BACKOFF", 300)
	if c.DualWriteMaxBackoff < time.Second {
		r.fail("DUAL_WRITE_MAX_BACKOFF", "must be at least 1 second")
	}
	c.DualWriteVerifyInterval = r.seconds("DUAL_WRITE_VERIFY_INTERVAL", 900)
	c.DualWriteVerifyRate = r.intRange("DUAL_WRITE_VERIFY_RATE", 50, 1, 100000)
	c.DualWriteVerifyRepair = r.boolean("DUAL_WRITE_VERIFY_REPAIR", false)
	c.ReadsFromPostgres = r.families("READS_FROM_POSTGRES")
	c.ReadShadowPercent = r.intRange("READ_SHADOW_PERCENT", 0, 0, 100)
	c.ReadShadowBudget = r.intRange("READ_SHADOW_BUDGET", 20, 1, 400)

	c.GoogleClientID = r.str("GOOGLE_OAUTH_CLIENT_ID", "")
	c.GoogleClientSecret = r.str("GOOGLE_OAUTH_CLIENT_SECRET", "")
	c.GoogleRedirectURI = r.url("GOOGLE_OAUTH_REDIRECT_URI", fmt.Sprintf("http://localhost:%d/v1/auth/google/callback", c.Port))
	c.OIDCIssuerURL = r.url("OIDC_ISSUER_URL", "https://accounts.google.com")
	if c.GoogleClientID != "" && c.GoogleClientSecret == "" {
		r.fail("GOOGLE_OAUTH_CLIENT_SECRET", "required when GOOGLE_OAUTH_CLIENT_ID is set")
	}

	c.PrivateKeyPEM = r.pemKey("PRIVATE_KEY", true)
	c.PublicKeyPEM = r.pemKey("PUBLIC_KEY", false)
	if (c.PrivateKeyPEM == "") != (c.PublicKeyPEM == "") {
		r.fail("PUBLIC_KEY", "PRIVATE_KEY and PUBLIC_KEY must be set together")
	}

	c.RequestTimeout = r.seconds("REQUEST_TIMEOUT", 10)
	if c.RequestTimeout <= 0 || c.RequestTimeout > 5*time.Minute {
		r.fail("REQUEST_TIMEOUT", "must be between 0 and 300 seconds")
	}
	c.WriterLeaseTTL = r.seconds("WRITER_LEASE_TTL", 10)
	if c.WriterLeaseTTL < time.Second || c.WriterLeaseTTL > 5*time.Minute {
		r.fail("WRITER_LEASE_TTL", "must be between 1 and 300 seconds")
	}
	c.RequestRate = r.intRange("REQUEST_RATE", 20, 0, 100000)
	c.RequestBurst = r.intRange("REQUEST_BURST", 60, 1, 100000)
	c.RequestConcurrency = r.intRange("REQUEST_CONCURRENCY", 4, 0, 1000)
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES")
	c.AccessLifetime = r.seconds("ACCESS_LIFETIME", 3600)
	c.RefreshLifetime = r.seconds("REFRESH_LIFETIME", 604800)
	if c.AccessLifetime <= 0 {
		r.fail("ACCESS_LIFETIME", "must be positive")
	}
	if c.RefreshLifetime < c.AccessLifetime {
		r.fail("REFRESH_LIFETIME", "must not be shorter than ACCESS_LIFETIME")
	}
	c.AccessCookieName = r.cookieName("ACCESS_TOKEN_COOKIE_NAME", "todo-access")
	c.RefreshCookieName = r.cookieName("REFRESH_TOKEN_COOKIE_NAME", "todo-refresh")
	if c.AccessCookieName == c.RefreshCookieName {
		r.fail("REFRESH_TOKEN_COOKIE_NAME", "must differ from ACCESS_TOKEN_COOKIE_NAME")
	}
	c.CookieDomain = r.str("COOKIE_DOMAIN", "")
	c.CookieSecure = r.boolean("COOKIE_SECURE", !dev)
	c.CookieSameSite = r.sameSite("COOKIE_SAMESITE")
	if c.CookieSameSite == http.SameSiteNoneMode && !c.CookieSecure {
		r.fail("COOKIE_SAMESITE", "None requires COOKIE_SECURE=true (browsers drop such cookies)")
	}

	c.UIBaseURL = strings.TrimRight(r.url("TODO_UI_BASE_URL", "http://localhost:3000"), "/")
	c.UIRedirectPath = strings.Trim(r.str("TODO_UI_REDIRECT_PATH", "dashboard"), "/")
	c.CORSAllowedOrigins = r.origins("CORS_ALLOWED_ORIGINS", "http://localhost:3000")
	c.AdminEmails = r.emails("ADMIN_EMAILS")
	c.SecretKey = r.str("SECRET_KEY", "")
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		r.fail("SECRET_KEY", "must be at least 32 characters")
	}
	c.DevLogin = r.boolean("AUTH_DEV_LOGIN", dev && c.GoogleClientID == "")
	if c.DevLogin && !dev {
		// Signing in as anyone by email is a hole on any shared server, staging too.
		r.fail("AUTH_DEV_LOGIN", "allowed only with ENV=development")
	}
	c.DataDir = r.str("DATA_DIR", "./.todo-data")
	if c.DataDir == "" {
		r.fail("DATA_DIR", "must not be empty")
	}

	if r.err == nil && c.Env == EnvProduction {
		r.err = validateProduction(&c)
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// validateProduction refuses the conveniences that are only safe on a
// developer's machine: embedded stores and generated secrets. (Dev login is
// refused outside development as it is read.)
func validateProduction(c *Config) error {
	switch {
	case c.MongoURI == "":
		return &Error{"MONGODB_URI", "required in production (the embedded store is for development)"}
	case c.PostgresDSN == "":
		return &Error{"POSTGRES_DSN", "required in production, or POSTGRES_HOST and friends (the embedded mirror is for development)"}
	case c.PrivateKeyPEM == "":
		return &Error{"PRIVATE_KEY", "required in production (generated keys are for development; see `todo keys generate`)"}
	case c.SecretKey == "":
		return &Error{"SECRET_KEY", "required in production (a generated key is for development)"}
	}
	return nil
}

// Embedded reports whether the MongoDB side runs in process.
func (c Config) Embedded() bool { return c.MongoURI == "" }

// EmbeddedMirror reports whether the mirror is the SQLite file under DataDir.
func (c Config) EmbeddedMirror() bool { return c.PostgresDSN == "" }

// IsAdminEmail reports whether email is listed in ADMIN_EMAILS.
func (c Config) IsAdminEmail(email string) bool {
	email = strings.ToLower(strings.TrimSpace(email))
	for _, a := range c.AdminEmails {
		if a == email {
			return true
		}
	}
	return false
}

// reader keeps the first error so Load reads as a flat list of variables.
type reader struct {
	lookup Lookup
	err    error
}

func (r *reader) fail(name, msg string) {
	if r.err == nil {
		r.err = &Error{Var: name, Msg: msg}
	}
}

func (r *reader) raw(name string) (string, bool) {
	v, ok := r.lookup(name)
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

func (r *reader) str(name, def string) string {
	if v, ok := r.raw(name); ok {
		return v
	}
	return def
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	low := strings.ToLower(v)
	for _, a := range allowed {
		if low == a {
			return a
		}
	}
	r.fail(name, fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), v))
	return def
}

func (r *reader) intRange(name string, def, lo, hi int) int {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("must be an integer from %d to %d, got %q", lo, hi, v))
		return def
	}
	return n
}

func (r *reader) boolean(name string, def bool) bool {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		r.fail(name, fmt.Sprintf("must be true or false, got %q", v))
		return def
	}
	return b
}

// seconds accepts whole or fractional seconds, as the original's integer
// settings did, and fractions so tests can use short delays.
func (r *reader) seconds(name string, def float64) time.Duration {
	secs := def
	if v, ok := r.raw(name); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 365*24*3600 {
			r.fail(name, fmt.Sprintf("must be a non-negative number of seconds, got %q", v))
			return time.Duration(def * float64(time.Second))
		}
		secs = f
	}
	return time.Duration(secs * float64(time.Second))
}

func (r *reader) url(name, def string) string {
	v := r.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, fmt.Sprintf("must be an absolute http(s) URL, got %q", v))
	}
	return v
}

func (r *reader) cookieName(name, def string) string {
	v := r.str(name, def)
	if strings.ContainsAny(v, " \t;,=\"") {
		r.fail(name, fmt.Sprintf("%q is not a valid cookie name", v))
	}
	return v
}

func (r *reader) sameSite(name string) http.SameSite {
	switch v := strings.ToLower(r.str(name, "lax")); v {
	case "lax":
		return http.SameSiteLaxMode
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	default:
		r.fail(name, fmt.Sprintf("must be Lax, Strict or None, got %q", v))
		return http.SameSiteLaxMode
	}
}

func (r *reader) origins(name, def string) []string {
	var out []string
	for _, o := range strings.Split(r.str(name, def), ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			r.fail(name, fmt.Sprintf("%q is not an origin like https://app.example.com (credentials forbid *)", o))
			return nil
		}
		out = append(out, o)
	}
	return out
}

// prefixes reads a comma list of IP addresses and CIDR prefixes.
func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range strings.Split(r.str(name, ""), ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				r.fail(name, fmt.Sprintf("%q is not an IP address or a CIDR prefix like 10.0.0.0/8", v))
				return nil
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		// Client addresses are compared unmapped: so are the prefixes.
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				r.fail(name, fmt.Sprintf("%q mixes IPv4-mapped and IPv6 addresses; name the IPv4 prefix", v))
				return nil
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Bits() == 0 {
			r.fail(name, fmt.Sprintf("%q trusts every address: any client could then name its own", v))
			return nil
		}
		out = append(out, p.Masked())
	}
	return out
}

func (r *reader) emails(name string) []string {
	var out []string
	for _, e := range strings.Split(r.str(name, ""), ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if !strings.Contains(e, "@") {
			r.fail(name, fmt.Sprintf("%q is not an email address", e))
			return nil
		}
		out = append(out, e)
	}
	return out
}

// readFamilies are the names READS_FROM_POSTGRES accepts.
var readFamilies = []string{"tasks", "teams", "users", "labels", "watchlist", "audit", "all"}

func (r *reader) families(name string) []string {
	var out []string
	for _, f := range strings.Split(r.str(name, ""), ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(readFamilies, f) {
			r.fail(name, fmt.Sprintf("%q is not a read family (one of %s)", f, strings.Join(readFamilies, ", ")))
			return nil
		}
		out = append(out, f)
	}
	return out
}

// pemKey accepts a PEM block with real newlines or with literal "\n" escapes,
// the form that fits on one line of an env file.
func (r *reader) pemKey(name string, private bool) string {
	v, ok := r.raw(name)
	if !ok {
		return ""
	}
	v = strings.ReplaceAll(v, `\n`, "\n")
	block, _ := pem.Decode([]byte(v))
	if block == nil {
		r.fail(name, "is not a PEM block")
		return ""
	}
	var err error
	if private {
		_, err = parsePrivate(block.Bytes)
	} else {
		_, err = x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			_, err = x509.ParsePKCS1PublicKey(block.Bytes)
		}
	}
	if err != nil {
		r.fail(name, "is not a valid RSA key: "+err.Error())
		return ""
	}
	return v
}

func parsePrivate(der []byte) (any, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	return x509.ParsePKCS1PrivateKey(der)
}

// postgresDSN follows the original's POSTGRES_* variables when no full DSN is
// given; with none of them set the embedded mirror is used.
func (r *reader) postgresDSN() string {
	if v, ok := r.raw("POSTGRES_DSN"); ok {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			r.fail("POSTGRES_DSN", "must be a postgres:// URL")
		}
		return v
	}
	host, hasHost := r.raw("POSTGRES_HOST")
	port, hasPort := r.raw("POSTGRES_PORT")
	db, hasDB := r.raw("POSTGRES_DB")
	if !hasDB {
		db, hasDB = r.raw("POSTGRES_NAME")
	}
	user, hasUser := r.raw("POSTGRES_USER")
	pass, hasPass := r.raw("POSTGRES_PASSWORD")
	if !hasHost && !hasPort && !hasDB && !hasUser && !hasPass {
		return ""
	}
	if !hasHost {
		host = "localhost"
	}
	if !hasPort {
		port = "5432"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		r.fail("POSTGRES_PORT", fmt.Sprintf("must be a port number, got %q", port))
	}
	if !hasDB {
		db = "todo_postgres"
	}
	if !hasUser {
		user = "todo_user"
	}
	u := url.URL{Scheme: "postgres", Host: host + ":" + port, Path: "/" + db, RawQuery: "sslmode=prefer"}
	if hasPass {
		u.User = url.UserPassword(user, pass)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

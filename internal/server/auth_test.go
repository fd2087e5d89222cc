package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/auth/oidctest"
)

const uiBase = "http://ui.test"

// oidcEnv is the service configured for sign-in against a local issuer.
type oidcEnv struct {
	*env
	issuer *oidctest.Issuer
}

func newOIDCEnv(t *testing.T, extra map[string]string) *oidcEnv {
	t.Helper()
	iss := oidctest.New(t, "client-1", "secret-1")
	e := newEnvAt(t, opts{cfg: extra}, func(base string) map[string]string {
		return map[string]string{
			"OIDC_ISSUER_URL":            iss.URL,
			"GOOGLE_OAUTH_CLIENT_ID":     "client-1",
			"GOOGLE_OAUTH_CLIENT_SECRET": "secret-1",
			"GOOGLE_OAUTH_REDIRECT_URI":  base + "/v1/auth/google/callback",
			"TODO_UI_BASE_URL":           uiBase,
			"ADMIN_EMAILS":               extra["ADMIN_EMAILS"],
		}
	})
	return &oidcEnv{env: e, issuer: iss}
}

// browser is a client with a cookie jar that follows redirects until the
// flow lands on the frontend, the way a browser would get there.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), uiBase) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// landing follows a flow from path and returns the query the frontend got.
func landing(t *testing.T, c *http.Client, rawURL string) url.Values {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, uiBase+"/dashboard?") {
		t.Fatalf("flow ended with %d at %q, want a redirect to the frontend", resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func cookieNamed(c *http.Client, rawURL, name string) *http.Cookie {
	u, _ := url.Parse(rawURL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// meWithCookies asks for the viewer with the browser's cookies.
func (e *oidcEnv) meWithCookies(t *testing.T, c *http.Client) gqlResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql",
		strings.NewReader(`{"query":"{ me { id name email picture roles { name scope } teams { id } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var g gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

func (e *oidcEnv) userCount(t *testing.T) int64 {
	t.Helper()
	n, err := e.mongo.Database().Collection("users").CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGoogleSignInEndToEnd(t *testing.T) {
	parallel(t)
	e := newOIDCEnv(t, map[string]string{"ADMIN_EMAILS": "ann@example.com"})
	before := e.userCount(t)
	c := browser(t)
	if q := landing(t, c, e.url+"/v1/auth/google/login"); q.Get("success") != "true" {
		t.Fatalf("landing: got %v, want success=true", q)
	}
	if cookieNamed(c, e.url+"/graphql", "todo-access") == nil || cookieNamed(c, e.url+"/v1/auth/refresh", "todo-refresh") == nil {
		t.Fatal("sign-in did not set both session cookies")
	}
	if cookieNamed(c, e.url+"/graphql", "todo-refresh") != nil {
		t.Error("the refresh cookie travels to /graphql; want it scoped to /v1/auth")
	}
	g := e.meWithCookies(t, c)
	want := `{"me":{"id":"ID","name":"Ann","email":"ann@example.com","picture":"https://pics.example/ann.png","roles":[{"name":"ADMIN","scope":"GLOBAL"}],"teams":[]}}`
	var me struct{ Me struct{ ID string } }
	_ = json.Unmarshal(g.Data, &me)
	if got := strings.Replace(string(g.Data), me.Me.ID, "ID", 1); got != want || len(g.Errors) > 0 {
		t.Fatalf("me: got %s %v, want %s", g.Data, g.Errors, want)
	}

	// A returning user is refreshed, not duplicated.
	e.issuer.SetUser(oidctest.User{Subject: "sub-1", Email: "ann@example.com", EmailVerified: true, Name: "Ann B."})
	c2 := browser(t)
	if q := landing(t, c2, e.url+"/v1/auth/google/login"); q.Get("success") != "true" {
		t.Fatalf("second sign-in: got %v", q)
	}
	var again struct{ Me struct{ ID, Name string } }
	_ = json.Unmarshal(e.meWithCookies(t, c2).Data, &again)
	if again.Me.ID != me.Me.ID || again.Me.Name != "Ann B." {
		t.Errorf("returning user: got %+v, want id %s and the new name", again.Me, me.Me.ID)
	}
	if got := e.userCount(t) - before; got != 1 {
		t.Errorf("users created by two sign-ins of one person: got %d, want 1", got)
	}
}

func TestGoogleLoginAsJSON(t *testing.T) {
	parallel(t)
	e := newOIDCEnv(t, nil)
	r := e.do(t, http.MethodGet, "/v1/auth/google/login", "", "", "Accept", "application/json")
	var body struct{ AuthURL string }
	if err := json.Unmarshal(r.body, &body); err != nil || r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	u, err := url.Parse(body.AuthURL)
	if err != nil || !strings.HasPrefix(body.AuthURL, e.issuer.URL+"/authorize?") {
		t.Fatalf("authUrl: got %q", body.AuthURL)
	}
	q := u.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authUrl lacks %s", k)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "client-1" {
		t.Errorf("authUrl: got method %q client %q", q.Get("code_challenge_method"), q.Get("client_id"))
	}
	if !strings.Contains(r.header.Get("Set-Cookie"), "todo-oauth-state=") || !strings.Contains(r.header.Get("Set-Cookie"), "HttpOnly") {
		t.Errorf("no HttpOnly state cookie: %q", r.header.Get("Set-Cookie"))
	}
}

// startFlow runs login and the issuer's authorize step, and returns the
// callback URL the browser would be sent to, without following it.
func (e *oidcEnv) startFlow(t *testing.T, c *http.Client) string {
	t.Helper()
	stop := *c
	stop.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.Contains(req.URL.Path, "/v1/auth/google/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := stop.Get(e.url + "/v1/auth/google/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

func TestGoogleSignInFailures(t *testing.T) {
	parallel(t)
	e := newOIDCEnv(t, nil)
	withState := func(callback, state string) string {
		u, _ := url.Parse(callback)
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name string
		// run prepares the case with browser c and returns the URL whose
		// flow c then follows.
		run      func(t *testing.T, c *http.Client) string
		wantCode string
	}{
		{"wrong state", func(t *testing.T, c *http.Client) string {
			return withState(e.startFlow(t, c), "forged")
		}, "invalid_state"},
		{"no state cookie", func(t *testing.T, _ *http.Client) string {
			return e.startFlow(t, browser(t)) // the state cookie stays in that other browser
		}, "invalid_state"},
		{"replayed code", func(t *testing.T, c *http.Client) string {
			first := e.startFlow(t, c)
			if q := landing(t, c, first); q.Get("success") != "true" {
				t.Fatalf("first use of the code: %v", q)
			}
			second := e.startFlow(t, c) // a fresh state, so only the code is at fault
			u, _ := url.Parse(second)
			old, _ := url.Parse(first)
			q := u.Query()
			q.Set("code", old.Query().Get("code"))
			u.RawQuery = q.Encode()
			return u.String()
		}, "exchange_failed"},
		{"wrong nonce", func(t *testing.T, c *http.Client) string {
			e.issuer.Tamper(func(cl jwt.MapClaims) { cl["nonce"] = "not-ours" })
			return e.url + "/v1/auth/google/login"
		}, "invalid_nonce"},
		{"expired id token", func(t *testing.T, c *http.Client) string {
			e.issuer.Tamper(func(cl jwt.MapClaims) {
				cl["iat"] = time.Now().Add(-2 * time.Hour).Unix()
				cl["exp"] = time.Now().Add(-time.Hour).Unix()
			})
			return e.url + "/v1/auth/google/login"
		}, "invalid_id_token"},
		{"id token for another client", func(t *testing.T, c *http.Client) string {
			e.issuer.Tamper(func(cl jwt.MapClaims) { cl["aud"] = "someone-else" })
			return e.url + "/v1/auth/google/login"
		}, "invalid_id_token"},
		{"unverified email", func(t *testing.T, c *http.Client) string {
			e.issuer.SetUser(oidctest.User{Subject: "sub-2", Email: "bob@example.com", EmailVerified: false, Name: "Bob"})
			return e.url + "/v1/auth/google/login"
		}, "email_not_verified"},
		{"provider error", func(t *testing.T, c *http.Client) string {
			return e.url + "/v1/auth/google/callback?error=access_denied&state=x"
		}, "access_denied"},
		{"provider error that is not a code", func(t *testing.T, c *http.Client) string {
			return e.url + "/v1/auth/google/callback?error=" + url.QueryEscape("<script>")
		}, "auth_failed"},
		{"missing code", func(t *testing.T, c *http.Client) string {
			return e.url + "/v1/auth/google/callback?state=x"
		}, "missing_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.issuer.Tamper(nil)
			e.issuer.SetUser(oidctest.User{Subject: "sub-1", Email: "ann@example.com", EmailVerified: true, Name: "Ann"})
			c := browser(t)
			q := landing(t, c, tt.run(t, c))
			if q.Get("error") != tt.wantCode || q.Get("success") != "" {
				t.Errorf("landing: got %v, want error=%s", q, tt.wantCode)
			}
			if tt.name != "replayed code" { // that browser signed in once, legitimately
				if g := e.meWithCookies(t, c); len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
					t.Errorf("a failed sign-in left a session: %s", g.Data)
				}
			}
		})
	}
	e.issuer.Tamper(nil)
}

// TestForgedTokens: every token that is not ours, or not valid now, gets
// UNAUTHENTICATED, never a 500.
func TestForgedTokens(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	valid := e.token
	claims, err := e.auth.Tokens().Verify(valid, auth.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	_, pub := testKeys(t).PEM()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": auth.TokenIssuer, "aud": auth.TokenAudience, "sub": claims.Subject,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "j1", "typ": "access"}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = testKeys(t).KID
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(k string, v any) jwt.MapClaims {
		c := base()
		c[k] = v
		return c
	}
	refresh, _, err := e.auth.Tokens().Issue(claims.Subject, auth.RefreshToken, "fam")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"alg none":                sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base()),
		"HS256 keyed with public": sign(jwt.SigningMethodHS256, []byte(pub), base()),
		"another RSA key":         sign(jwt.SigningMethodRS256, other, base()),
		"expired":                 sign(jwt.SigningMethodRS256, other, with("exp", time.Now().Add(-time.Minute).Unix())),
		"wrong audience":          sign(jwt.SigningMethodRS256, other, with("aud", "someone-else")),
		"wrong issuer":            sign(jwt.SigningMethodRS256, other, with("iss", "evil")),
		"refresh as access":       refresh,
		"garbage":                 "not-a-jwt",
		"truncated":               valid[:len(valid)-5],
	}
	// Tokens signed with our own key that break one rule at a time.
	ownKey := privateKeyOf(t)
	tests["ours but expired"] = sign(jwt.SigningMethodRS256, ownKey, with("exp", time.Now().Add(-time.Minute).Unix()))
	tests["ours, wrong audience"] = sign(jwt.SigningMethodRS256, ownKey, with("aud", "someone-else"))
	tests["ours, wrong issuer"] = sign(jwt.SigningMethodRS256, ownKey, with("iss", "evil"))
	tests["ours, no expiry"] = sign(jwt.SigningMethodRS256, ownKey, with("exp", nil))
	tests["ours, typ refresh"] = sign(jwt.SigningMethodRS256, ownKey, with("typ", "refresh"))
	if g := e.graphqlAs(t, sign(jwt.SigningMethodRS256, ownKey, base()), "{ me { id } }", nil); len(g.Errors) != 0 {
		t.Fatalf("control: a well-formed token of ours was refused: %v", g.Errors)
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			g := e.graphqlAs(t, tok, "{ me { id } }", nil)
			if len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
				t.Errorf("got %s %+v, want UNAUTHENTICATED", g.Data, g.Errors)
			}
		})
	}
}

// privateKeyOf returns the signing key of the test pair, to forge tokens
// that are valid but for one rule.
func privateKeyOf(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	priv, _ := testKeys(t).PEM()
	k, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(priv))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// session is what a browser holds after signing in: the two cookies.
type session struct{ access, refresh string }

func (s session) cookies() string {
	return "todo-access=" + s.access + "; todo-refresh=" + s.refresh
}

// devLogin signs in through POST /v1/auth/dev/login and returns the cookies.
func (e *env) devLogin(t *testing.T, email string) session {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/auth/dev/login", "application/json", `{"email":"`+email+`","name":"Dev"}`)
	if r.status != http.StatusOK {
		t.Fatalf("dev login: got %d %s", r.status, r.body)
	}
	return sessionFrom(t, r)
}

func sessionFrom(t *testing.T, r response) session {
	t.Helper()
	var s session
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		switch c.Name {
		case "todo-access":
			s.access = c.Value
		case "todo-refresh":
			s.refresh = c.Value
		}
	}
	if s.access == "" || s.refresh == "" {
		t.Fatalf("response sets no session cookies: %v", r.header["Set-Cookie"])
	}
	return s
}

func (e *env) refresh(t *testing.T, s session) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/auth/refresh", "", "", "Cookie", "todo-refresh="+s.refresh)
}

func (e *env) meCode(t *testing.T, s session) string {
	t.Helper()
	r := e.do(t, http.MethodPost, "/graphql", "application/json", `{"query":"{ me { id email } }"}`, "Cookie", s.cookies())
	var g gqlResponse
	if err := json.Unmarshal(r.body, &g); err != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(g.Errors) > 0 {
		code, _ := g.Errors[0].Extensions["code"].(string)
		return code
	}
	return "OK"
}

func TestDevLoginAndMe(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"ADMIN_EMAILS": "Boss@Example.com"}})
	s := e.devLogin(t, "dev@example.com")
	if got := e.meCode(t, s); got != "OK" {
		t.Fatalf("me with dev-login cookies: got %s", got)
	}
	if got := e.meCode(t, session{}); got != "UNAUTHENTICATED" {
		t.Errorf("me without cookies: got %s, want UNAUTHENTICATED", got)
	}
	// The same email is the same user.
	again := e.devLogin(t, "dev@example.com")
	a, _ := e.auth.Tokens().Verify(s.access, "access")
	b, _ := e.auth.Tokens().Verify(again.access, "access")
	if a == nil || b == nil || a.Subject != b.Subject {
		t.Errorf("two dev logins of one email gave different users")
	}
	// ADMIN_EMAILS holds on dev login too, compared case-insensitively.
	boss := e.devLogin(t, "boss@example.com")
	r := e.do(t, http.MethodPost, "/graphql", "application/json", `{"query":"{ me { roles { name scope } } }"}`, "Cookie", boss.cookies())
	if !strings.Contains(string(r.body), `{"name":"ADMIN","scope":"GLOBAL"}`) {
		t.Errorf("admin email: got %s, want the GLOBAL ADMIN role", r.body)
	}
}

func TestDevLoginRejects(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	tests := []struct{ name, contentType, body string }{
		{"not JSON", "application/json", `email=a@b.c`},
		{"unknown field", "application/json", `{"email":"a@example.com","admin":true}`},
		{"no email", "application/json", `{"name":"x"}`},
		{"bad email", "application/json", `{"email":"not an email"}`},
		{"display-name form", "application/json", `{"email":"Ann <ann@example.com>"}`},
		{"long name", "application/json", `{"email":"a@example.com","name":"` + strings.Repeat("n", 101) + `"}`},
		// The mirror (PostgreSQL) cannot store a NUL: refused here, not
		// found later as a write that fails for ever.
		{"NUL in the name", "application/json", `{"email":"a@example.com","name":"a\u0000b"}`},
		{"control character in the name", "application/json", `{"email":"a@example.com","name":"a\u0007b"}`},
		// Longer than the users table's email column: a 400, not a 500 or
		// a user the mirror cannot store.
		{"long email", "application/json", `{"email":"` + strings.Repeat("a", 250) + `@example.com"}`},
	}
	for _, tt := range tests {
		r := e.do(t, http.MethodPost, "/v1/auth/dev/login", tt.contentType, tt.body)
		if r.status != http.StatusBadRequest || len(r.header["Set-Cookie"]) != 0 {
			t.Errorf("%s: got %d %s (cookies %v), want 400 and no cookies", tt.name, r.status, r.body, r.header["Set-Cookie"])
		}
	}
	off := newEnv(t, opts{cfg: map[string]string{"AUTH_DEV_LOGIN": "false"}})
	if r := off.do(t, http.MethodPost, "/v1/auth/dev/login", "application/json", `{"email":"a@example.com"}`); r.status != http.StatusNotFound {
		t.Errorf("dev login switched off: got %d, want 404", r.status)
	}
}

// TestDevLoginIsJSONAndOriginChecked: dev login sets cookies without any
// coming in, so a cross-site page must not be able to sign a visitor in as
// someone else (login CSRF): it takes JSON only, and a foreign Origin is
// refused as on the other cookie routes.
func TestDevLoginIsJSONAndOriginChecked(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"}})
	body := `{"email":"victim-as-attacker@example.com","name":"Dev"}`
	tests := []struct {
		name, contentType, origin string
		want                      int
	}{
		{"text/plain, foreign origin", "text/plain", "https://evil.example", http.StatusUnsupportedMediaType},
		{"text/plain, no origin", "text/plain", "", http.StatusUnsupportedMediaType},
		{"form, our origin", "application/x-www-form-urlencoded", "https://app.example.com", http.StatusUnsupportedMediaType},
		{"GraphQL media type", "application/graphql-response+json", "", http.StatusUnsupportedMediaType},
		{"no content type", "", "", http.StatusUnsupportedMediaType},
		{"JSON, foreign origin", "application/json", "https://evil.example", http.StatusForbidden},
		{"JSON, origin null", "application/json", "null", http.StatusForbidden},
	}
	for _, tt := range tests {
		var headers []string
		if tt.origin != "" {
			headers = []string{"Origin", tt.origin}
		}
		r := e.do(t, http.MethodPost, "/v1/auth/dev/login", tt.contentType, body, headers...)
		if r.status != tt.want || len(r.header["Set-Cookie"]) != 0 {
			t.Errorf("%s: got %d with %d Set-Cookie (%s), want %d and no cookies",
				tt.name, r.status, len(r.header["Set-Cookie"]), truncate(r.body), tt.want)
			continue
		}
		var got struct{ Error, Message string }
		if err := json.Unmarshal(r.body, &got); err != nil || got.Error == "" || got.Message == "" {
			t.Errorf("%s: got body %s, want a JSON error with a message", tt.name, truncate(r.body))
		}
	}
	// Our own origin, and no Origin at all (curl), as refresh and logout allow.
	for name, headers := range map[string][]string{
		"JSON, our origin": {"Origin", "https://app.example.com"},
		"JSON, no origin":  nil,
	} {
		r := e.do(t, http.MethodPost, "/v1/auth/dev/login", "application/json; charset=utf-8", body, headers...)
		if r.status != http.StatusOK {
			t.Errorf("%s: got %d %s, want 200", name, r.status, truncate(r.body))
			continue
		}
		if got := e.meCode(t, sessionFrom(t, r)); got != "OK" {
			t.Errorf("%s: me with the cookies: got %s, want OK", name, got)
		}
	}
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	first := e.devLogin(t, "rot@example.com")
	r := e.refresh(t, first)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: got %d %s", r.status, r.body)
	}
	second := sessionFrom(t, r)
	if second.refresh == first.refresh || second.access == first.access {
		t.Fatal("refresh did not rotate the tokens")
	}
	if strings.Contains(string(r.body), second.refresh) {
		t.Error("a cookie refresh returned the tokens in its body; script could read them")
	}
	if got := e.meCode(t, second); got != "OK" {
		t.Fatalf("me after refresh: %s", got)
	}
	// Replaying the rotated token is refused and revokes the whole family.
	if r := e.refresh(t, first); r.status != http.StatusUnauthorized {
		t.Errorf("reuse of a rotated refresh token: got %d, want 401", r.status)
	}
	if r := e.refresh(t, second); r.status != http.StatusUnauthorized {
		t.Errorf("the newest token after reuse: got %d, want 401 (family revoked)", r.status)
	}
	// Another sign-in, another family: unaffected.
	other := e.devLogin(t, "rot@example.com")
	if r := e.refresh(t, other); r.status != http.StatusOK {
		t.Errorf("an unrelated session: got %d, want 200", r.status)
	}
}

func TestRefreshRejects(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	s := e.devLogin(t, "rej@example.com")
	tests := []struct {
		name    string
		headers []string
		ctype   string
		body    string
		status  int
	}{
		{"no token", nil, "", "", 401},
		{"access token as refresh", []string{"Cookie", "todo-refresh=" + s.access}, "", "", 401},
		{"garbage", []string{"Cookie", "todo-refresh=abc"}, "", "", 401},
		{"foreign origin", []string{"Cookie", "todo-refresh=" + s.refresh, "Origin", "https://evil.example"}, "", "", 403},
	}
	for _, tt := range tests {
		r := e.do(t, http.MethodPost, "/v1/auth/refresh", tt.ctype, tt.body, tt.headers...)
		if r.status != tt.status {
			t.Errorf("%s: got %d %s, want %d", tt.name, r.status, r.body, tt.status)
		}
	}
	// A Bearer client refreshes with a JSON body and gets tokens back.
	body := e.do(t, http.MethodPost, "/v1/auth/refresh", "application/json", `{"refreshToken":"`+s.refresh+`"}`)
	var got struct{ AccessToken, RefreshToken string }
	if err := json.Unmarshal(body.body, &got); err != nil || body.status != 200 || got.AccessToken == "" || got.RefreshToken == "" {
		t.Errorf("body refresh: got %d %s", body.status, body.body)
	}
}

func TestLogoutRevokes(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{})
	s := e.devLogin(t, "bye@example.com")
	r := e.do(t, http.MethodPost, "/v1/auth/logout", "", "", "Cookie", "todo-refresh="+s.refresh)
	if r.status != http.StatusOK {
		t.Fatalf("logout: got %d %s", r.status, r.body)
	}
	cleared := 0
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if (c.Name == "todo-access" || c.Name == "todo-refresh") && c.MaxAge < 0 {
			cleared++
		}
	}
	if cleared != 2 {
		t.Errorf("logout cleared %d of the 2 cookies: %v", cleared, r.header["Set-Cookie"])
	}
	if r := e.refresh(t, s); r.status != http.StatusUnauthorized {
		t.Errorf("refresh after logout: got %d, want 401", r.status)
	}
	// Logout without a session still answers 200, so clients can always reset.
	if r := e.do(t, http.MethodPost, "/v1/auth/logout", "", ""); r.status != http.StatusOK {
		t.Errorf("logout without a session: got %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"}})
	s := e.devLogin(t, "csrf@example.com")
	q := `{"query":"{ me { id } }"}`
	tests := []struct {
		name       string
		ctype      string
		headers    []string
		wantStatus int
	}{
		{"cookie, JSON", "application/json", []string{"Cookie", s.cookies()}, 200},
		{"cookie, JSON, our origin", "application/json; charset=utf-8", []string{"Cookie", s.cookies(), "Origin", "https://app.example.com"}, 200},
		{"cookie, form post", "application/x-www-form-urlencoded", []string{"Cookie", s.cookies()}, 415},
		{"cookie, text/plain", "text/plain", []string{"Cookie", s.cookies()}, 415},
		{"cookie, foreign origin", "application/json", []string{"Cookie", s.cookies(), "Origin", "https://evil.example"}, 403},
		{"bearer, foreign origin", "application/json", []string{"Authorization", "Bearer " + s.access, "Origin", "https://evil.example"}, 200},
		// The API's own pages (the playground): by the browser's Sec-Fetch-Site,
		// or, where browsers send none (plain HTTP), by the Origin naming the host.
		{"cookie, same-origin by Sec-Fetch-Site", "application/json", []string{"Cookie", s.cookies(), "Origin", "https://api.example", "Sec-Fetch-Site", "same-origin"}, 200},
		{"cookie, the API's own host", "application/json", []string{"Cookie", s.cookies(), "Origin", e.url}, 200},
		{"cookie, foreign origin, cross-site", "application/json", []string{"Cookie", s.cookies(), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"cookie, a sibling site", "application/json", []string{"Cookie", s.cookies(), "Origin", "https://other.app.example.com", "Sec-Fetch-Site", "same-site"}, 403},
	}
	for _, tt := range tests {
		if r := e.do(t, http.MethodPost, "/graphql", tt.ctype, q, tt.headers...); r.status != tt.wantStatus {
			t.Errorf("%s: got %d %s, want %d", tt.name, r.status, truncate(r.body), tt.wantStatus)
		}
	}
}

func TestSignInRequiredAndAdminOnly(t *testing.T) {
	parallel(t)
	e := newEnv(t, opts{cfg: map[string]string{"ADMIN_EMAILS": "root@example.com"}})
	codes := "{ teamCreationInviteCodes { totalCount nodes { code createdBy { email } } } }"
	for name, tc := range map[string]struct {
		token, query, want string
	}{
		"anonymous labels":  {"", "{ labels { totalCount } }", "UNAUTHENTICATED"},
		"anonymous me":      {"", "{ me { id } }", "UNAUTHENTICATED"},
		"member admin list": {e.token, codes, "FORBIDDEN"},
		"signed-in labels":  {e.token, "{ labels { totalCount } }", ""},
	} {
		g := e.graphqlAs(t, tc.token, tc.query, nil)
		got := ""
		if len(g.Errors) > 0 {
			got, _ = g.Errors[0].Extensions["code"].(string)
		}
		if got != tc.want {
			t.Errorf("%s: got code %q (%s), want %q", name, got, g.Data, tc.want)
		}
	}
	admin := e.devLogin(t, "root@example.com")
	g := e.graphqlAs(t, admin.access, codes, nil)
	if len(g.Errors) != 0 || string(g.Data) != `{"teamCreationInviteCodes":{"totalCount":0,"nodes":[]}}` {
		t.Errorf("admin: got %s %v", g.Data, g.Errors)
	}
	// Introspection in development works without signing in.
	if g := e.graphqlAs(t, "", "{ __schema { queryType { name } } }", nil); len(g.Errors) != 0 {
		t.Errorf("introspection in development: %v", g.Errors)
	}
}

// TestIntrospectionAndPlaygroundOutsideDevelopment: outside development only
// admins may introspect or load the playground.
func TestIntrospectionAndPlaygroundOutsideDevelopment(t *testing.T) {
	parallel(t)
	// Staging refuses dev login; signIn issues the tokens directly.
	e := newEnv(t, opts{cfg: map[string]string{"ENV": "staging", "ADMIN_EMAILS": "root@example.com"}})
	admin := e.signIn(t, "root@example.com")
	q := "{ __schema { queryType { name } } }"
	for name, tc := range map[string]struct{ token, want string }{
		"anonymous": {"", "UNAUTHENTICATED"},
		"member":    {e.token, "FORBIDDEN"},
		"admin":     {admin, ""},
	} {
		g := e.graphqlAs(t, tc.token, q, nil)
		got := ""
		if len(g.Errors) > 0 {
			got, _ = g.Errors[0].Extensions["code"].(string)
		}
		if got != tc.want {
			t.Errorf("introspection as %s: got %q (%s), want %q", name, got, g.Data, tc.want)
		}
	}
	if g := e.graphqlAs(t, e.token, "{ __typename }", nil); len(g.Errors) != 0 {
		t.Errorf("__typename as a member: %v", g.Errors)
	}
	for name, tc := range map[string]struct {
		headers []string
		want    int
	}{
		"anonymous": {nil, http.StatusNotFound},
		"member":    {[]string{"Authorization", "Bearer " + e.token}, http.StatusNotFound},
		"admin":     {[]string{"Authorization", "Bearer " + admin}, http.StatusOK},
	} {
		if r := e.do(t, http.MethodGet, "/playground", "", "", tc.headers...); r.status != tc.want {
			t.Errorf("playground as %s: got %d, want %d", name, r.status, tc.want)
		}
	}
}

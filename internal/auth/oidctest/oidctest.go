// Package oidctest is a small OpenID Connect issuer for tests: discovery,
// JWKS, an authorization endpoint that signs in a configured user at once,
// and a token endpoint that checks the client, the redirect URI and the PKCE
// verifier and redeems each code once. Hooks let a test break the ID token
// (wrong nonce, expired, unverified email) to see sign-in refuse it.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User is who the issuer signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Picture       string
}

// Issuer is a running test issuer.
type Issuer struct {
	URL          string
	ClientID     string
	ClientSecret string

	key *rsa.PrivateKey
	kid string

	mu sync.Mutex
	// User is signed in by the next authorization request.
	user User
	// tamper, when set, edits the ID token claims before signing.
	tamper func(claims jwt.MapClaims)
	codes  map[string]grant
	// Redeemed counts codes redeemed, for tests of single use.
	redeemed int
}

type grant struct {
	user        User
	nonce       string
	challenge   string
	redirectURI string
}

// New starts an issuer for the given client, stopped when the test ends.
func New(t testing.TB, clientID, clientSecret string) *Issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{ClientID: clientID, ClientSecret: clientSecret, key: key, kid: "test-key",
		codes: map[string]grant{},
		user:  User{Subject: "sub-1", Email: "ann@example.com", EmailVerified: true, Name: "Ann", Picture: "https://pics.example/ann.png"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.discovery)
	mux.HandleFunc("GET /jwks", iss.jwks)
	mux.HandleFunc("GET /authorize", iss.authorize)
	mux.HandleFunc("POST /token", iss.token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.URL = srv.URL
	return iss
}

// SetUser chooses who the next sign-in is.
func (i *Issuer) SetUser(u User) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.user = u
}

// Tamper edits the claims of ID tokens issued from now on (nil: none).
func (i *Issuer) Tamper(f func(claims jwt.MapClaims)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.tamper = f
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL,
		"authorization_endpoint":                i.URL + "/authorize",
		"token_endpoint":                        i.URL + "/token",
		"jwks_uri":                              i.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	b64 := base64.RawURLEncoding.EncodeToString
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": i.kid, "use": "sig", "alg": "RS256",
		"n": b64(i.key.N.Bytes()), "e": b64(big.NewInt(int64(i.key.E)).Bytes()),
	}}})
}

// authorize signs the configured user in at once and redirects back with a
// code, as an IdP does after its login page.
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != i.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "bad client or response type", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	}
	code := randomHex()
	i.mu.Lock()
	i.codes[code] = grant{user: i.user, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
	i.mu.Unlock()
	target, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := target.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	target.RawQuery = v.Encode()
	//nolint:gosec // G710: a test issuer redirects wherever its test client asks, as real ones do after checks
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != i.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(i.ClientSecret)) != 1 {
		tokenError(w, "invalid_client")
		return
	}
	code := r.PostForm.Get("code")
	i.mu.Lock()
	g, found := i.codes[code]
	delete(i.codes, code) // single use: a replayed code is refused
	if found {
		i.redeemed++
	}
	tamper := i.tamper
	i.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !found || r.PostForm.Get("grant_type") != "authorization_code":
		tokenError(w, "invalid_grant")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		tokenError(w, "invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		tokenError(w, "invalid_grant")
		return
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": i.URL, "sub": g.user.Subject, "aud": i.ClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"nonce": g.nonce, "email": g.user.Email, "email_verified": g.user.EmailVerified,
		"name": g.user.Name, "picture": g.user.Picture,
	}
	if tamper != nil {
		tamper(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = i.kid
	idToken, err := tok.SignedString(i.key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": randomHex(), "token_type": "Bearer",
		"expires_in": 3600, "id_token": idToken})
}

// Redeemed is how many codes were redeemed so far.
func (i *Issuer) Redeemed() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.redeemed
}

func tokenError(w http.ResponseWriter, code string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

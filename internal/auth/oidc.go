package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/storage"
)

// stateCookie carries the sign-in state between login and callback; it is
// only sent to the callback's path and lives ten minutes.
const (
	stateCookie     = "todo-oauth-state"
	stateCookiePath = "/v1/auth/google"
	stateLifetime   = 10 * time.Minute
)

// Stable error codes of the callback, passed to the frontend as ?error=.
const (
	errNotConfigured     = "not_configured"
	errProviderDown      = "provider_unavailable"
	errMissingCode       = "missing_code"
	errMissingState      = "missing_state"
	errInvalidState      = "invalid_state"
	errExchangeFailed    = "exchange_failed"
	errInvalidIDToken    = "invalid_id_token"
	errInvalidNonce      = "invalid_nonce"
	errEmailNotVerified  = "email_not_verified"
	errAuthFailed        = "auth_failed"
	idpErrorCodePattern  = `^[a-z_]{1,64}$`
	providerRetryBackoff = 5 * time.Second
)

var idpErrorCode = regexp.MustCompile(idpErrorCodePattern)

// oauthConfig discovers the issuer on first use (and again after a failure),
// so the server starts even when the identity provider is unreachable.
func (s *Service) oauthConfig(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	s.providerMu.Lock()
	defer s.providerMu.Unlock()
	if s.provider == nil {
		ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, s.client), providerRetryBackoff)
		defer cancel()
		p, err := oidc.NewProvider(ctx, s.cfg.OIDCIssuerURL)
		if err != nil {
			return nil, nil, fmt.Errorf("auth: discover %s: %w", s.cfg.OIDCIssuerURL, err)
		}
		s.provider = p
	}
	conf := &oauth2.Config{
		ClientID:     s.cfg.GoogleClientID,
		ClientSecret: s.cfg.GoogleClientSecret,
		RedirectURL:  s.cfg.GoogleRedirectURI,
		Endpoint:     s.provider.Endpoint(),
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
	return conf, s.provider.Verifier(&oidc.Config{ClientID: s.cfg.GoogleClientID, Now: s.now}), nil
}

// GoogleLogin is GET /v1/auth/google/login: it starts the authorization-code
// flow with PKCE (S256), state and nonce, and redirects to the issuer, or
// answers {"authUrl": ...} to Accept: application/json.
func (s *Service) GoogleLogin(w http.ResponseWriter, r *http.Request) {
	wantsJSON := isJSON(r.Header.Get("Accept")) || r.URL.Query().Get("format") == "json"
	fail := func(status int, code, msg string) {
		if wantsJSON {
			writeError(w, status, code, msg)
			return
		}
		s.redirectUI(w, r, "error", code)
	}
	if s.cfg.GoogleClientID == "" {
		fail(http.StatusServiceUnavailable, errNotConfigured, "Google sign-in is not configured (GOOGLE_OAUTH_CLIENT_ID)")
		return
	}
	conf, _, err := s.oauthConfig(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "auth: identity provider unavailable", "request_id", requestid.From(r.Context()), "err", err)
		fail(http.StatusServiceUnavailable, errProviderDown, "the identity provider is unavailable")
		return
	}
	st := loginState{State: NewID(), Nonce: NewID(), Verifier: oauth2.GenerateVerifier(),
		Expires: s.now().Add(stateLifetime).Unix()}
	//nolint:gosec // G124: Secure follows COOKIE_SECURE, false only for development over http
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: signState(s.secret, st), Path: stateCookiePath,
		HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode, MaxAge: int(stateLifetime / time.Second)})
	authURL := conf.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce))
	if wantsJSON {
		writeJSON(w, http.StatusOK, map[string]string{"authUrl": authURL})
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

// idClaims are the ID token claims sign-in uses.
type idClaims struct {
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	Picture       string `json:"picture"`
}

// GoogleCallback is GET /v1/auth/google/callback: it checks the state
// against the cookie, redeems the code with the PKCE verifier, verifies the
// ID token (signature, issuer, audience, expiry, our nonce), requires a
// verified email, upserts the user and sets the session cookies. Every
// failure ends at the frontend with a stable ?error= code.
func (s *Service) GoogleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	// The state cookie is single-use: cleared whatever happens next, so a
	// replayed callback URL finds no state.
	//nolint:gosec // G124: Secure follows COOKIE_SECURE, false only for development over http
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: stateCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
	fail := func(code string, err error) {
		s.log.WarnContext(ctx, "auth: sign-in failed", "request_id", requestid.From(ctx), "code", code, "err", err)
		s.redirectUI(w, r, "error", code)
	}
	if e := q.Get("error"); e != "" {
		if !idpErrorCode.MatchString(e) {
			e = errAuthFailed
		}
		fail(e, errors.New("identity provider returned an error"))
		return
	}
	code, state := q.Get("code"), q.Get("state")
	switch {
	case code == "":
		fail(errMissingCode, nil)
		return
	case state == "":
		fail(errMissingState, nil)
		return
	}
	c, err := r.Cookie(stateCookie)
	if err != nil {
		fail(errInvalidState, errors.New("no state cookie"))
		return
	}
	st, err := openState(s.secret, c.Value, s.now())
	if err != nil {
		fail(errInvalidState, err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(st.State), []byte(state)) != 1 {
		fail(errInvalidState, errors.New("state does not match"))
		return
	}
	conf, verifier, err := s.oauthConfig(ctx)
	if err != nil {
		fail(errProviderDown, err)
		return
	}
	octx := oidc.ClientContext(ctx, s.client)
	tok, err := conf.Exchange(octx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		fail(errExchangeFailed, err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		fail(errInvalidIDToken, errors.New("no id_token in the token response"))
		return
	}
	idTok, err := verifier.Verify(octx, rawID)
	if err != nil {
		fail(errInvalidIDToken, err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idTok.Nonce), []byte(st.Nonce)) != 1 {
		fail(errInvalidNonce, errors.New("nonce does not match"))
		return
	}
	var claims idClaims
	if err := idTok.Claims(&claims); err != nil {
		fail(errInvalidIDToken, err)
		return
	}
	if claims.EmailVerified == nil || !*claims.EmailVerified || claims.Email == "" {
		fail(errEmailNotVerified, nil)
		return
	}
	u, err := s.store.SignInGoogle(ctx, storage.GoogleProfile{Subject: idTok.Subject, Email: claims.Email,
		Name: claims.Name, Picture: claims.Picture})
	if err == nil {
		err = s.grantAdmin(ctx, u)
	}
	var access, refresh string
	if err == nil {
		access, refresh, err = s.issueSession(ctx, u.ID, "")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "auth: sign-in failed", "request_id", requestid.From(ctx), "err", err)
		s.redirectUI(w, r, "error", errAuthFailed)
		return
	}
	s.setSession(w, access, refresh)
	s.log.InfoContext(ctx, "signed in", "request_id", requestid.From(ctx), "user_id", u.ID, "via", "oidc")
	s.redirectUI(w, r, "success", "true")
}

// redirectUI ends a browser flow at TODO_UI_BASE_URL/TODO_UI_REDIRECT_PATH,
// a fixed address: nothing in the request can redirect elsewhere.
func (s *Service) redirectUI(w http.ResponseWriter, r *http.Request, key, value string) {
	target := s.cfg.UIBaseURL + "/" + s.cfg.UIRedirectPath + "?" + url.Values{key: {value}}.Encode()
	http.Redirect(w, r, target, http.StatusFound)
}

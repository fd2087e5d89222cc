// Package auth signs people in and tells every request who makes it: Google
// (or any OIDC issuer) sign-in with PKCE, state and nonce; our own RS256
// access and refresh tokens in cookies or a Bearer header; refresh tokens
// stored server-side, rotated on every use and revoked by family on reuse;
// a development login; and the viewer in the request context.
package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// Store is what sign-in needs from the storage facade.
type Store interface {
	SignInGoogle(ctx context.Context, p storage.GoogleProfile) (models.User, error)
	SignInByEmail(ctx context.Context, email, name string) (models.User, error)
	GrantGlobalRole(ctx context.Context, userID string, name models.RoleName, grantedBy string) error
	SaveRefreshToken(ctx context.Context, t storage.RefreshToken) error
	UseRefreshToken(ctx context.Context, id string) (storage.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, family string) error
}

// Service holds the sign-in routes and the request authentication.
type Service struct {
	cfg    config.Config
	store  Store
	tokens *Tokens
	secret []byte
	log    *slog.Logger
	now    func() time.Time
	// client is used for every call to the identity provider.
	client *http.Client

	providerMu sync.Mutex
	provider   *oidc.Provider
}

// NewService builds the service. secret signs the sign-in state cookie.
func NewService(cfg config.Config, store Store, tokens *Tokens, secret []byte, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, store: store, tokens: tokens, secret: secret, log: log, now: now,
		client: &http.Client{Timeout: 10 * time.Second}}
}

// Tokens exposes the token service (tests and tools mint tokens with it).
func (s *Service) Tokens() *Tokens { return s.tokens }

// Authenticate puts the viewer of a valid access token (Bearer header first,
// then the access cookie) into the request context. A missing or invalid
// token leaves the request anonymous; resolvers then answer UNAUTHENTICATED.
func (s *Service) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, viaCookie := bearer(r), false
		if raw == "" {
			if c, err := r.Cookie(s.cfg.AccessCookieName); err == nil {
				raw, viaCookie = c.Value, true
			}
		}
		if raw != "" {
			claims, err := s.tokens.Verify(raw, AccessToken)
			if err == nil {
				r = r.WithContext(WithViewer(r.Context(), &Viewer{UserID: claims.Subject, ViaCookie: viaCookie}))
			} else {
				s.log.DebugContext(r.Context(), "access token refused", "err", err)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// CSRF guards cookie-authenticated POSTs: a cross-site form cannot send
// application/json, and a browser's Origin must be one of ours. Bearer
// requests carry no ambient credentials and need neither.
func (s *Service) CSRF(requireJSON bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && usesCookies(r, s.cfg) {
				if requireJSON && !isJSON(r.Header.Get("Content-Type")) {
					writeError(w, http.StatusUnsupportedMediaType, "csrf", "cookie-authenticated POSTs must send Content-Type: application/json")
					return
				}
				if !s.checkOrigin(w, r) {
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// checkOrigin answers 403 and reports false when the request carries an
// Origin that is not one of ours. A request without one passes: browsers
// send it on every cross-origin POST, and curl and API clients send none.
func (s *Service) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	// A page of the API's own origin (the playground) forges nothing.
	// Browsers set Sec-Fetch-Site and no page can; a client that is not a
	// browser carries no victim's cookies to forge with.
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" || sameHost(r) {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" && !s.allowedOrigin(o) {
		writeError(w, http.StatusForbidden, "csrf", "origin "+o+" is not allowed")
		return false
	}
	return true
}

func usesCookies(r *http.Request, cfg config.Config) bool {
	if bearer(r) != "" {
		return false
	}
	for _, name := range []string{cfg.AccessCookieName, cfg.RefreshCookieName} {
		if _, err := r.Cookie(name); err == nil {
			return true
		}
	}
	return false
}

func isJSON(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "application/json" || mt == "application/graphql-response+json"
}

// mediaType is the Content-Type without its parameters, lower-cased.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func (s *Service) allowedOrigin(origin string) bool {
	for _, o := range s.cfg.CORSAllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// setSession sets both token cookies. The refresh cookie is only sent to
// the auth routes, so it does not travel with every API call.
func (s *Service) setSession(w http.ResponseWriter, access, refresh string) {
	http.SetCookie(w, s.cookie(s.cfg.AccessCookieName, access, "/", s.cfg.AccessLifetime))
	http.SetCookie(w, s.cookie(s.cfg.RefreshCookieName, refresh, refreshCookiePath, s.cfg.RefreshLifetime))
}

func (s *Service) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(s.cfg.AccessCookieName, "", "/", -1))
	http.SetCookie(w, s.cookie(s.cfg.RefreshCookieName, "", refreshCookiePath, -1))
}

const refreshCookiePath = "/v1/auth"

func (s *Service) cookie(name, value, path string, life time.Duration) *http.Cookie {
	//nolint:gosec // G124: Secure follows COOKIE_SECURE, false only for development over http
	c := &http.Cookie{Name: name, Value: value, Path: path, Domain: s.cfg.CookieDomain, HttpOnly: true,
		Secure: s.cfg.CookieSecure, SameSite: s.cfg.CookieSameSite, MaxAge: int(life / time.Second)}
	if life < 0 {
		c.MaxAge = -1
	}
	return c
}

// issueSession mints an access token and a refresh token of family (a new
// family when empty), records the refresh token and returns both.
func (s *Service) issueSession(ctx context.Context, userID, family string) (access, refresh string, err error) {
	if family == "" {
		family = NewID()
	}
	access, _, err = s.tokens.Issue(userID, AccessToken, "")
	if err != nil {
		return "", "", err
	}
	refresh, rc, err := s.tokens.Issue(userID, RefreshToken, family)
	if err != nil {
		return "", "", err
	}
	err = s.store.SaveRefreshToken(ctx, storage.RefreshToken{ID: rc.ID, Family: family, UserID: userID,
		CreatedAt: rc.IssuedAt.Time, ExpiresAt: rc.ExpiresAt.Time})
	return access, refresh, err
}

// grantAdmin gives the GLOBAL admin role to users listed in ADMIN_EMAILS, on
// every sign-in path.
func (s *Service) grantAdmin(ctx context.Context, u models.User) error {
	if !s.cfg.IsAdminEmail(u.Email) {
		return nil
	}
	return s.store.GrantGlobalRole(ctx, u.ID, models.RoleAdmin, "system")
}

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}

// sameHost reports an Origin naming the host the request was sent to: the
// API's own page, in a browser that sends no Sec-Fetch-Site (they send it
// only to secure origins and localhost). Behind a proxy that rewrites Host
// it does not match, and the Origin check decides.
func sameHost(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

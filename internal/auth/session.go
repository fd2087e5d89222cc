package auth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/mail"
	"strings"

	"github.com/todo-backend/todo/internal/requestid"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// sessionBody answers the session routes. Tokens appear in the body only for
// clients that sent theirs in a body (Bearer clients); browsers using
// cookies never see them, so script on a page cannot read them.
type sessionBody struct {
	Success      bool      `json:"success"`
	User         *userBody `json:"user,omitempty"`
	AccessToken  string    `json:"accessToken,omitempty"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	ExpiresIn    int       `json:"expiresIn,omitempty"`
}

type userBody struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// refreshToken reads the refresh token from the cookie, or from a JSON body
// {"refreshToken": "..."} for clients that do not use cookies.
func (s *Service) refreshToken(r *http.Request) (token string, fromBody bool) {
	if c, err := r.Cookie(s.cfg.RefreshCookieName); err == nil && c.Value != "" {
		return c.Value, false
	}
	var body refreshRequest
	if r.Body != nil && isJSON(r.Header.Get("Content-Type")) {
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&body); err == nil && body.RefreshToken != "" {
			return body.RefreshToken, true
		}
	}
	return "", false
}

// Refresh is POST /v1/auth/refresh: it consumes the refresh token and issues
// a new pair of the same family. A token used twice is the sign of a stolen
// one: its whole family is revoked, the thief's copy and the owner's alike.
func (s *Service) Refresh(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw, fromBody := s.refreshToken(r)
	if raw == "" {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "no refresh token")
		return
	}
	claims, err := s.tokens.Verify(raw, RefreshToken)
	if err != nil {
		s.clearSession(w)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid refresh token")
		return
	}
	rec, err := s.store.UseRefreshToken(ctx, claims.ID)
	switch {
	case errors.Is(err, storage.ErrTokenReused):
		if rerr := s.store.RevokeRefreshFamily(ctx, rec.Family); rerr != nil {
			s.internalError(w, r, rerr)
			return
		}
		s.log.WarnContext(ctx, "refresh token reused: family revoked", "request_id", requestid.From(ctx),
			"user_id", rec.UserID, "family", rec.Family)
		s.clearSession(w)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "refresh token already used or revoked; sign in again")
		return
	case errors.Is(err, storage.ErrNotFound):
		s.clearSession(w)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "unknown refresh token")
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	if rec.UserID != claims.Subject || rec.Family != claims.Family || !rec.RevokedAt.IsZero() {
		s.clearSession(w)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid refresh token")
		return
	}
	access, refresh, err := s.issueSession(ctx, claims.Subject, claims.Family)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.respondSession(w, access, refresh, fromBody, nil)
}

// Logout is POST /v1/auth/logout: it revokes the refresh token's family
// and clears the cookies. It succeeds even without a valid token, so a
// client can always get back to a clean state.
func (s *Service) Logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if raw, _ := s.refreshToken(r); raw != "" {
		if claims, err := s.tokens.Verify(raw, RefreshToken); err == nil {
			if err := s.store.RevokeRefreshFamily(ctx, claims.Family); err != nil {
				s.internalError(w, r, err)
				return
			}
		}
	}
	s.clearSession(w)
	writeJSON(w, http.StatusOK, sessionBody{Success: true})
}

type devLoginRequest struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// DevLogin is POST /v1/auth/dev/login {"email","name"}: sign in as the user
// with that email without Google. It answers only when AUTH_DEV_LOGIN is
// on, which config allows in development alone.
//
// It sets session cookies without any cookie coming in, so the CSRF
// middleware (which guards cookie-authenticated requests) does not cover
// it: a cross-site form could sign a victim's browser in as the attacker.
// Hence JSON only (a form cannot send it without a preflight) and the same
// Origin check as the cookie routes, whether or not cookies came along.
func (s *Service) DevLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.cfg.DevLogin {
		writeError(w, http.StatusNotFound, "not_found", "dev login is disabled")
		return
	}
	if mediaType(r.Header.Get("Content-Type")) != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "dev login takes Content-Type: application/json")
		return
	}
	if !s.checkOrigin(w, r) {
		return
	}
	var req devLoginRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `body must be JSON {"email": "...", "name": "..."}`)
		return
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(req.Email))
	if err != nil || addr.Address != strings.TrimSpace(req.Email) {
		writeError(w, http.StatusBadRequest, "bad_request", "email: not an email address")
		return
	}
	if len(req.Name) > 100 {
		writeError(w, http.StatusBadRequest, "bad_request", "name: at most 100 characters")
		return
	}
	if models.HasControl(req.Name) {
		writeError(w, http.StatusBadRequest, "bad_request", "name: must not contain control characters")
		return
	}
	u, err := s.store.SignInByEmail(ctx, addr.Address, req.Name)
	var fe *storage.FieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, "bad_request", fe.Error()) // an address longer than the users table holds
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if err := s.grantAdmin(ctx, u); err != nil {
		s.internalError(w, r, err)
		return
	}
	access, refresh, err := s.issueSession(ctx, u.ID, "")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	// Dev login also returns the tokens, so a developer with curl can use
	// them as Bearer tokens.
	s.respondSession(w, access, refresh, true, &userBody{ID: u.ID, Email: u.Email, Name: u.Name})
}

func (s *Service) respondSession(w http.ResponseWriter, access, refresh string, withTokens bool, u *userBody) {
	s.setSession(w, access, refresh)
	body := sessionBody{Success: true, User: u, ExpiresIn: int(s.cfg.AccessLifetime.Seconds())}
	if withTokens {
		body.AccessToken, body.RefreshToken = access, refresh
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Service) internalError(w http.ResponseWriter, r *http.Request, err error) {
	id := requestid.From(r.Context())
	s.log.ErrorContext(r.Context(), "auth: internal error", "request_id", id, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error (request "+id+")")
}

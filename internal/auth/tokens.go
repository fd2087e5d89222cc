package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenType tells access tokens from refresh tokens; each is accepted only
// where it belongs.
type TokenType string

// Token types, in the typ claim.
const (
	AccessToken  TokenType = "access"
	RefreshToken TokenType = "refresh"
)

// Issuer and audience of our tokens.
const (
	TokenIssuer   = "todo-backend"
	TokenAudience = "todo-api"
)

// ErrInvalidToken is any reason a token is refused. The reason is wrapped for
// logs; clients only learn that they are not authenticated.
var ErrInvalidToken = errors.New("auth: invalid token")

// Claims are our tokens' claims. Family groups a chain of rotated refresh
// tokens, so reuse of an old one can revoke the whole chain.
type Claims struct {
	jwt.RegisteredClaims
	Type   TokenType `json:"typ"`
	Family string    `json:"fam,omitempty"`
}

// Tokens issues and verifies RS256 tokens.
type Tokens struct {
	keys       *Keys
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
}

// NewTokens builds the token service. now is injected for tests.
func NewTokens(keys *Keys, accessTTL, refreshTTL time.Duration, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{keys: keys, accessTTL: accessTTL, refreshTTL: refreshTTL, now: now}
}

// Issue signs a token of typ for userID. family is set on refresh tokens.
func (t *Tokens) Issue(userID string, typ TokenType, family string) (string, Claims, error) {
	ttl := t.accessTTL
	if typ == RefreshToken {
		ttl = t.refreshTTL
	}
	now := t.now().Truncate(time.Second)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        NewID(),
		},
		Type:   typ,
		Family: family,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = t.keys.KID
	s, err := tok.SignedString(t.keys.private)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: sign: %w", err)
	}
	return s, c, nil
}

// Verify checks signature (RS256 only: none, HS256 and key confusion are
// refused by the pinned method), kid, issuer, audience, expiry, issue time
// and type, and returns the claims.
func (t *Tokens) Verify(token string, want TokenType) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		if kid, _ := tok.Header["kid"].(string); kid != t.keys.KID {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return t.keys.public, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	switch {
	case c.Type != want:
		return nil, fmt.Errorf("%w: a %q token where a %q token belongs", ErrInvalidToken, c.Type, want)
	case c.Subject == "" || c.ID == "":
		return nil, fmt.Errorf("%w: no subject or id", ErrInvalidToken)
	case want == RefreshToken && c.Family == "":
		return nil, fmt.Errorf("%w: refresh token without family", ErrInvalidToken)
	}
	return &c, nil
}

// NewID returns a random 128-bit identifier for token ids and families.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b[:])
}

package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	a, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	privA, pubA := a.PEM()
	_, pubB := b.PEM()
	k, err := ParseKeys(privA, pubA)
	if err != nil {
		t.Fatalf("a matching pair: %v", err)
	}
	if k.KID != a.KID || k.KID == b.KID {
		t.Errorf("kid: got %q, want %q (and distinct from another key's)", k.KID, a.KID)
	}
	if _, err := ParseKeys(privA, pubB); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched pair: got %v, want a mismatch error", err)
	}
	if _, err := ParseKeys("junk", pubA); err == nil {
		t.Error("junk private key accepted")
	}
}

func TestDevKeysAndSecretPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, gen1, err := LoadOrGenerateKeys(dir)
	if err != nil || !gen1 {
		t.Fatalf("first start: generated=%v err=%v, want a new pair", gen1, err)
	}
	k2, gen2, err := LoadOrGenerateKeys(dir)
	if err != nil || gen2 || k2.KID != k1.KID {
		t.Fatalf("second start: generated=%v kid %q vs %q err=%v, want the same pair read back", gen2, k2.KID, k1.KID, err)
	}
	info, err := os.Stat(filepath.Join(dir, "jwt-private.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v, want 0600", err, info.Mode().Perm())
	}
	s1, _, err := LoadOrGenerateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2, gen, err := LoadOrGenerateSecret(dir)
	if err != nil || gen || string(s1) != string(s2) || len(s1) < 32 {
		t.Errorf("secret: generated again=%v, same=%v, len %d", gen, string(s1) == string(s2), len(s1))
	}
}

func TestTokens(t *testing.T) {
	keys, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok := NewTokens(keys, time.Hour, 7*24*time.Hour, clock)
	access, c, err := tok.Issue("6b07527f8b481ab2e842ff27", AccessToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.Issuer != TokenIssuer || c.ExpiresAt.Sub(now) != time.Hour {
		t.Errorf("claims: got %+v", c)
	}
	got, err := tok.Verify(access, AccessToken)
	if err != nil || got.Subject != "6b07527f8b481ab2e842ff27" {
		t.Fatalf("verify: %v %+v", err, got)
	}
	if _, err := tok.Verify(access, RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("access token as refresh: got %v, want ErrInvalidToken", err)
	}
	refresh, _, err := tok.Issue("6b07527f8b481ab2e842ff27", RefreshToken, "fam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Verify(refresh, AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("refresh token as access: got %v, want ErrInvalidToken", err)
	}
	if rc, err := tok.Verify(refresh, RefreshToken); err != nil || rc.Family != "fam" || rc.ExpiresAt.Sub(now) != 7*24*time.Hour {
		t.Errorf("refresh: %v %+v", err, rc)
	}
	later := NewTokens(keys, time.Hour, 7*24*time.Hour, func() time.Time { return now.Add(61 * time.Minute) })
	if _, err := later.Verify(access, AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired access token: got %v, want ErrInvalidToken", err)
	}
	other, _ := GenerateKeys()
	if _, err := NewTokens(other, time.Hour, time.Hour, clock).Verify(access, AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of another key: got %v, want ErrInvalidToken", err)
	}
}

func TestLoginStateCookie(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	st := loginState{State: "s", Nonce: "n", Verifier: "v", Expires: now.Add(time.Minute).Unix()}
	c := signState(secret, st)
	got, err := openState(secret, c, now)
	if err != nil || got != st {
		t.Fatalf("round trip: got %+v %v", got, err)
	}
	payload, sig, _ := strings.Cut(c, ".")
	tampered := strings.ToUpper(payload[:1]) + payload[1:]
	if tampered == payload {
		tampered = strings.ToLower(payload[:1]) + payload[1:]
	}
	for name, bad := range map[string]string{
		"tampered payload": tampered + "." + sig,
		"no signature":     payload,
		"other secret":     signState([]byte("another-secret-another-secret-xx"), st),
		"garbage":          "!!!.???",
	} {
		if _, err := openState(secret, bad, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := openState(secret, c, now.Add(2*time.Minute)); err == nil {
		t.Error("expired state accepted")
	}
}

type countingChecker struct{ calls int }

func (c *countingChecker) IsGlobalAdmin(context.Context, string) (bool, error) {
	c.calls++
	return true, nil
}

func TestViewerAdminIsAskedOncePerRequest(t *testing.T) {
	v := &Viewer{UserID: "u"}
	c := &countingChecker{}
	for range 3 {
		if ok, err := v.IsAdmin(context.Background(), c); !ok || err != nil {
			t.Fatalf("IsAdmin: %v %v", ok, err)
		}
	}
	if c.calls != 1 {
		t.Errorf("store asked %d times, want 1", c.calls)
	}
}

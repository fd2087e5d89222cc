package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// loginState is what the callback needs to finish a sign-in it did not
// start: kept in a signed, short-lived cookie rather than in process memory,
// so any instance behind a load balancer can finish it.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

var errBadState = errors.New("auth: bad sign-in state")

func signState(secret []byte, st loginState) string {
	payload, _ := json.Marshal(st) // plain strings and an int: cannot fail
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(secret, p))
}

func openState(secret []byte, cookie string, now time.Time) (loginState, error) {
	p, sig, ok := strings.Cut(cookie, ".")
	if !ok {
		return loginState{}, errBadState
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, p)) {
		return loginState{}, errBadState
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return loginState{}, errBadState
	}
	var st loginState
	if json.Unmarshal(payload, &st) != nil || st.State == "" || st.Nonce == "" || st.Verifier == "" {
		return loginState{}, errBadState
	}
	if now.Unix() > st.Expires {
		return loginState{}, errors.New("auth: sign-in state expired")
	}
	return st, nil
}

func mac(secret []byte, p string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("todo-login-state\x00" + p))
	return h.Sum(nil)
}

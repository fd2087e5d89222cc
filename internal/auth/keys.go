package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Keys is the RSA pair that signs and verifies our tokens. KID names it in
// every token header, so a rotated key can be told apart from the current one.
type Keys struct {
	private *rsa.PrivateKey
	public  *rsa.PublicKey
	KID     string
}

// ParseKeys reads a PEM pair (PKCS#8 or PKCS#1 private key, PKIX or PKCS#1
// public key) and checks that the two belong together.
func ParseKeys(privatePEM, publicPEM string) (*Keys, error) {
	block, _ := pem.Decode([]byte(privatePEM))
	if block == nil {
		return nil, errors.New("auth: PRIVATE_KEY is not PEM")
	}
	var priv *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("auth: PRIVATE_KEY is a %T, want RSA", k)
		}
		priv = rk
	} else if rk, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		priv = rk
	} else {
		return nil, fmt.Errorf("auth: PRIVATE_KEY: %w", err)
	}
	if priv.N.BitLen() < 2048 {
		return nil, fmt.Errorf("auth: PRIVATE_KEY has %d bits, want at least 2048", priv.N.BitLen())
	}
	block, _ = pem.Decode([]byte(publicPEM))
	if block == nil {
		return nil, errors.New("auth: PUBLIC_KEY is not PEM")
	}
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("auth: PUBLIC_KEY is a %T, want RSA", k)
		}
		pub = rk
	} else if rk, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		pub = rk
	} else {
		return nil, fmt.Errorf("auth: PUBLIC_KEY: %w", err)
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, errors.New("auth: PUBLIC_KEY does not match PRIVATE_KEY")
	}
	return newKeys(priv), nil
}

func newKeys(priv *rsa.PrivateKey) *Keys {
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey) // cannot fail for an RSA key
	sum := sha256.Sum256(der)
	return &Keys{private: priv, public: &priv.PublicKey, KID: base64.RawURLEncoding.EncodeToString(sum[:12])}
}

// GenerateKeys makes a fresh 2048-bit pair.
func GenerateKeys() (*Keys, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key: %w", err)
	}
	return newKeys(priv), nil
}

// PEM returns the pair in the forms PRIVATE_KEY and PUBLIC_KEY take.
func (k *Keys) PEM() (privatePEM, publicPEM string) {
	der, _ := x509.MarshalPKCS8PrivateKey(k.private) // cannot fail for an RSA key
	pubDER, _ := x509.MarshalPKIXPublicKey(k.public)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
}

// LoadOrGenerateKeys is the development fallback: the pair is generated once
// into dir and read back on later starts, so sessions survive restarts.
func LoadOrGenerateKeys(dir string) (keys *Keys, generated bool, err error) {
	privPath, pubPath := filepath.Join(dir, "jwt-private.pem"), filepath.Join(dir, "jwt-public.pem")
	privPEM, errPriv := os.ReadFile(privPath)
	pubPEM, errPub := os.ReadFile(pubPath)
	if errPriv == nil && errPub == nil {
		k, err := ParseKeys(string(privPEM), string(pubPEM))
		return k, false, err
	}
	if !errors.Is(errPriv, os.ErrNotExist) && errPriv != nil {
		return nil, false, fmt.Errorf("auth: %w", errPriv)
	}
	k, err := GenerateKeys()
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("auth: keys dir: %w", err)
	}
	priv, pub := k.PEM()
	if err := os.WriteFile(privPath, []byte(priv), 0o600); err != nil {
		return nil, false, fmt.Errorf("auth: write key: %w", err)
	}
	if err := os.WriteFile(pubPath, []byte(pub), 0o600); err != nil {
		return nil, false, fmt.Errorf("auth: write key: %w", err)
	}
	return k, true, nil
}

// LoadOrGenerateSecret is the development fallback for SECRET_KEY.
func LoadOrGenerateSecret(dir string) (secret []byte, generated bool, err error) {
	path := filepath.Join(dir, "secret-key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, false, nil
	}
	secret = make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, false, fmt.Errorf("auth: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("auth: secret dir: %w", err)
	}
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, false, fmt.Errorf("auth: write secret: %w", err)
	}
	return secret, true, nil
}

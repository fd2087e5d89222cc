package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
)

// generateKeys prints a 2048-bit RSA pair in the one-line form .env files
// take: PEM with its newlines written as \n, which config.Load expands.
func generateKeys(w io.Writer) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	oneLine := func(typ string, b []byte) string {
		return strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})), "\n", `\n`)
	}
	_, err = fmt.Fprintf(w, "PRIVATE_KEY=\"%s\"\nPUBLIC_KEY=\"%s\"\n", oneLine("PRIVATE KEY", der), oneLine("PUBLIC KEY", pubDER))
	return err
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/storage"
)

// newAuth builds sign-in from the configured keys and secret, or, outside
// production (config refuses it there), from ones generated once into
// DATA_DIR so sessions survive restarts.
func newAuth(cfg config.Config, store *storage.Store, log *slog.Logger) (*auth.Service, error) {
	dir := filepath.Join(cfg.DataDir, "keys")
	var keys *auth.Keys
	var err error
	if cfg.PrivateKeyPEM != "" {
		keys, err = auth.ParseKeys(cfg.PrivateKeyPEM, cfg.PublicKeyPEM)
	} else {
		var generated bool
		keys, generated, err = auth.LoadOrGenerateKeys(dir)
		if err == nil {
			log.Warn("using development signing keys from DATA_DIR; set PRIVATE_KEY and PUBLIC_KEY for real use",
				"dir", dir, "generated_now", generated)
		}
	}
	if err != nil {
		return nil, err
	}
	secret := []byte(cfg.SecretKey)
	if len(secret) == 0 {
		if secret, _, err = auth.LoadOrGenerateSecret(dir); err != nil {
			return nil, err
		}
	}
	tokens := auth.NewTokens(keys, cfg.AccessLifetime, cfg.RefreshLifetime, nil)
	return auth.NewService(cfg, store, tokens, secret, log, nil), nil
}

// logSignIn tells a newcomer how to sign in.
func logSignIn(cfg config.Config, log *slog.Logger, port int) {
	if cfg.GoogleClientID != "" {
		log.Info("Google sign-in enabled", "login", fmt.Sprintf("http://localhost:%d/v1/auth/google/login", port),
			"issuer", cfg.OIDCIssuerURL)
	}
	if cfg.DevLogin {
		log.Info("dev login enabled (AUTH_DEV_LOGIN): sign in without Google with",
			"try", fmt.Sprintf(`curl -c cookies.txt -H 'Content-Type: application/json' -d '{"email":"you@example.com","name":"You"}' http://localhost:%d/v1/auth/dev/login`, port),
			"then", fmt.Sprintf(`curl -b cookies.txt -H 'Content-Type: application/json' -d '{"query":"{ me { id email roles { name scope } } }"}' http://localhost:%d/graphql`, port))
	}
}

// purgeExpired deletes long-expired refresh tokens and expired
// idempotency keys every hour: FerretDB has no TTL indexes to do it.
func purgeExpired(ctx context.Context, store *storage.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		for _, p := range []struct {
			what  string
			purge func(context.Context) (int64, error)
		}{
			{"expired refresh tokens", store.PurgeExpiredRefreshTokens},
			{"expired idempotency keys", store.PurgeExpiredIdempotencyKeys},
		} {
			if n, err := p.purge(ctx); err != nil && ctx.Err() == nil {
				log.Warn("purging "+p.what+" failed", "err", err)
			} else if n > 0 {
				log.Info("purged "+p.what, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

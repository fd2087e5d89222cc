// Package embedded runs FerretDB v1 inside the process, on SQLite files under
// a data directory, so `go run ./cmd/todo` needs no MongoDB installed. The
// service talks to it over the MongoDB wire protocol on a loopback port, the
// same code path as a real MongoDB.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running embedded FerretDB.
type Server struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts FerretDB with its SQLite backend in dir (created if needed).
// It logs only errors: at warning level FerretDB writes several lines for
// every client disconnect.
func Start(dir string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("embedded: data dir: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	quiet := slog.New(levelFilter{logger.Handler(), slog.LevelError})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:  "sqlite",
		// The SQLite handler wants a directory URI with a trailing slash.
		SQLiteURL: "file:" + abs + "/",
		Logger:    quiet,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx) // returns only when ctx is cancelled
	}()
	// MongoDBURI blocks until the listener is up.
	s.uri = f.MongoDBURI()
	return s, nil
}

// URI is the mongodb:// address of the server.
func (s *Server) URI() string { return s.uri }

// Stop shuts the server down and waits for it, at most until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return errors.New("embedded: ferretdb did not stop in time")
	case <-time.After(30 * time.Second):
		return errors.New("embedded: ferretdb did not stop in 30s")
	}
}

// levelFilter drops records below min before they reach the wrapped handler.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{h.Handler.WithAttrs(as), h.min}
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{h.Handler.WithGroup(name), h.min}
}

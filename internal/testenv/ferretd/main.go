// Command ferretd runs FerretDB for the tests in a process of its own, so
// that `go test -race` instruments the code under test and not the
// database server too (the race detector slows FerretDB several times
// over, and it is most of a test's CPU). testenv builds it without -race
// and starts it; it prints the MongoDB URI it serves on its first line and
// runs until its standard input closes (the test process ended, however it
// ended) or it is told to stop.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	handler := flag.String("handler", "postgresql", "postgresql or sqlite")
	pgURL := flag.String("postgresql-url", "", "the PostgreSQL database to keep the data in")
	sqliteURL := flag.String("sqlite-url", "", "the SQLite directory (file:/dir/) to keep the data in")
	flag.Parse()
	cfg := &ferretdb.Config{Handler: *handler, PostgreSQLURL: *pgURL, SQLiteURL: *sqliteURL,
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		// At Warn it logs several lines per client disconnect, which buries test output.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	fdb, err := ferretdb.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretd: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the parent goes
		stop()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fdb.Run(ctx)
	}()
	fmt.Println(fdb.MongoDBURI()) // blocks until Run listens
	<-done
}

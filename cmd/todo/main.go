// Command todo is the todo-backend service and its operator tools. It is the
// composition root: configuration, then the stores, then the HTTP server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/todo-backend/todo/internal/config"
)

const usage = `todo — team TODO service (GraphQL over MongoDB, mirrored into PostgreSQL)

Usage:
  todo [serve]         run the HTTP server (GraphQL, playground, health, metrics)
  todo migrate         apply the PostgreSQL mirror migrations and the MongoDB indexes and seeds
  todo migrate normalize
                       rewrite documents the original service stored with string ids or ISO-string
                       dates as native ObjectIds and Dates (idempotent; prints counts)
  todo sync status     pending and failed mirror writes per collection, oldest pending age
  todo sync retry [--collection C] [--id ID]
                       retry failed mirror writes now
  todo sync backfill [--collection C]
                       copy every MongoDB document into the mirror (resumable, idempotent)
  todo sync verify [--collection C] [--repair]
                       compare MongoDB and the mirror document by document; exit 1 on differences
  todo keys generate   print a fresh RSA key pair as PRIVATE_KEY=... and PUBLIC_KEY=... lines
  todo help            show this message

Configuration comes from the environment and an optional .env file in the
working directory; see .env.example and the README for every variable.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command line that could not be understood.
var errUsage = errors.New("usage")

// run executes one command line and returns the process exit code: 0 on
// success, 1 on failure, 2 on a command line that makes no sense. A long
// command stops when ctx ends (SIGINT or SIGTERM in main).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "todo: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "todo: %v\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "keys":
		if len(args) != 1 || args[0] != "generate" {
			return fmt.Errorf("%w: keys takes one subcommand: generate", errUsage)
		}
		return generateKeys(stdout)
	case "migrate":
		if len(args) > 1 || (len(args) == 1 && args[0] != "normalize") {
			return fmt.Errorf("%w: migrate takes no arguments or normalize, got %q", errUsage, args)
		}
	case "sync":
	case "serve":
		if len(args) > 0 {
			return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, cmd, args)
		}
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}

	lookup, err := config.Environ(".env")
	if err != nil {
		return err
	}
	cfg, err := config.Load(lookup)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch {
	case cmd == "migrate" && len(args) == 1:
		return normalize(ctx, cfg, log, stdout, stderr)
	case cmd == "migrate":
		return migrate(ctx, cfg, log, stdout)
	case cmd == "sync":
		return syncCmd(ctx, cfg, log, args, stdout, stderr)
	}
	return serve(ctx, cfg, log)
}

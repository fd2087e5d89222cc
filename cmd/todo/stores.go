package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"time"

	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/embedded"
	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
	"github.com/todo-backend/todo/storage/postgres"
)

// stores are the two databases of a process, and the embedded server when
// MongoDB runs in process.
type stores struct {
	mongo       *mongo.Store
	mirror      *postgres.DB
	ferret      *embedded.Server
	mongoWhere  string
	mirrorWhere string
}

// openStores connects to both stores without waiting for either to be up:
// the drivers connect lazily, so a store that is down shows in health and in
// the bootstrap retries, not as a failed start.
//
// writer is set for `todo serve`: its MongoDB writes wait for claimWriter.
func openStores(cfg config.Config, log *slog.Logger, m *metrics.Metrics, writer bool) (*stores, error) {
	s := &stores{}
	uri := cfg.MongoURI
	if cfg.Embedded() {
		dir := filepath.Join(cfg.DataDir, "mongo")
		srv, err := embedded.Start(dir, log)
		if err != nil {
			return nil, err
		}
		s.ferret, uri = srv, srv.URI()
		s.mongoWhere = "embedded FerretDB (SQLite) in " + dir
	} else {
		s.mongoWhere = redactURI(uri)
	}
	ms, err := mongo.Connect(uri, cfg.DBName, mongo.Options{Monitor: m.MongoMonitor(), WriterLease: writer})
	if err != nil {
		s.close(context.Background())
		return nil, err
	}
	s.mongo = ms

	if cfg.EmbeddedMirror() {
		path := filepath.Join(cfg.DataDir, "mirror.db")
		s.mirror, err = postgres.OpenSQLite(path)
		s.mirrorWhere = "embedded SQLite in " + path
	} else {
		s.mirror, err = postgres.Open(cfg.PostgresDSN)
		if err == nil {
			s.mirrorWhere = "PostgreSQL " + s.mirror.Where
		}
	}
	if err != nil {
		s.close(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *stores) close(ctx context.Context) {
	if s.mongo != nil {
		_ = s.mongo.Close(ctx)
	}
	if s.mirror != nil {
		_ = s.mirror.Close()
	}
	if s.ferret != nil {
		_ = s.ferret.Stop(ctx)
	}
}

// claimWriter asks what the primary is. MongoDB makes every update atomic,
// so any number of instances may write to it. FerretDB v1 does not (SPEC
// §6.6): this instance then takes the single-writer lease, waiting up to
// WRITER_LEASE_TTL for one whose holder stopped, and keeps it until keep
// ends; lost is called if another process takes it over later. A lease
// held by a live instance is mongo.ErrLeaseHeld.
//
// The lease (nil on MongoDB) is given up when keep ends; wait for its Done
// before closing the store.
func claimWriter(ctx, keep context.Context, st *mongo.Store, ttl time.Duration, log *slog.Logger, lost func(error)) (*mongo.Lease, error) {
	srv, err := st.Identify(ctx)
	if err != nil {
		return nil, err
	}
	if !srv.FerretDB {
		log.InfoContext(ctx, "primary is MongoDB: updates are atomic, any number of instances may run", "version", srv.Version)
		return nil, nil
	}
	lease := st.NewLease(mongo.This(mongo.NewID()), ttl)
	if err := lease.Hold(keep, lost); err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "primary is FerretDB: this instance holds the single-writer lease (one instance only; use MongoDB for several)",
		"ferretdb", srv.Version, "lease_ttl", ttl.String())
	return lease, nil
}

// released waits (a little) for a held lease to be given up.
func released(l *mongo.Lease) {
	if l == nil {
		return
	}
	select {
	case <-l.Done():
	case <-time.After(3 * time.Second):
	}
}

// refuseSecondWriter is the one line a second instance on FerretDB ends with.
func refuseSecondWriter(err error) error {
	return fmt.Errorf("%w. FerretDB v1 cannot make updates from several processes atomic, so only one todo serve "+
		"may write to a FerretDB database: stop the other one, or run several instances on MongoDB (a replica set)", err)
}

// prepareMongo creates the indexes and the seeds. Both are idempotent.
// An index the existing data violates is reported and returned; the others
// and the seeds are still made.
func prepareMongo(ctx context.Context, st *mongo.Store, log *slog.Logger) error {
	if err := st.Ping(ctx); err != nil {
		return err
	}
	idxErr := st.EnsureIndexes(ctx)
	if idxErr != nil {
		log.ErrorContext(ctx, "mongodb indexes incomplete: run `todo migrate normalize`, which repairs repeated display ids and role grants, then `todo migrate`",
			"err", idxErr)
	}
	res, err := st.Seed(ctx, time.Now().UTC())
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "mongodb ready", "seeded_labels", res.Labels, "seeded_roles", res.Roles,
		"seeded_counter", res.Counter)
	return idxErr
}

// prepareMirror applies the mirror's migrations.
func prepareMirror(ctx context.Context, db *postgres.DB, log *slog.Logger) error {
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "mirror ready", "dialect", db.Dialect(), "applied_migrations", applied)
	return nil
}

// mirrorSeeds copies the seeded labels and roles into the mirror.
func mirrorSeeds(ctx context.Context, e *mirror.Engine) error {
	_, err := e.Backfill(ctx, []string{mirror.Labels, mirror.Roles}, 100, nil)
	return err
}

// retryUntil runs fn until it succeeds or ctx ends, backing off from 1 s to
// 30 s with jitter, so a store that comes up late is prepared as soon as it
// answers and a down store is not hammered.
func retryUntil(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) {
	delay := time.Second
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := fn(attemptCtx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		wait := delay/2 + rand.N(delay/2+1) //nolint:gosec // G404: jitter needs no cryptographic randomness
		log.WarnContext(ctx, what+" failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond).String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// redactURI hides a password in a connection string before it is logged.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparsable URI)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

// migrate is `todo migrate`: both stores must be reachable, and any failure,
// an unbuildable index included, is the command's failure.
func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	st, err := openStores(cfg, log, metrics.New(), false)
	if err != nil {
		return err
	}
	defer st.close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	mirrorErr := prepareMirror(ctx, st.mirror, log)
	if mirrorErr == nil {
		fmt.Fprintf(out, "mirror: migrations applied (%s)\n", st.mirrorWhere)
	}
	mongoErr := prepareMongo(ctx, st.mongo, log)
	if mongoErr == nil {
		fmt.Fprintf(out, "mongodb: indexes and seeds in place (%s)\n", st.mongoWhere)
	}
	if mirrorErr == nil && mongoErr == nil {
		e := mirror.NewEngine(st.mongo, mirror.New(st.mirror), mirror.EngineOptions{Enabled: true, Log: log})
		mirrorErr = mirrorSeeds(ctx, e)
	}
	return errors.Join(mirrorErr, mongoErr)
}

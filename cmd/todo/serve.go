package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/todo-backend/todo/internal/config"
	"github.com/todo-backend/todo/internal/metrics"
	"github.com/todo-backend/todo/internal/server"
	"github.com/todo-backend/todo/storage"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// shutdownGrace is how long in-flight requests get after SIGINT/SIGTERM.
const shutdownGrace = 15 * time.Second

// writeProbeEvery is how often the write probe writes (and how long one
// write may take): health sees failing writes within about that, plus its
// one-second cache.
const writeProbeEvery = 2 * time.Second

// serve runs the HTTP server until ctx ends (a signal), then drains it.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	m := metrics.New()
	st, err := openStores(cfg, log, m, true)
	if err != nil {
		return err
	}
	defer st.close(context.Background())
	log.Info("stores", "mongodb", st.mongoWhere, "mirror", st.mirrorWhere, "database", cfg.DBName)

	engine := mirror.NewEngine(st.mongo, mirror.New(st.mirror), mirror.EngineOptions{
		Enabled: cfg.DualWriteEnabled && !cfg.BenchNoMirror, Async: cfg.DualWriteSyncMode == config.SyncModeAsync,
		Attempts: cfg.DualWriteRetryAttempts, Delay: cfg.DualWriteRetryDelay, MaxBackoff: cfg.DualWriteMaxBackoff,
		VerifyInterval: cfg.DualWriteVerifyInterval, VerifyRate: cfg.DualWriteVerifyRate, VerifyRepair: cfg.DualWriteVerifyRepair,
		Log: log, Metrics: mirror.NewMetrics(m.Registry),
	})
	m.Registry.MustRegister(engine.Gauges())

	// Preparing the stores runs beside the server: it starts, and answers
	// health with DOWN, while a store is still unreachable; the mirror's
	// worker starts applying intents once its migrations are in.
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	mongoReady := make(chan struct{})
	// A second writer on FerretDB, or a lease lost to one, ends the process.
	fatal := make(chan error, 1)
	stop := func(err error) {
		select {
		case fatal <- refuseSecondWriter(err):
		default:
		}
	}
	var lease *mongo.Lease
	wg.Go(func() {
		claimed := false
		retryUntil(bg, log, "mongodb preparation", func(c context.Context) error {
			if !claimed {
				l, err := claimWriter(c, bg, st.mongo, cfg.WriterLeaseTTL, log, stop)
				if errors.Is(err, mongo.ErrLeaseHeld) {
					stop(err)
					return nil
				}
				if err != nil {
					return err
				}
				lease, claimed = l, true
			}
			// An index the existing data violates must not keep the service
			// from starting: it is logged (and `todo migrate` fails on it).
			if err := prepareMongo(c, st.mongo, log); err != nil && !errors.Is(err, mongo.ErrIndexes) {
				return err
			}
			return nil
		})
		if claimed {
			close(mongoReady)
		}
	})
	wg.Go(func() {
		if cfg.BenchNoMirror {
			return
		}
		if !cfg.DualWriteEnabled {
			// Nothing is recorded while off: the note (kept fresh while this
			// instance runs) makes an instance with it on catch up. It needs
			// MongoDB only, not the mirror.
			select {
			case <-mongoReady:
			case <-bg.Done():
				return
			}
			engine.KeepOff(bg)
			return
		}
		retryUntil(bg, log, "mirror migration", func(c context.Context) error { return prepareMirror(c, st.mirror, log) })
		// The worker starts once MongoDB is prepared (on FerretDB, once this
		// instance holds the lease). The seeds are written at start-up
		// without the facade, so they are copied too (a guarded, idempotent
		// upsert), beside the worker: one that cannot be copied must not
		// hold up every other write's.
		select {
		case <-mongoReady:
		case <-bg.Done():
			return
		}
		engine.SetReady()
		retryUntil(bg, log, "mirroring the seeds", func(c context.Context) error { return mirrorSeeds(c, engine) })
		// An instance with mirroring off (now or during a rolling change)
		// leaves a note; this one catches up, resumably, as long as it runs.
		engine.KeepCaughtUp(bg, 500)
	})
	if !cfg.BenchNoMirror {
		wg.Go(func() { engine.Run(bg) })
		wg.Go(func() { engine.RunCommitter(bg) })
		wg.Go(func() { engine.RunVerifier(bg) })
	}
	defer func() { stopBG(); wg.Wait(); released(lease) }()

	facadeEngine := engine
	if cfg.BenchNoMirror {
		facadeEngine = nil // the benchmark's baseline (the engine stays, disabled, for health)
	}
	readFamilies, err := storage.ReadDefaults(cfg.ReadsFromPostgres)
	if err != nil {
		return fmt.Errorf("READS_FROM_POSTGRES: %w", err)
	}
	store := storage.New(st.mongo, storage.Options{Engine: facadeEngine, Log: log, Reads: storage.ReadOptions{
		Postgres: readFamilies, ShadowPercent: cfg.ReadShadowPercent, ShadowBudget: cfg.ReadShadowBudget, Metrics: storage.NewReadMetrics(m.Registry)}})
	wg.Go(func() { store.KeepReadSettings(bg) })
	authSvc, err := newAuth(cfg, store, log)
	if err != nil {
		return err
	}
	wg.Go(func() { purgeExpired(bg, store, log) })
	// The write probe stands for MongoDB in health: a server that answers
	// pings but refuses writes (a full disk) shows there too.
	probe := st.mongo.NewWriteProbe(mongo.NewID())
	wg.Go(func() {
		probe.Run(bg, writeProbeEvery, func(err error) {
			if err != nil {
				log.Error("mongodb writes failing", "err", err)
			} else {
				log.Info("mongodb writes work again")
			}
		})
	})
	handler := server.New(server.Deps{
		Config: cfg, Log: log, Metrics: m, Store: store, Auth: authSvc,
		Mongo: probe, Mirror: st.mirror, Sync: storage.SyncStateOf(engine),
	})
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	port := ln.Addr().(*net.TCPAddr).Port
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.Env,
		"graphql", fmt.Sprintf("http://localhost:%d/graphql", port),
		"playground", fmt.Sprintf("http://localhost:%d/playground", port),
		"health", fmt.Sprintf("http://localhost:%d/v1/health", port))
	logSignIn(cfg, log, port)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case err := <-fatal:
		_ = srv.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

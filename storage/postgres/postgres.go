// Package postgres is the mirror's database: the original service's
// postgres_* tables, their versioned migrations and the connection, through
// Bun. The same code runs on PostgreSQL (pgdialect, pgx) and, for the embedded
// default, on an SQLite file (sqlitedialect), so it sticks to SQL both share.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver, the one FerretDB uses too
)

// DB is the mirror database.
type DB struct {
	Bun *bun.DB
	// Reads serves the mirror's reads: Bun itself on PostgreSQL; on SQLite
	// a pool of its own, since the writer's one connection would queue a
	// request's concurrent reads (a list's count beside its labels) one
	// behind the other and behind every write. In WAL mode readers do not
	// block the writer, and each sees every transaction committed before it
	// began.
	Reads *bun.DB
	// Where says where the mirror lives, for logs: a host or a file.
	Where string
}

// Open prepares a PostgreSQL connection pool. Like the MongoDB driver it
// connects lazily: Open succeeds while PostgreSQL is down.
//
// Queries go by the simple protocol, one message each, unless the DSN says
// otherwise (default_query_exec_mode): Bun writes every value into the SQL
// text, so no two upserts have the same text, and pgx's default (prepare
// and cache each text) cost every query that returns rows a round trip and
// a parse more, for statements never used again.
func Open(dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(16)
	sqldb.SetMaxIdleConns(8)
	b := bun.NewDB(sqldb, pgdialect.New())
	return &DB{Bun: b, Reads: b, Where: redact(dsn)}, nil
}

// OpenSQLite opens (creating if needed) the embedded mirror file.
func OpenSQLite(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("postgres: sqlite dir: %w", err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open sqlite: %w", err)
	}
	// One writer at a time is what SQLite allows anyway; a single connection
	// turns lock contention into queueing instead of SQLITE_BUSY errors.
	sqldb.SetMaxOpenConns(1)
	readdb, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("postgres: open sqlite: %w", err)
	}
	readdb.SetMaxOpenConns(sqliteReaders)
	readdb.SetMaxIdleConns(sqliteReaders)
	return &DB{Bun: bun.NewDB(sqldb, sqlitedialect.New()), Reads: bun.NewDB(readdb, sqlitedialect.New()), Where: path}, nil
}

// sqliteReaders is how many reads of the embedded mirror run at once: the
// machine's cores are few, and each read holds one while it runs.
const sqliteReaders = 4

// Close closes the pool.
func (db *DB) Close() error {
	err := db.Bun.Close()
	if db.Reads != db.Bun {
		err = errors.Join(err, db.Reads.Close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.Bun.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Dialect names the SQL dialect in use ("pg" or "sqlite").
func (db *DB) Dialect() string { return db.Bun.Dialect().Name().String() }

// migrateLockKey is the advisory-lock key that serialises migrations across
// instances starting at once ("todomigr" in ASCII).
const migrateLockKey int64 = 0x746f646f6d696772

// MigrateDSN opens the PostgreSQL database at dsn, migrates it and closes
// it: the preparation of the tests' migrated template database, one for
// every package that copies it.
func MigrateDSN(ctx context.Context, dsn string) error {
	db, err := Open(dsn)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	_, err = db.Migrate(ctx)
	return err
}

// Migrate applies the migrations not yet applied and returns their names.
// Running it again applies nothing.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	m := migrate.NewMigrator(db.Bun, migrations(), migrate.WithMarkAppliedOnSuccess(true))
	unlock, err := db.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("postgres: migrations init: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	var names []string
	for _, mig := range group.Migrations {
		names = append(names, mig.String())
	}
	return names, nil
}

// lock takes a session advisory lock on PostgreSQL, which, unlike bun's
// lock table, is released by the server if this process dies. SQLite needs
// none: one process owns the file.
func (db *DB) lock(ctx context.Context) (func(), error) {
	if db.Bun.Dialect().Name() != dialect.PG {
		return func() {}, nil
	}
	conn, err := db.Bun.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrateLockKey); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	return func() {
		// A fresh context: the unlock must happen even if ctx is done.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", migrateLockKey)
		_ = conn.Close()
	}, nil
}

// redact drops the password from a DSN for logging.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const localPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// startPostgres finds a PostgreSQL server; it runs once per test binary.
func (h *harness) startPostgres() {
	if dsn := os.Getenv("TEST_POSTGRES_DSN"); dsn != "" {
		// An explicit choice that does not work is an error to report, not a cue to quietly test
		// against some other server.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ping(ctx, dsn); err != nil {
			h.pgErr = fmt.Errorf("TEST_POSTGRES_DSN does not answer (fix it, or unset it to use the local "+
				"server or a throwaway cluster): %w", err)
			return
		}
		h.pgDSN = dsn
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	localErr := ping(ctx, localPostgresDSN)
	cancel()
	if localErr == nil {
		h.pgDSN = localPostgresDSN
		return
	}

	root, err := os.MkdirTemp("", "testenv-pg-")
	if err != nil {
		h.pgErr = fmt.Errorf("creating a directory for a throwaway cluster: %w", err)
		return
	}
	ctx, cancel = context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	c, err := startCluster(ctx, root)
	if err != nil {
		_ = os.RemoveAll(root)
		h.pgErr = fmt.Errorf("TEST_POSTGRES_DSN is not set; the local server (%s) does not answer (%w); "+
			"and starting a throwaway cluster failed (%w). Start a server (e.g. apt-get install postgresql "+
			"&& pg_ctlcluster 15 main start), install PostgreSQL server binaries for the throwaway cluster "+
			"(apt-get install postgresql), or set TEST_POSTGRES_DSN", localPostgresDSN, localErr, err)
		return
	}
	h.pgCluster = c
	h.pgDSN = c.dsn
}

// cluster is a throwaway PostgreSQL cluster; its DSN points at its postgres database.
type cluster struct {
	dsn    string
	pgCtl  string
	data   string
	root   string
	asUser bool // run the binaries as the postgres OS user
}

// startCluster initdbs and starts a cluster in root, which must be an empty directory that the postgres
// OS user can reach (under os.TempDir, not under /root). Durability is switched off because test data
// is thrown away and fsync dominates the cost of small transactions.
func startCluster(ctx context.Context, root string) (*cluster, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	c := &cluster{pgCtl: filepath.Join(bin, "pg_ctl"), data: filepath.Join(root, "data"), root: root}
	// initdb, pg_ctl and postgres refuse to run as root.
	if os.Geteuid() == 0 {
		c.asUser = true
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres OS user for initdb: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(root, uid, gid); err != nil {
			return nil, fmt.Errorf("handing %s to the postgres user: %w", root, err)
		}
	}
	if out, err := c.run(ctx, filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	// The port is free when we look but could be taken before postgres binds it: retry with another.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off "+
			"-c synchronous_commit=off -c full_page_writes=off", port, root)
		out, err := c.run(ctx, c.pgCtl, "-D", c.data, "-l", filepath.Join(root, "postgres.log"), "-w",
			"-t", "60", "-o", opts, "start")
		if err == nil {
			c.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			if err := ping(ctx, c.dsn); err != nil {
				_ = c.stop(ctx)
				return nil, fmt.Errorf("cluster started but does not answer: %w", err)
			}
			return c, nil
		}
		log, _ := os.ReadFile(filepath.Join(root, "postgres.log"))
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil, lastErr
}

// stop shuts the cluster down without a checkpoint (its data is about to be deleted) and removes it.
func (c *cluster) stop(ctx context.Context) error {
	var errs []error
	if out, err := c.run(ctx, c.pgCtl, "-D", c.data, "-m", "immediate", "-w", "stop"); err != nil {
		errs = append(errs, fmt.Errorf("pg_ctl stop: %w\n%s", err, out))
	}
	if err := os.RemoveAll(c.root); err != nil {
		errs = append(errs, fmt.Errorf("removing the cluster: %w", err))
	}
	return errors.Join(errs...)
}

func (c *cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if c.asUser {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// The postgres user may not be able to enter the test's working directory, which initdb minds.
	cmd.Dir = c.root
	// postgres, forked by pg_ctl, must not hold our output pipe open or we would wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// postgresBinDir returns the bin directory of the newest installed PostgreSQL (Debian layout).
func postgresBinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
	}
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ping(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	return conn.Ping(ctx)
}

// createDatabase creates database name, as a copy of template unless that is "".
func createDatabase(ctx context.Context, server, name, template string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL to create database %s: %w", name, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("creating PostgreSQL database %s: %w", name, err)
	}
	return nil
}

// closeToConnections makes database name refuse connections and ends those it has, so that it can
// serve as a template: autovacuum leaves such a database alone too.
func closeToConnections(ctx context.Context, server, name string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL to close database %s: %w", name, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("closing PostgreSQL database %s to connections: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		return fmt.Errorf("ending the connections to PostgreSQL database %s: %w", name, err)
	}
	return nil
}

// dropDatabase drops a database even while clients are still connected to it: a test that leaks a
// connection should not also leak its database.
func dropDatabase(ctx context.Context, server, name string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL to drop database %s: %w", name, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	ident := pgx.Identifier{name}.Sanitize()
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42601" { // syntax error: WITH (FORCE) needs PG 13
		_, _ = conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
	}
	if err != nil {
		return fmt.Errorf("dropping PostgreSQL database %s: %w", name, err)
	}
	return nil
}

// withParam returns dsn with the setting key=value, in either DSN syntax pgx accepts.
func withParam(dsn, key, value string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parsing PostgreSQL DSN: %w", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withDatabase returns server's DSN pointed at database name, in either DSN syntax pgx accepts.
func withDatabase(server, name string) (string, error) {
	if !strings.HasPrefix(server, "postgres://") && !strings.HasPrefix(server, "postgresql://") {
		// In keyword/value form the last setting wins.
		return server + " dbname=" + name, nil
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("parsing PostgreSQL DSN: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

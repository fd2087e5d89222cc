// Command bench measures the service against real servers (SPEC §7): the
// task list query, createTask and updateTask at 1 and 8 concurrent clients
// with dual-write off, sync and async, and a raw-driver baseline doing the
// list's reads. FerretDB runs in a process of its own (this binary, re-run as
// `bench ferretdb`), so the server's CPU time and memory are its own.
//
//	go run ./cmd/bench -duration 10s        # or: make bench
//
// It needs a PostgreSQL it may create databases on (-pg), which backs both
// FerretDB and the mirror, and writes a Markdown report to stdout.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ferretdb" {
		if err := serveFerret(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench ferretdb:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type benchOptions struct {
	pg       string
	duration time.Duration
	clients  []int
	modes    []string
	tasks    int
	// hostile adds the attacked run of issue 9 (with the first mode).
	hostile bool
	// hostileDuration is each hostile run's: the list does about 2 req/s
	// there, so a p99 needs more of them than one case's duration gives.
	hostileDuration time.Duration
	// sizes are the data sizes of the sweep, on each of sweeps (embedded,
	// ferretdb).
	sizes  []int
	sweeps []string
	// before is a git revision whose embedded default is swept too, at
	// the first size: the "no slower than before" baseline, in this run.
	before string
}

func ints(flagName, list string) ([]int, error) {
	var out []int
	for _, c := range strings.Split(list, ",") {
		if c == "" {
			continue
		}
		n, err := strconv.Atoi(c)
		if err != nil {
			return nil, fmt.Errorf("-%s: %w", flagName, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func run() error {
	var o benchOptions
	var clients, modes, sizes, sweeps string
	flag.StringVar(&o.pg, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL admin DSN")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "length of each measurement")
	flag.StringVar(&clients, "clients", "1,8", "concurrent clients")
	flag.StringVar(&modes, "modes", "none,off,sync,async", "dual-write modes; the first is the baseline of the ratios and gets the raw-driver baselines; empty: only the sweeps")
	flag.IntVar(&o.tasks, "tasks", 120, "tasks seeded for the list query")
	flag.BoolVar(&o.hostile, "hostile", true, "also measure 8 clients while a ninth sends hostile requests")
	flag.DurationVar(&o.hostileDuration, "hostile-duration", 30*time.Second, "length of each hostile measurement, in 5 slices taking turns with the others")
	flag.StringVar(&sizes, "sizes", "100,500,2000,5000", "task counts of the data-size sweep")
	flag.StringVar(&sweeps, "sweeps", "embedded,ferretdb", "setups the sweep runs on: embedded (the default `go run ./cmd/todo`), ferretdb (FerretDB on PostgreSQL, sync dual-write); empty: none")
	flag.StringVar(&o.before, "before", "d465e23", "git revision whose embedded default is also measured at the sweep's first size, as the baseline of \"no slower than before\" (main when issue 13 was filed); empty: none")
	flag.Parse()
	var err error
	if o.clients, err = ints("clients", clients); err != nil {
		return err
	}
	if o.sizes, err = ints("sizes", sizes); err != nil {
		return err
	}
	if modes != "" {
		o.modes = strings.Split(modes, ",")
	}
	if sweeps != "" {
		o.sweeps = strings.Split(sweeps, ",")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "todo-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "todo")
	fmt.Fprintln(os.Stderr, "building the server…")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/todo").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	commit := "unknown"
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	dbs := newDatabases(o.pg)
	defer dbs.dropAll()
	ferretDB, err := dbs.create(ctx, "ferret")
	if err != nil {
		return err
	}
	ferret, err := startFerret(ctx, ferretDB)
	if err != nil {
		return err
	}
	defer ferret.stop()

	rep := &runReport{o: o, commit: commit}
	// Every mode's server runs at once, seeded alike, and the modes take
	// turns in slices of each measurement: the machine's speed drifts over
	// minutes (on this VM the same mode measured 99 and 194 req/s in two
	// runs), and one mode after the other put that drift into the ratios.
	var runs []*modeRun
	defer func() {
		for _, m := range runs {
			m.stop()
		}
	}()
	for i, mode := range o.modes {
		mirrorDB, err := dbs.create(ctx, "mirror_"+mode)
		if err != nil {
			return err
		}
		m := &modeRun{mode: mode, dbName: fmt.Sprintf("bench_%d_%s", os.Getpid(), mode), mirrorDB: mirrorDB}
		if m.srv, err = startServer(ctx, bin, dir, ferret.uri, m.dbName, mirrorDB, mode); err != nil {
			return err
		}
		runs = append(runs, m)
		if i == 0 {
			m.raw = &rawTarget{uri: ferret.uri, dbName: m.dbName}
		}
		if m.f, err = seed(ctx, m.srv, mode, o, m.raw); err != nil {
			return err
		}
	}
	if len(runs) > 0 {
		rep.results = append(rep.results, interleave(ctx, runs, ferret, o)...)
	}
	for i, m := range runs {
		ts, err := modeTrips(ctx, m)
		if err != nil {
			return err
		}
		rep.trips = append(rep.trips, ts...)
		m.stop()
		rep.memory = append(rep.memory, memory{setup: "FerretDB-PostgreSQL, dual-write " + m.mode, peak: m.hwm, limit: 100 << 20})
		if i == 0 && o.hostile {
			// On the same data, a server with budgets off (the worst case),
			// then one with the default budgets.
			for j, budgets := range []string{"off", "on"} {
				var extra []string
				if budgets == "on" {
					extra = []string{"REQUEST_RATE=20", "REQUEST_BURST=60", "REQUEST_CONCURRENCY=4"}
				}
				hs, err := startServer(ctx, bin, dir, ferret.uri, m.dbName, m.mirrorDB, m.mode, extra...)
				if err != nil {
					return err
				}
				rs, err := measureHostile(ctx, hs, o, budgets, j == 0)
				hs.stop()
				if err != nil {
					return err
				}
				rep.results = append(rep.results, rs...)
			}
		}
	}
	for _, name := range o.sweeps {
		// The sweep measures the slow reads on purpose: MongoDB-served lists
		// of thousands of tasks take seconds, more than the default 10 s on
		// a slow machine, and a timed-out request would end the run.
		sp := serverSpec{mode: "sync", dataDir: filepath.Join(dir, "sweep-"+name), env: []string{"REQUEST_TIMEOUT=60"}}
		limit := int64(100 << 20)
		switch name {
		case "embedded":
			sp.embedded, limit = true, 200<<20
		case "ferretdb":
			mirrorDB, err := dbs.create(ctx, "mirror_sweep")
			if err != nil {
				return err
			}
			sp.mongoURI, sp.dbName, sp.mirrorDSN = ferret.uri, fmt.Sprintf("bench_%d_sweep", os.Getpid()), mirrorDB
		default:
			return fmt.Errorf("-sweeps: unknown setup %q", name)
		}
		rows, hwm, err := sweep(ctx, bin, name, sp, o.sizes, sweepReads)
		if err != nil {
			return err
		}
		rep.sweep = append(rep.sweep, rows...)
		rep.memory = append(rep.memory, memory{setup: name + " sweep to " + strconv.Itoa(o.sizes[len(o.sizes)-1]) + " tasks", peak: hwm, limit: limit})
	}
	if o.before != "" && slices.Contains(o.sweeps, "embedded") && len(o.sizes) > 0 {
		beforeBin, err := buildAt(ctx, o.before, dir)
		if err != nil {
			return err
		}
		sp := serverSpec{mode: "sync", embedded: true, dataDir: filepath.Join(dir, "sweep-before")}
		rows, _, err := sweep(ctx, beforeBin, "embedded@"+o.before, sp, o.sizes[:1], sweepReads[:1]) // it has no read flags
		if err != nil {
			return err
		}
		rep.sweep = append(rep.sweep, rows...)
	}
	rep.write(os.Stdout)
	return nil
}

// buildAt builds cmd/todo as it was at rev, from the repository's own
// history (git archive: no worktree left behind), into dir.
func buildAt(ctx context.Context, rev, dir string) (string, error) {
	src := filepath.Join(dir, "src-"+rev)
	if err := os.MkdirAll(src, 0o750); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "building the server at %s…\n", rev)
	archive := exec.CommandContext(ctx, "sh", "-c", `git archive "$1" | tar -x -C "$2"`, "sh", rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Errorf("git archive %s: %w\n%s", rev, err, out)
	}
	bin := filepath.Join(dir, "todo-"+rev)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/todo")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build at %s: %w\n%s", rev, err, out)
	}
	return bin, nil
}

type result struct {
	op, mode string
	clients  int
	n        int
	errors   int
	rate     float64
	p50, p99 time.Duration
	// cpu is the server's (or, for the baseline, this process's) CPU time
	// per request.
	cpu time.Duration
	// machine is the whole machine's busy CPU time per request (server,
	// FerretDB, PostgreSQL and this client): with every core busy, what a
	// request costs in all decides the rate. ferret is FerretDB's share.
	machine, ferret time.Duration
	// lat and wall are the sorted latencies and the time they took, for
	// merging slices of one measurement.
	lat  []time.Duration
	wall time.Duration
}

// load runs fn from c clients for d and measures it; cpu reads the CPU
// time of the process doing the work.
func load(ctx context.Context, op, mode string, c int, d time.Duration, cpu func() time.Duration, fn func(client, i int) error) result {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	cpu0, m0 := cpu(), machineBusy()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for k := range c {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t := time.Now()
				err := fn(k, i)
				el := time.Since(t)
				mu.Lock()
				if err != nil {
					errs++
					if errs <= 3 {
						fmt.Fprintf(os.Stderr, "  %s: %v\n", op, err)
					}
				} else {
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	used, mused := cpu()-cpu0, machineBusy()-m0
	slices.Sort(lat)
	r := result{op: op, mode: mode, clients: c, n: len(lat), errors: errs, rate: float64(len(lat)) / wall.Seconds(), lat: lat, wall: wall}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		r.cpu = used / time.Duration(len(lat))
		r.machine = mused / time.Duration(len(lat))
	}
	fmt.Fprintf(os.Stderr, "  %-10s %-5s c=%d  %7.1f req/s  p50 %v  p99 %v  cpu/req %v  machine/req %v  errors %d\n",
		op, mode, c, r.rate, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.cpu.Round(10*time.Microsecond), r.machine.Round(10*time.Microsecond), errs)
	return r
}

// databases creates and drops the PostgreSQL databases of a run.
type databases struct {
	admin   string
	created []string
}

func newDatabases(admin string) *databases { return &databases{admin: admin} }

func (d *databases) create(ctx context.Context, suffix string) (string, error) {
	name := fmt.Sprintf("todo_bench_%d_%s", os.Getpid(), suffix)
	if err := psql(ctx, d.admin, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	d.created = append(d.created, name)
	u, err := url.Parse(d.admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func (d *databases) dropAll() {
	for _, name := range d.created {
		_ = psql(context.Background(), d.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}

// psql runs one statement with the psql client, to keep this tool free of
// a second PostgreSQL driver setup.
func psql(ctx context.Context, dsn, stmt string) error {
	out, err := exec.CommandContext(ctx, "psql", dsn, "-qc", stmt).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %w: %s", stmt, err, out)
	}
	return nil
}

// process is a child process of the run.
type process struct {
	cmd  *exec.Cmd
	uri  string
	base string
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	}
}

// cpuTime is the process's user+system CPU time, from /proc.
func (p *process) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces: utime is the
	// 14th field, stime the 15th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // clock ticks: 100 Hz on Linux
}

// machineBusy is the CPU time every core of the machine spent busy (not
// idle, waiting for I/O or stolen by the hypervisor), from the first line
// of /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	var busy int64
	for i, v := range f[1:min(len(f), 9)] {
		if i == 3 || i == 4 || i == 7 {
			continue // idle, iowait, steal
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / 100 // clock ticks: 100 Hz on Linux
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func (p *process) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func startFerret(ctx context.Context, pgURL string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "ferretdb", "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-pg", pgURL)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, uri: fmt.Sprintf("mongodb://127.0.0.1:%d/", port)}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = c.Close()
			return p, nil
		}
	}
	p.stop()
	return nil, errors.New("FerretDB did not start")
}

// serverSpec is how one server process of the run is started.
type serverSpec struct {
	// mode is the dual-write mode: none (no mirror engine at all, the
	// baseline), off, sync or async.
	mode string
	// embedded runs the default `go run ./cmd/todo` setup: FerretDB on
	// SQLite and the SQLite mirror, both in the server's process (its CPU
	// and memory include them). Otherwise mongoURI, dbName and mirrorDSN
	// name the external stores.
	embedded                    bool
	mongoURI, dbName, mirrorDSN string
	dataDir                     string
	env                         []string
}

func startServer(ctx context.Context, bin, dir, mongoURI, dbName, mirrorDSN, mode string, extraEnv ...string) (*process, error) {
	return start(ctx, bin, serverSpec{mode: mode, mongoURI: mongoURI, dbName: dbName, mirrorDSN: mirrorDSN,
		dataDir: filepath.Join(dir, "data-"+mode), env: extraEnv})
}

// modeEnv is the configuration of a dual-write mode.
func modeEnv(mode string) []string {
	switch mode {
	case "none":
		return []string{"BENCH_NO_MIRROR=true"}
	case "off":
		return []string{"DUAL_WRITE_ENABLED=false"}
	case "async":
		return []string{"DUAL_WRITE_ENABLED=true", "DUAL_WRITE_SYNC_MODE=async"}
	default:
		return []string{"DUAL_WRITE_ENABLED=true", "DUAL_WRITE_SYNC_MODE=sync"}
	}
}

func start(ctx context.Context, bin string, sp serverSpec) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	// The stores come from the spec alone, never from the caller's
	// environment.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MONGODB_") && !strings.HasPrefix(kv, "POSTGRES_") && !strings.HasPrefix(kv, "DUAL_WRITE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ENV=development", "PORT="+strconv.Itoa(port), "DATA_DIR="+sp.dataDir,
		"AUTH_DEV_LOGIN=true", "GOOGLE_OAUTH_CLIENT_ID=", "DUAL_WRITE_RETRY_DELAY=1", "ADMIN_EMAILS="+benchAdmin,
		// The clients are one user each, as fast as they go: budgets and
		// turns per client off (one request's own turns stay).
		"REQUEST_RATE=0", "REQUEST_CONCURRENCY=0")
	if !sp.embedded {
		cmd.Env = append(cmd.Env, "MONGODB_URI="+sp.mongoURI, "DB_NAME="+sp.dbName, "POSTGRES_DSN="+sp.mirrorDSN)
	}
	cmd.Env = append(cmd.Env, modeEnv(sp.mode)...)
	cmd.Env = append(cmd.Env, sp.env...) // the last of a duplicate key wins
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(p.base + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.stop()
	return nil, errors.New("the server did not become healthy")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// client talks GraphQL to a server with a Bearer token.
type client struct {
	base, token string
	// id is the signed-in user's.
	id   string
	http *http.Client
}

func (c *client) do(query string, vars map[string]any, into any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return errors.New(out.Errors[0].Message)
	}
	if into != nil {
		return json.Unmarshal(out.Data, into)
	}
	return nil
}

func login(base, email string) (*client, error) {
	resp, err := http.Post(base+"/v1/auth/dev/login", "application/json", strings.NewReader(`{"email":"`+email+`"}`))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b struct {
		AccessToken string
		User        struct{ ID string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || b.AccessToken == "" || b.User.ID == "" {
		return nil, fmt.Errorf("dev login: HTTP %d: %w", resp.StatusCode, err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	return &client{base: base, token: b.AccessToken, id: b.User.ID, http: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

// benchAdmin flips the read sources in the sweep (setReadSource).
const benchAdmin = "admin@bench.test"

// benchUsers signs in the bench's two users: the viewer, whose tasks the
// list reads, and the creator, whose load writes tasks for another user.
func benchUsers(base string) (viewer, creator *client, err error) {
	if viewer, err = login(base, "viewer@bench.test"); err != nil {
		return nil, nil, err
	}
	if creator, err = login(base, "creator@bench.test"); err != nil {
		return nil, nil, err
	}
	return viewer, creator, nil
}

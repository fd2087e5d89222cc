package main

// Issue 11, point 8: health tells the truth about writes. A MongoDB that
// answers pings but refuses writes fails every mutation and sign-in; health
// must say so, with the reason, within seconds, and say UP again once
// writes work. Two real faults: DATA_DIR on a tiny tmpfs that the test
// fills (the embedded FerretDB's SQLite then answers "database or disk is
// full"), and a MongoDB-wire proxy that answers every write command with
// an error. Where no tmpfs can be mounted (an unprivileged CI), the disk
// test runs on the proxy, answering what FerretDB answers on a full disk:
// it never skips.

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/internal/testenv"
)

// FerretDB's answer to a write on a full disk, source locations and all
// (health shows it without them).
const (
	diskFullName = "InternalError"
	diskFullMsg  = "[msg_update.go:133 handler.(*Handler).updateDocument] [db.go:167 fsql.(*DB).InTransaction] database or disk is full (13)"
	diskFullSaid = "writes failing: (InternalError) database or disk is full (13)"
)

func TestHealthTellsOfFailingWrites(t *testing.T) {
	t.Run("MongoDB refuses writes", func(t *testing.T) {
		p := refusingProxy(t, 14031, "OutOfDiskSpace", "Server has insufficient disk space")
		checkWritesFault(t, writeFault{env: p.env(t), start: p.refuse, end: p.accept,
			want: "writes failing: (OutOfDiskSpace) Server has insufficient disk space"})
	})
	t.Run("DATA_DIR full", func(t *testing.T) {
		dir, err := tinyDisk(t)
		if err != nil {
			t.Logf("no tmpfs for DATA_DIR (%v): FerretDB's answer on a full disk comes from the wire proxy", err)
			p := refusingProxy(t, 1, diskFullName, diskFullMsg)
			checkWritesFault(t, writeFault{env: p.env(t), start: p.refuse, end: p.accept, want: diskFullSaid})
			return
		}
		filler := filepath.Join(dir, "filler")
		checkWritesFault(t, writeFault{
			env:   map[string]string{"DATA_DIR": dir, "WRITER_LEASE_TTL": "10", "REQUEST_RATE": "0"},
			start: func(t *testing.T) { fill(t, filler) },
			end: func(t *testing.T) {
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
			},
			want: diskFullSaid,
		})
	})
}

// writeFault makes the writes of a `todo serve` configured by env fail
// (start) and work again (end); want is what health's db error says
// meanwhile.
type writeFault struct {
	env        map[string]string
	start, end func(t *testing.T)
	want       string
}

type healthAnswer struct {
	Status     string
	Components map[string]struct{ Status, Error string }
}

func (s *process) health(t *testing.T) (int, healthAnswer) {
	t.Helper()
	var h healthAnswer
	code := s.getJSON(t, "/v1/health", &h)
	return code, h
}

// healthUntil polls health until ok says it is the one awaited.
func (s *process) healthUntil(t *testing.T, within time.Duration, what string, ok func(int, healthAnswer) bool) (int, healthAnswer) {
	t.Helper()
	var code int
	var h healthAnswer
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, h = s.health(t); ok(code, h) {
			return code, h
		}
	}
	t.Fatalf("health within %v: got %d %+v, want %s\n%s", within, code, h, what, s.log)
	return 0, healthAnswer{}
}

func up(code int, h healthAnswer) bool {
	return code == http.StatusOK && h.Status == "UP" && h.Components["db"].Status == "UP" && h.Components["db"].Error == ""
}

const createTitled = `mutation($t:String!){createTask(input:{title:$t}){id}}`

func checkWritesFault(t *testing.T, f writeFault) {
	s := startServe(t, f.env)
	s.healthUntil(t, 20*time.Second, "200 UP", up)
	s.devLogin(t, "writer@example.com")
	if _, err := gql(s.base, s.token, createTitled, map[string]any{"t": "before"}); err != nil {
		t.Fatalf("createTask before the fault: %v", err)
	}

	f.start(t)
	// The probe writes every 2s and health keeps an answer for 1s.
	start := time.Now()
	code, h := s.healthUntil(t, 5*time.Second, "not UP", func(code int, h healthAnswer) bool { return h.Status != "UP" })
	t.Logf("health %v after the fault: %d %+v", time.Since(start).Round(100*time.Millisecond), code, h)
	if db := h.Components["db"]; code != http.StatusOK || h.Status != "DEGRADED" || db.Status != "DEGRADED" || db.Error != f.want {
		t.Errorf("health while writes fail: got %d %s db %+v, want 200 DEGRADED db DEGRADED %q", code, h.Status, db, f.want)
	}
	if _, err := gql(s.base, s.token, createTitled, map[string]any{"t": "during"}); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("createTask while writes fail: got %v, want an internal error", err)
	}
	// Reads still work: why DEGRADED answers 200.
	if _, err := gql(s.base, s.token, `{labels(first:1){totalCount}}`, nil); err != nil {
		t.Errorf("labels while writes fail: got %v, want an answer", err)
	}
	if strings.Contains(s.log.String(), "primary is FerretDB") {
		// The single-writer lease cannot be renewed either: once it lapses
		// (within WRITER_LEASE_TTL=10s), this instance may not write at
		// all and its ping fails: DOWN, with the writes' reason still.
		code, h = s.healthUntil(t, 12*time.Second, "503 DOWN", func(code int, h healthAnswer) bool { return code != http.StatusOK })
		t.Logf("health %v after the fault: %d %+v", time.Since(start).Round(100*time.Millisecond), code, h)
		if db := h.Components["db"]; code != http.StatusServiceUnavailable || h.Status != "DOWN" || db.Status != "DOWN" || db.Error != f.want {
			t.Errorf("health once the lease lapsed: got %d %s db %+v, want 503 DOWN db DOWN %q", code, h.Status, db, f.want)
		}
	}
	if !strings.Contains(s.log.String(), `"msg":"mongodb writes failing"`) {
		t.Errorf("log does not say writes fail:\n%s", s.log)
	}

	f.end(t)
	start = time.Now()
	s.healthUntil(t, 10*time.Second, "200 UP again", up)
	t.Logf("health UP %v after the fault ended", time.Since(start).Round(100*time.Millisecond))
	if _, err := gql(s.base, s.token, createTitled, map[string]any{"t": "after"}); err != nil {
		t.Errorf("createTask after the fault: %v", err)
	}
	s.waitLog(t, `"msg":"mongodb writes work again"`)
}

// tinyDisk mounts a 16 MiB tmpfs for DATA_DIR, or says why it cannot.
func tinyDisk(t *testing.T) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if said := strings.TrimSpace(string(out)); said != "" {
			return "", errors.New(said)
		}
		return "", err
	}
	// Registered after TempDir's clean-up, so it runs before it (and after
	// the server stopped, registered later still).
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir, nil
}

// fill writes path until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// writeProxy forwards MongoDB wire-protocol connections to the harness's
// server; while refusing, it answers every write command itself with a
// command error, as a server that cannot write does.
type writeProxy struct {
	addr, target string
	refusing     atomic.Bool
	reply        []byte // the refusal's BSON body
	mu           sync.Mutex
	conns        map[net.Conn]struct{}
	wg           sync.WaitGroup
}

func refusingProxy(t *testing.T, code int32, name, msg string) *writeProxy {
	t.Helper()
	u, err := url.Parse(testenv.MongoURI(t))
	if err != nil || u.Scheme != "mongodb" || strings.Contains(u.Host, ",") {
		t.Fatalf("the write proxy needs a mongodb:// URI with one host, got %q", testenv.MongoURI(t))
	}
	reply, err := bson.Marshal(bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: msg},
		{Key: "code", Value: code}, {Key: "codeName", Value: name}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &writeProxy{addr: ln.Addr().String(), target: u.Host, reply: reply, conns: map[net.Conn]struct{}{}}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *writeProxy) refuse(*testing.T) { p.refusing.Store(true) }
func (p *writeProxy) accept(*testing.T) { p.refusing.Store(false) }

// env configures serve on the proxy (a direct connection, so a replica
// set's members are not reached around it) and the harness's PostgreSQL.
func (p *writeProxy) env(t *testing.T) map[string]string {
	u, _ := url.Parse(testenv.MongoURI(t))
	u.Host = p.addr
	q := u.Query()
	q.Del("replicaSet")
	q.Set("directConnection", "true")
	u.RawQuery = q.Encode()
	return map[string]string{"DATA_DIR": t.TempDir(), "MONGODB_URI": u.String(), "DB_NAME": testenv.MongoDatabase(t),
		"POSTGRES_DSN": testenv.PostgresDSN(t), "WRITER_LEASE_TTL": "10", "REQUEST_RATE": "0"}
}

func (p *writeProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *writeProxy) drop(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// pipe relays whole messages both ways; the server's answers and the
// proxy's refusals share the client connection, one message at a time.
func (p *writeProxy) pipe(client net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	p.track(client, up)
	defer p.drop(client, up)
	var toClient sync.Mutex
	send := func(msg []byte) error {
		toClient.Lock()
		defer toClient.Unlock()
		_, err := client.Write(msg)
		return err
	}
	p.wg.Go(func() {
		defer p.drop(client, up)
		for {
			msg, err := readMessage(up)
			if err != nil || send(msg) != nil {
				return
			}
		}
	})
	for {
		msg, err := readMessage(client)
		if err != nil {
			return
		}
		if p.refusing.Load() && isWrite(msg) {
			if send(p.refusal(msg)) != nil {
				return
			}
			continue
		}
		if _, err := up.Write(msg); err != nil {
			return
		}
	}
}

// refusal is an OP_MSG answering req with the refusal.
func (p *writeProxy) refusal(req []byte) []byte {
	const opMsg = 2013
	out := make([]byte, 21, 21+len(p.reply))
	binary.LittleEndian.PutUint32(out[8:], binary.LittleEndian.Uint32(req[4:8])) // responseTo
	binary.LittleEndian.PutUint32(out[12:], opMsg)
	out = append(out, p.reply...) // flags 0, then a kind-0 section: the body
	binary.LittleEndian.PutUint32(out[0:], uint32(len(out)))
	return out
}

// readMessage reads one wire message: a little-endian length that counts
// itself, then the rest.
func readMessage(r io.Reader) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(head[:]))
	if n < 16 || n > 48<<20 {
		return nil, errors.New("wire message of a bad length")
	}
	msg := make([]byte, n)
	copy(msg, head[:])
	_, err := io.ReadFull(r, msg[4:])
	return msg, err
}

// isWrite tells an OP_MSG whose command (the first key of its body, a
// kind-0 section) writes.
func isWrite(msg []byte) bool {
	const opMsg = 2013
	if len(msg) < 21 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg {
		return false
	}
	for i := 20; i+5 <= len(msg); {
		kind, size := msg[i], int(binary.LittleEndian.Uint32(msg[i+1:]))
		if size < 5 || i+1+size > len(msg) {
			return false
		}
		if kind == 0 {
			e, err := bson.Raw(msg[i+1 : i+1+size]).IndexErr(0)
			if err != nil {
				return false
			}
			switch e.Key() {
			case "insert", "update", "delete", "findAndModify":
				return true
			}
			return false
		}
		i += 1 + size // a kind-1 section: its size counts itself
	}
	return false
}

package server_test

// Idempotency-Key (SPEC §3, issue 10): a mutation retried with the same key
// runs once. The faults are real: the service reaches its MongoDB-wire
// server through a proxy that reads each command and, when the test says
// so, cuts the connection a command came on (the driver gets a network
// error and the server never sees the command) or holds the command until
// the test lets it go.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/storage/mongo"
)

// wireProxy forwards MongoDB wire-protocol connections and looks at every
// command a client sends.
type wireProxy struct {
	t      *testing.T
	addr   string
	target string
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	rules  []*wireRule
	conns  map[net.Conn]struct{}
}

// wireRule catches a command (its name, such as "insert", and collection).
type wireRule struct {
	command, coll string
	hits          atomic.Int64
	// hold: the first command caught waits until release is closed, and
	// the rule goes; otherwise every command caught cuts its connection.
	hold    bool
	held    chan struct{}
	release chan struct{}
}

// newWireProxy listens on a loopback port; via points it at a server.
func newWireProxy(t *testing.T) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{t: t, addr: ln.Addr().String(), done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(p.done)
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

// via takes the server's URI and returns one that reaches it through the
// proxy (a direct connection: a replica set's members would be reached
// around it).
func (p *wireProxy) via(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "mongodb" || strings.Contains(u.Host, ",") {
		// A fault that cannot be staged is a failure, never a skip: point
		// TEST_MONGODB_URI at one host to run these tests on it.
		p.t.Fatalf("the fault proxy needs a mongodb:// URI with one host, got %q", uri)
	}
	p.mu.Lock()
	p.target = u.Host
	p.mu.Unlock()
	u.Host = p.addr
	q := u.Query()
	q.Del("replicaSet")
	q.Set("directConnection", "true")
	u.RawQuery = q.Encode()
	return u.String()
}

// cut makes every command of that name on coll cut its connection, until
// stop; hits counts them.
func (p *wireProxy) cut(command, coll string) (hits func() int64, stop func()) {
	r := &wireRule{command: command, coll: coll}
	p.add(r)
	return r.hits.Load, func() { p.remove(r) }
}

// hold makes the next command of that name on coll wait until release;
// held is closed when it arrives.
func (p *wireProxy) hold(command, coll string) (held <-chan struct{}, release func()) {
	r := &wireRule{command: command, coll: coll, hold: true, held: make(chan struct{}), release: make(chan struct{})}
	p.add(r)
	var once sync.Once
	return r.held, func() { once.Do(func() { p.remove(r); close(r.release) }) }
}

func (p *wireProxy) add(r *wireRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
}

func (p *wireProxy) remove(r *wireRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.rules {
		if x == r {
			p.rules = append(p.rules[:i], p.rules[i+1:]...)
			return
		}
	}
}

// match finds the rule that catches a message; a hold rule catches once.
func (p *wireProxy) match(msg []byte) *wireRule {
	command, coll := commandOf(msg)
	if command == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.rules {
		if r.command == command && r.coll == coll {
			r.hits.Add(1)
			if r.hold {
				p.rules = append(p.rules[:i], p.rules[i+1:]...)
			}
			return r
		}
	}
	return nil
}

func (p *wireProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *wireProxy) drop(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// pipe copies the server's answers back as they come and the client's
// messages one at a time, each looked at before it is sent on.
func (p *wireProxy) pipe(client net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	p.track(client, up)
	defer p.drop(client, up)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(client, up)
		p.drop(client, up)
	}()
	for {
		msg, err := readWireMessage(client)
		if err != nil {
			return
		}
		if r := p.match(msg); r != nil {
			if !r.hold {
				return // cut: the deferred drop closes both sides
			}
			close(r.held)
			select {
			case <-r.release:
			case <-p.done:
				return
			}
		}
		if _, err := up.Write(msg); err != nil {
			return
		}
	}
}

// readWireMessage reads one message: a little-endian length that counts
// itself, then the rest.
func readWireMessage(r io.Reader) ([]byte, error) {
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

// commandOf reads the command of an OP_MSG: the first key of its body (a
// kind-0 section) and the collection it names.
func commandOf(msg []byte) (command, coll string) {
	const opMsg = 2013
	if len(msg) < 21 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg {
		return "", ""
	}
	for i := 20; i+5 <= len(msg); {
		kind, size := msg[i], int(binary.LittleEndian.Uint32(msg[i+1:]))
		if size < 5 || i+1+size > len(msg) {
			return "", ""
		}
		if kind == 0 {
			e, err := bson.Raw(msg[i+1 : i+1+size]).IndexErr(0)
			if err != nil {
				return "", ""
			}
			coll, _ = e.Value().StringValueOK()
			return e.Key(), coll
		}
		i += 1 + size // a kind-1 section: its size counts itself
	}
	return "", ""
}

const createTaskKeyed = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id title } }`

// createBody is a createTask request's body; assignee is a user id or "".
func createBody(title, assignee string) string {
	in := map[string]any{"title": title}
	if assignee != "" {
		in["assignee"] = map[string]any{"userId": assignee}
	}
	b, _ := json.Marshal(map[string]any{"query": createTaskKeyed, "variables": map[string]any{"in": in}})
	return string(b)
}

// postKeyed posts body to /graphql as p, with the Idempotency-Key key ("":
// none). It reports failures as errors, so it may run off the test's
// goroutine.
func (e *env) postKeyed(p person, key, body string) (response, error) {
	req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func (e *env) mustPostKeyed(t *testing.T, p person, key, body string) (response, gqlResponse) {
	t.Helper()
	r, err := e.postKeyed(p, key, body)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	var g gqlResponse
	if err := json.Unmarshal(r.body, &g); err != nil {
		t.Fatalf("POST /graphql: HTTP %d, not JSON: %s", r.status, r.body)
	}
	return r, g
}

// errorCode is the first error's extensions.code, or "".
func errorCode(g gqlResponse) string {
	if len(g.Errors) == 0 {
		return ""
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

// countDocs counts coll's documents matching filter, straight from MongoDB.
func (e *env) countDocs(t *testing.T, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := e.mongo.Database().Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatalf("count %s: %v", coll, err)
	}
	return n
}

func (e *env) tasksTitled(t *testing.T, title string) int64 {
	t.Helper()
	return e.countDocs(t, mongo.CollTasks, bson.D{{Key: "title", Value: title}})
}

func replayed(r response) bool { return r.header.Get("Idempotent-Replayed") == "true" }

// TestIdempotentCreateTaskRetry is the acceptance of issue 10: a createTask
// whose assignment step fails (the connection is cut under the
// task_details insert) answers an error and leaves nothing; the retry with
// the same key creates the task once, with one active assignment; a third
// call replays that answer and writes nothing.
func TestIdempotentCreateTaskRetry(t *testing.T) {
	parallel(t)
	proxy := newWireProxy(t)
	e := newEnv(t, opts{mongoVia: proxy.via})
	owner, assignee := e.person(t, "idem-owner@example.com"), e.person(t, "idem-assignee@example.com")
	const title, key = "Retried after a failed assignment", "create-7f3a9c"
	body := createBody(title, assignee.id)
	audits := bson.D{{Key: "action", Value: "task_created"}, {Key: "performed_by", Value: mustOID(t, owner.id)}}

	hits, stop := proxy.cut("insert", mongo.CollTaskDetails)
	r1, g1 := e.mustPostKeyed(t, owner, key, body)
	stop()
	if hits() == 0 {
		t.Fatal("the assignment insert never reached the proxy: the fault did not happen")
	}
	if errorCode(g1) != "INTERNAL" || string(g1.Data) != "null" || replayed(r1) {
		t.Fatalf("first attempt: got HTTP %d %s, want an INTERNAL error and no data", r1.status, r1.body)
	}
	if n := e.tasksTitled(t, title); n != 0 {
		t.Errorf("tasks after the failed attempt: got %d, want 0 (the insert undone)", n)
	}
	if n := e.countDocs(t, mongo.CollAuditLogs, audits); n != 0 {
		t.Errorf("task_created audit entries after the failed attempt: got %d, want 0", n)
	}

	r2, g2 := e.mustPostKeyed(t, owner, key, body)
	var created struct{ CreateTask struct{ ID, Title string } }
	if len(g2.Errors) > 0 || json.Unmarshal(g2.Data, &created) != nil || created.CreateTask.ID == "" {
		t.Fatalf("retry: got HTTP %d %s, want the task", r2.status, r2.body)
	}
	if replayed(r2) {
		t.Errorf("retry after a clean failure: got Idempotent-Replayed, want it run")
	}
	taskID := mustOID(t, created.CreateTask.ID)
	if n := e.tasksTitled(t, title); n != 1 {
		t.Errorf("tasks after the retry: got %d, want 1", n)
	}
	if n := e.countDocs(t, mongo.CollTaskDetails, bson.D{{Key: "task_id", Value: taskID}, {Key: "is_active", Value: true}}); n != 1 {
		t.Errorf("active assignments of the task: got %d, want 1", n)
	}

	r3, g3 := e.mustPostKeyed(t, owner, key, body)
	if !replayed(r3) || r3.status != r2.status || !bytes.Equal(r3.body, r2.body) {
		t.Errorf("third call: got HTTP %d replayed=%v %s, want the retry's answer replayed (HTTP %d %s)",
			r3.status, replayed(r3), r3.body, r2.status, r2.body)
	}
	if len(g3.Errors) > 0 {
		t.Errorf("third call: got errors %+v", g3.Errors)
	}
	if n := e.tasksTitled(t, title); n != 1 {
		t.Errorf("tasks after the third call: got %d, want 1", n)
	}
	if n := e.countDocs(t, mongo.CollAuditLogs, audits); n != 1 {
		t.Errorf("task_created audit entries: got %d, want 1", n)
	}
}

// TestIdempotencyWhenTheUndoFails: the assignment fails and so does the
// undo (the task's delete is cut too), so a task is left behind; the
// attempt is final and its error is replayed, not run again into a second
// task.
func TestIdempotencyWhenTheUndoFails(t *testing.T) {
	parallel(t)
	proxy := newWireProxy(t)
	e := newEnv(t, opts{mongoVia: proxy.via})
	owner, assignee := e.person(t, "undo-owner@example.com"), e.person(t, "undo-assignee@example.com")
	const title, key = "Left behind by a failed undo", "undo-1"
	body := createBody(title, assignee.id)

	assignHits, stopAssign := proxy.cut("insert", mongo.CollTaskDetails)
	deleteHits, stopDelete := proxy.cut("delete", mongo.CollTasks)
	r1, g1 := e.mustPostKeyed(t, owner, key, body)
	stopAssign()
	stopDelete()
	if assignHits() == 0 || deleteHits() == 0 {
		t.Fatalf("faults: got %d assignment inserts and %d task deletes cut, want both", assignHits(), deleteHits())
	}
	if errorCode(g1) != "INTERNAL" {
		t.Fatalf("first attempt: got HTTP %d %s, want INTERNAL", r1.status, r1.body)
	}
	if n := e.tasksTitled(t, title); n != 1 {
		t.Fatalf("tasks after the failed undo: got %d, want the 1 left behind", n)
	}
	r2, _ := e.mustPostKeyed(t, owner, key, body)
	if !replayed(r2) || !bytes.Equal(r2.body, r1.body) {
		t.Errorf("retry: got HTTP %d replayed=%v %s, want the first error replayed", r2.status, replayed(r2), r2.body)
	}
	if n := e.tasksTitled(t, title); n != 1 {
		t.Errorf("tasks after the retry: got %d, want 1", n)
	}
}

// TestIdempotencyKeepsADocumentWhole: a document with two mutations, the
// second failing, answers no data at all (createTask is non-null), but
// the first wrote its task: a retry replays, it does not write it again.
func TestIdempotencyKeepsADocumentWhole(t *testing.T) {
	parallel(t)
	proxy := newWireProxy(t)
	e := newEnv(t, opts{mongoVia: proxy.via})
	owner, assignee := e.person(t, "whole-owner@example.com"), e.person(t, "whole-assignee@example.com")
	q := `mutation($a: CreateTaskInput!, $b: CreateTaskInput!) { a: createTask(input: $a) { id } b: createTask(input: $b) { id } }`
	b, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]any{
		"a": map[string]any{"title": "First of two"},
		"b": map[string]any{"title": "Second of two", "assignee": map[string]any{"userId": assignee.id}},
	}})
	const key = "two-mutations"

	_, stop := proxy.cut("insert", mongo.CollTaskDetails)
	r1, g1 := e.mustPostKeyed(t, owner, key, string(b))
	stop()
	if errorCode(g1) != "INTERNAL" {
		t.Fatalf("first attempt: got HTTP %d %s, want the second mutation's INTERNAL error", r1.status, r1.body)
	}
	r2, _ := e.mustPostKeyed(t, owner, key, string(b))
	if !replayed(r2) {
		t.Errorf("retry: got HTTP %d %s, not replayed; want the first answer replayed", r2.status, r2.body)
	}
	if n, m := e.tasksTitled(t, "First of two"), e.tasksTitled(t, "Second of two"); n != 1 || m != 0 {
		t.Errorf("tasks after the retry: got %d first and %d second, want 1 and 0", n, m)
	}
}

// TestIdempotencyKeyRules: what else a key does and does not do.
func TestIdempotencyKeyRules(t *testing.T) {
	parallel(t)
	proxy := newWireProxy(t)
	e := newEnv(t, opts{mongoVia: proxy.via})
	owner, other := e.person(t, "rules-owner@example.com"), e.person(t, "rules-other@example.com")
	records := func() int64 { return e.countDocs(t, mongo.CollIdempotencyKeys, bson.D{}) }

	t.Run("same key, another body: 422", func(t *testing.T) {
		if _, g := e.mustPostKeyed(t, owner, "k-body", createBody("Body one", "")); len(g.Errors) > 0 {
			t.Fatalf("first use: %+v", g.Errors)
		}
		r, g := e.mustPostKeyed(t, owner, "k-body", createBody("Body two", ""))
		if r.status != http.StatusUnprocessableEntity || errorCode(g) != "BAD_USER_INPUT" ||
			!strings.Contains(g.Errors[0].Message, "different request") {
			t.Errorf("got HTTP %d %s, want 422 BAD_USER_INPUT about a different request", r.status, r.body)
		}
		if n := e.tasksTitled(t, "Body two"); n != 0 {
			t.Errorf("tasks of the refused body: got %d, want 0", n)
		}
	})

	t.Run("same key while the first runs: 409", func(t *testing.T) {
		body := createBody("Slow first", "")
		held, release := proxy.hold("insert", mongo.CollTasks)
		defer release()
		first := make(chan error, 1)
		var r1 response
		go func() {
			var err error
			r1, err = e.postKeyed(owner, "k-slow", body)
			first <- err
		}()
		select {
		case <-held:
		case err := <-first:
			t.Fatalf("the first request ended before its insert was held: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("the first request's insert never reached the proxy")
		}
		r, g := e.mustPostKeyed(t, owner, "k-slow", body)
		if r.status != http.StatusConflict || errorCode(g) != "CONFLICT" || r.header.Get("Retry-After") != "1" {
			t.Errorf("got HTTP %d Retry-After %q %s, want 409 CONFLICT with Retry-After: 1", r.status, r.header.Get("Retry-After"), r.body)
		}
		release()
		if err := <-first; err != nil || r1.status != http.StatusOK || replayed(r1) {
			t.Fatalf("first request: got HTTP %d %s (%v), want it to complete", r1.status, r1.body, err)
		}
		r, _ = e.mustPostKeyed(t, owner, "k-slow", body)
		if !replayed(r) || !bytes.Equal(r.body, r1.body) {
			t.Errorf("after the first finished: got HTTP %d replayed=%v %s, want its answer", r.status, replayed(r), r.body)
		}
		if n := e.tasksTitled(t, "Slow first"); n != 1 {
			t.Errorf("tasks: got %d, want 1", n)
		}
	})

	t.Run("a client error is replayed", func(t *testing.T) {
		body := createBody("   ", "")
		r1, g1 := e.mustPostKeyed(t, owner, "k-blank", body)
		if errorCode(g1) != "BAD_USER_INPUT" || replayed(r1) {
			t.Fatalf("first: got HTTP %d %s, want BAD_USER_INPUT", r1.status, r1.body)
		}
		r2, _ := e.mustPostKeyed(t, owner, "k-blank", body)
		if !replayed(r2) || r2.status != r1.status || !bytes.Equal(r2.body, r1.body) {
			t.Errorf("second: got HTTP %d replayed=%v %s, want the first answer replayed", r2.status, replayed(r2), r2.body)
		}
	})

	t.Run("the key is the viewer's", func(t *testing.T) {
		body := createBody("Two viewers, one key", "")
		_, g1 := e.mustPostKeyed(t, owner, "k-shared", body)
		r2, g2 := e.mustPostKeyed(t, other, "k-shared", body)
		if replayed(r2) || len(g2.Errors) > 0 || bytes.Equal(g1.Data, g2.Data) {
			t.Errorf("another viewer with the key: got replayed=%v %s, want a task of its own", replayed(r2), r2.body)
		}
		if n := e.tasksTitled(t, "Two viewers, one key"); n != 2 {
			t.Errorf("tasks: got %d, want 2", n)
		}
	})

	t.Run("without the header nothing changes", func(t *testing.T) {
		before := records()
		body := createBody("No key", "")
		for range 2 {
			if r, g := e.mustPostKeyed(t, owner, "", body); len(g.Errors) > 0 || replayed(r) {
				t.Fatalf("got %s", r.body)
			}
		}
		if n := e.tasksTitled(t, "No key"); n != 2 {
			t.Errorf("tasks: got %d, want 2 (each request runs)", n)
		}
		if n := records(); n != before {
			t.Errorf("idempotency records: got %d, want %d", n, before)
		}
	})

	t.Run("a GET is not affected", func(t *testing.T) {
		before := records()
		for range 2 {
			r := e.do(t, http.MethodGet, "/graphql?query="+url.QueryEscape("{ me { id } }"), "", "",
				"Authorization", "Bearer "+owner.token, "Idempotency-Key", "k-get")
			if r.status != http.StatusOK || replayed(r) || !strings.Contains(string(r.body), owner.id) {
				t.Errorf("GET: got HTTP %d replayed=%v %s, want the answer, run", r.status, replayed(r), r.body)
			}
		}
		if n := records(); n != before {
			t.Errorf("idempotency records: got %d, want %d", n, before)
		}
	})

	t.Run("anonymous: the header is ignored", func(t *testing.T) {
		before := records()
		r, g := e.mustPostKeyed(t, person{}, "k-anon", createBody("Anonymous", ""))
		if errorCode(g) != "UNAUTHENTICATED" || replayed(r) {
			t.Errorf("got HTTP %d %s, want UNAUTHENTICATED", r.status, r.body)
		}
		if n := records(); n != before {
			t.Errorf("idempotency records: got %d, want %d", n, before)
		}
	})

	t.Run("a malformed key: 400", func(t *testing.T) {
		for _, k := range []string{"two words", strings.Repeat("k", 256), "clé"} {
			r, g := e.mustPostKeyed(t, owner, k, createBody("Bad key", ""))
			if r.status != http.StatusBadRequest || errorCode(g) != "BAD_USER_INPUT" {
				t.Errorf("key %.20q: got HTTP %d %s, want 400 BAD_USER_INPUT", k, r.status, r.body)
			}
		}
		if n := e.tasksTitled(t, "Bad key"); n != 0 {
			t.Errorf("tasks: got %d, want 0", n)
		}
	})
}

func mustOID(t *testing.T, hex string) bson.ObjectID {
	t.Helper()
	id, err := bson.ObjectIDFromHex(hex)
	if err != nil {
		t.Fatalf("id %q: %v", hex, err)
	}
	return id
}

// A createTeam whose role grants fail (the connection is cut under the
// user_roles insert) leaves nothing: no team, memberships or roles, and
// the creation code unused; its retry with the same key makes one team
// with the code.
func TestIdempotentCreateTeamRetry(t *testing.T) {
	parallel(t)
	proxy := newWireProxy(t)
	e := newEnv(t, opts{mongoVia: proxy.via})
	owner := e.person(t, "team-owner@example.com")
	code, err := e.store.GenerateCreationCode(context.Background(), owner.id, "for the retry")
	if err != nil {
		t.Fatal(err)
	}
	const name, key = "Retried team", "team-5d1e"
	b, _ := json.Marshal(map[string]any{
		"query":     `mutation($c: String!, $n: String!) { createTeam(input: {name: $n, creationCode: $c}) { id } }`,
		"variables": map[string]any{"c": code.Code, "n": name}})
	body := string(b)
	codeUsed := func() bool {
		var d struct {
			IsUsed bool `bson:"is_used"`
		}
		if err := e.mongo.Database().Collection(mongo.CollTeamCreationCode).FindOne(context.Background(),
			bson.D{{Key: "code", Value: code.Code}}).Decode(&d); err != nil {
			t.Fatal(err)
		}
		return d.IsUsed
	}
	mine := bson.D{{Key: "created_by", Value: mustOID(t, owner.id)}}

	hits, stop := proxy.cut("insert", mongo.CollUserRoles)
	r1, g1 := e.mustPostKeyed(t, owner, key, body)
	stop()
	if hits() == 0 {
		t.Fatal("the role insert never reached the proxy: the fault did not happen")
	}
	if errorCode(g1) != "INTERNAL" || string(g1.Data) != "null" {
		t.Fatalf("first attempt: got HTTP %d %s, want an INTERNAL error and no data", r1.status, r1.body)
	}
	teams := e.countDocs(t, mongo.CollTeams, bson.D{{Key: "name", Value: name}})
	members := e.countDocs(t, mongo.CollUserTeamDetails, mine)
	if teams != 0 || members != 0 || codeUsed() {
		t.Fatalf("after the failed attempt: %d teams, %d memberships, code used %v; want nothing left and the code unused",
			teams, members, codeUsed())
	}

	r2, g2 := e.mustPostKeyed(t, owner, key, body)
	if len(g2.Errors) > 0 || replayed(r2) {
		t.Fatalf("retry: got HTTP %d %s (replayed %v), want the team created", r2.status, r2.body, replayed(r2))
	}
	var d struct{ CreateTeam struct{ ID string } }
	if err := json.Unmarshal(g2.Data, &d); err != nil {
		t.Fatal(err)
	}
	team := mustOID(t, d.CreateTeam.ID)
	if n := e.countDocs(t, mongo.CollTeams, bson.D{{Key: "name", Value: name}}); n != 1 {
		t.Errorf("teams after the retry: %d, want 1", n)
	}
	if n := e.countDocs(t, mongo.CollUserRoles, bson.D{{Key: "team_id", Value: team}, {Key: "is_active", Value: true}}); n != 2 {
		t.Errorf("the creator's roles in the team: %d, want owner and admin", n)
	}
	if !codeUsed() {
		t.Errorf("the creation code is unused after the team was made with it")
	}
}

// An assignTask whose new assignment cannot be inserted (the connection is
// cut under it) puts the old one back: the task keeps its assignee, and
// the retry replaces it as if the first attempt had not happened.
func TestFailedReassignmentKeepsTheAssignee(t *testing.T) {
	parallel(t)
	proxy := newWireProxy(t)
	e := newEnv(t, opts{mongoVia: proxy.via})
	owner, first, second := e.person(t, "re-owner@example.com"), e.person(t, "re-first@example.com"), e.person(t, "re-second@example.com")
	_, g := e.mustPostKeyed(t, owner, "", createBody("Reassigned", first.id))
	var d struct{ CreateTask struct{ ID string } }
	if err := json.Unmarshal(g.Data, &d); err != nil || d.CreateTask.ID == "" {
		t.Fatalf("createTask: %s %v", g.Data, g.Errors)
	}
	task := mustOID(t, d.CreateTask.ID)
	b, _ := json.Marshal(map[string]any{"query": `mutation($t: ID!, $u: ID!) { assignTask(taskId: $t, assignee: {userId: $u}) { id } }`,
		"variables": map[string]any{"t": d.CreateTask.ID, "u": second.id}})
	active := func(who person) int64 {
		return e.countDocs(t, mongo.CollTaskDetails, bson.D{{Key: "task_id", Value: task}, {Key: "is_active", Value: true},
			{Key: "assignee_id", Value: mustOID(t, who.id)}})
	}

	hits, stop := proxy.cut("insert", mongo.CollTaskDetails)
	r1, g1 := e.mustPostKeyed(t, owner, "reassign-1", string(b))
	stop()
	if hits() == 0 || errorCode(g1) != "INTERNAL" {
		t.Fatalf("first attempt: %d inserts cut, HTTP %d %s; want the insert cut and INTERNAL", hits(), r1.status, r1.body)
	}
	if a, b := active(first), active(second); a != 1 || b != 0 {
		t.Fatalf("after the failed reassignment: %d active for the first assignee, %d for the second; want 1, 0", a, b)
	}
	_, g2 := e.mustPostKeyed(t, owner, "reassign-1", string(b))
	if len(g2.Errors) > 0 {
		t.Fatalf("retry: %+v", g2.Errors)
	}
	if a, b := active(first), active(second); a != 0 || b != 1 {
		t.Fatalf("after the retry: %d active for the first assignee, %d for the second; want 0, 1", a, b)
	}
}

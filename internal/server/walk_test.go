package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/todo-backend/todo/graph"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/internal/policy"
	"github.com/todo-backend/todo/resolvers"
)

// TestReadPolicyWalk walks the schema, not a list of cells. From the
// introspected schema it finds every field whose type is guarded (SPEC
// §5.3: Task, Team, TeamMember, AuditLog, TeamCreationInviteCode, UserRole,
// and the fields User.email and Team.inviteCode), and every path that
// reaches one from a root query field, up to a bounded depth; a field added
// to the schema tomorrow is walked without anyone writing a cell.
//
// For each root field (with arguments naming each object of the world) and
// each actor, it asks the real server and a reference server that is the
// same handler without the policy's field middleware, so it returns
// everything the resolvers load. The expected answer is the reference
// answer pruned by the test's own oracle: an object the actor may not read
// becomes null, or leaves its list (and its connection's totalCount), and
// a guarded field becomes null. The real answer must equal it exactly.
func TestReadPolicyWalk(t *testing.T) {
	long(t)
	start := time.Now()
	e := newWorldEnv(t)
	w := newWorld(t, e)
	s := introspect(t, e, w)
	ref := referenceServer(t, e)

	roots := s.rootVariants(t, w)
	// The documents of every root field, then every (document, actor)
	// answer fetched a few at a time, then all judged here in order.
	type job struct {
		rv      rootVariant
		query   string
		answers [][2]rawResponse // reference, real; by actor
		errs    []error
	}
	var jobs []*job
	pairs, documents := 0, 0
	for _, rv := range roots {
		docs := s.documents(t, e, w, rv)
		paths := map[string]bool{}
		for _, d := range docs {
			d.paths("", paths)
			var b strings.Builder
			b.WriteString("{")
			d.render(&b)
			b.WriteString(" }")
			jobs = append(jobs, &job{rv: rv, query: b.String(),
				answers: make([][2]rawResponse, len(worldActors)), errs: make([]error, len(worldActors))})
		}
		pairs += len(paths) * len(worldActors)
		documents += len(docs)
	}
	work := make(chan func())
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for f := range work {
				f()
			}
		})
	}
	for _, j := range jobs {
		for i, actor := range worldActors {
			work <- func() {
				tok := w.users[actor].token
				if j.answers[i][0], j.errs[i] = fetch(ref, tok, j.query); j.errs[i] == nil {
					j.answers[i][1], j.errs[i] = fetch(e.url, tok, j.query)
				}
			}
		}
	}
	close(work)
	wg.Wait()

	hidden := map[string]int{}
	shown := map[string]bool{} // root fields that answered something to someone
	for _, j := range jobs {
		rv := j.rv
		for i, actor := range worldActors {
			if j.errs[i] != nil {
				t.Fatalf("%s as %s: %v", rv.label, actor, j.errs[i])
			}
			want, got := j.answers[i][0], j.answers[i][1]
			if len(got.Errors) > 0 && got.Errors[0].Extensions["code"] == "BAD_USER_INPUT" {
				t.Fatalf("%s as %s: the server refused the walk's query: %s", rv.label, actor, got.Errors[0].Message)
			}
			if root := canonical(got.Data); !strings.HasSuffix(root, ":null}") && !strings.HasSuffix(root, ":[]}") && root != "null" {
				shown[rv.label] = true
			}
			exp := w.expect(t, s, actor, want, rv)
			hidden[actor] += exp.hidden
			if g, x := canonical(got.Data), canonical(exp.data); g != x {
				t.Errorf("%s as %s:\n%s", rv.label, actor, w.names(firstDiff(got.Data, exp.data)))
			}
			if g, x := errorKeys(got.Errors), errorKeys(want.Errors); !slices.Equal(g, x) {
				t.Errorf("%s as %s: errors %v, want the reference's %v", rv.label, actor, g, x)
			}
		}
	}
	requests := 2 * len(jobs) * len(worldActors)
	for _, rv := range roots {
		if !shown[rv.label] {
			t.Errorf("%s answered nothing to any actor: the walk checks nothing there", rv.label)
		}
	}
	if pairs < 1000 {
		t.Errorf("the walk checked only %d (path, actor) pairs: is the schema introspected?", pairs)
	}
	for _, a := range worldActors {
		if a != "admin" && hidden[a] == 0 {
			t.Errorf("%s was refused nothing: the world should hide something from every actor but the admin", a)
		}
	}
	t.Logf("read-policy walk: %d root fields with arguments, %d guarded paths, %d (path, actor) pairs checked, "+
		"in %d documents (split to fit the complexity limit), %d requests; objects hidden per actor %v; in %v",
		len(roots), pairs/len(worldActors), pairs, documents, requests, hidden, time.Since(start).Round(time.Millisecond))
}

// guardedTypes and guardedFields are what the read rules cover.
var (
	guardedTypes  = []string{"Task", "Team", "TeamMember", "AuditLog", "TeamCreationInviteCode", "UserRole"}
	guardedFields = []string{"User.email", "Team.inviteCode", "AuditLog.from", "AuditLog.to"}
)

// The walk's bounds: how deep it follows object fields, and the page size of
// every connection (the world's lists are short; small pages keep the
// documents within the complexity limit).
const (
	walkDepth = 5
	walkPage  = 2
)

// schema is the introspected schema.
type schema struct {
	types   map[string]*schemaType
	reaches map[string]bool // types from which a guarded type or field is reachable
}

type schemaType struct {
	Kind, Name    string
	Fields        []schemaField
	PossibleTypes []struct{ Name string }
}

type schemaField struct {
	Name string
	Args []struct {
		Name string
		Type typeRef
	}
	Type typeRef
}

type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

// named unwraps lists and non-nulls.
func (r typeRef) named() string {
	for t := &r; t != nil; t = t.OfType {
		if t.Name != nil {
			return *t.Name
		}
	}
	return ""
}

func (r typeRef) nonNull() bool { return r.Kind == "NON_NULL" }

func (st *schemaType) field(name string) (schemaField, bool) {
	for _, f := range st.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return schemaField{}, false
}

func introspect(t *testing.T, e *env, w *world) *schema {
	t.Helper()
	const q = `{ __schema { types { kind name possibleTypes { name }
		fields { name args { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
		         type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`
	g := w.as(t, "member", q, nil)
	var d struct {
		Schema struct{ Types []*schemaType } `json:"__schema"`
	}
	if err := json.Unmarshal(g.Data, &d); err != nil || len(g.Errors) > 0 || len(d.Schema.Types) == 0 {
		t.Fatalf("introspection: %v %+v", err, g.Errors)
	}
	s := &schema{types: map[string]*schemaType{}, reaches: map[string]bool{}}
	for _, ty := range d.Schema.Types {
		s.types[ty.Name] = ty
	}
	for _, name := range guardedTypes {
		if s.types[name] == nil {
			t.Fatalf("guarded type %s is not in the schema", name)
		}
		s.reaches[name] = true
	}
	for _, f := range guardedFields {
		typ, field, _ := strings.Cut(f, ".")
		if _, ok := s.types[typ].field(field); !ok {
			t.Fatalf("guarded field %s is not in the schema", f)
		}
		s.reaches[typ] = true
	}
	for changed := true; changed; {
		changed = false
		for _, ty := range s.types {
			if s.reaches[ty.Name] || strings.HasPrefix(ty.Name, "__") {
				continue
			}
			reach := slices.ContainsFunc(ty.Fields, func(f schemaField) bool { return s.reaches[f.Type.named()] }) ||
				slices.ContainsFunc(ty.PossibleTypes, func(p struct{ Name string }) bool { return s.reaches[p.Name] })
			if reach {
				s.reaches[ty.Name], changed = true, true
			}
		}
	}
	return s
}

func (s *schema) guarded(typ string) bool { return slices.Contains(guardedTypes, typ) }

func isConnection(typ string) bool { return strings.HasSuffix(typ, "Connection") }

// rootVariant is one root field with arguments.
type rootVariant struct {
	label, field, args string
}

// rootArgs gives the arguments of root fields that need some: every object
// of the world they can name. A root field that reaches a guarded type and
// has a required argument not listed here fails the test, so a new one is
// not skipped silently.
func (s *schema) rootArgs(t *testing.T, w *world) map[string][]string {
	t.Helper()
	each := func(format string, names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = fmt.Sprintf(format, w.id(t, n))
		}
		return out
	}
	tasks := slices.Sorted(func(yield func(string) bool) {
		for n := range w.tasks {
			if !yield(n) {
				return
			}
		}
	})
	// The root lists take every task of the world (ten at most), so their
	// totalCount is checked against all of it.
	filter := func(f string) string {
		return fmt.Sprintf(`(filter: {%s, includeDone: true, deferred: INCLUDE}, first: 10)`, f)
	}
	return map[string][]string{
		"task": each(`(id: "%s")`, tasks...),
		"team": each(`(id: "%s")`, "T", "T2"),
		// Users of every kind: in T, removed from T, in T2 only, in no team.
		// Users of every kind: T's owner (with team roles), a plain member,
		// one removed from T, one in T2 only.
		"user":         each(`(id: "%s")`, "owner", "member", "former", "outsider"),
		"teamActivity": each(`(teamId: "%s", first: 20)`, "T", "T2"),
		"users":        {fmt.Sprintf(`(search: "walk-", first: %d)`, len(worldUsers))},
		"tasks": {filter("scope: ASSIGNED_TO_ME"), filter("scope: CREATED_BY_ME"), filter("scope: WATCHED"),
			filter(fmt.Sprintf(`scope: TEAM, teamId: "%s"`, w.id(t, "T"))), filter(fmt.Sprintf(`scope: TEAM, teamId: "%s"`, w.id(t, "T2")))},
		"auditLogs": {`(first: 20)`},
		"watchlist": {`(first: 10)`},
	}
}

func (s *schema) rootVariants(t *testing.T, w *world) []rootVariant {
	t.Helper()
	provided := s.rootArgs(t, w)
	var out []rootVariant
	for _, f := range s.types["Query"].Fields {
		if !s.reaches[f.Type.named()] {
			continue
		}
		args, ok := provided[f.Name]
		if !ok {
			if slices.ContainsFunc(f.Args, func(a struct {
				Name string
				Type typeRef
			}) bool {
				return a.Type.nonNull()
			}) {
				t.Fatalf("Query.%s reaches a guarded type and has required arguments: give the walk values for them in rootArgs", f.Name)
			}
			args = []string{s.pageArg(f)}
		}
		for _, a := range args {
			out = append(out, rootVariant{label: w.names("Query." + f.Name + a), field: f.Name, args: a})
		}
	}
	return out
}

func (s *schema) pageArg(f schemaField) string {
	for _, a := range f.Args {
		if a.Name == "first" {
			return fmt.Sprintf("(first: %d)", walkPage)
		}
	}
	return ""
}

// selNode is one field of a walk document (or an inline fragment, with
// name "... on T").
type selNode struct {
	name     string // with arguments
	children []*selNode
	endpoint bool // guarded: its type is, or it is a guarded field
	// stub, for the fields the oracle judges their parent by, is the least
	// selection of it, kept by every piece of a split.
	stub *selNode
	// pinned: a stub, kept whole by every piece.
	pinned bool
}

func (n *selNode) render(b *strings.Builder) {
	b.WriteString(" " + n.name)
	if len(n.children) > 0 {
		b.WriteString(" {")
		for _, c := range n.children {
			c.render(b)
		}
		b.WriteString(" }")
	}
}

// paths lists the node's guarded endpoints as paths.
func (n *selNode) paths(prefix string, into map[string]bool) {
	p := prefix + "/" + n.name
	if n.endpoint {
		into[p] = true
	}
	for _, c := range n.children {
		c.paths(p, into)
	}
}

// split divides a tree too costly for one request: at the shallowest node
// with several object children, one copy per object child, each keeping the
// scalars. Every path of the tree is in exactly one copy.
func (n *selNode) split() []*selNode {
	var branches, scalars []*selNode
	for _, c := range n.children {
		if len(c.children) > 0 && !c.pinned {
			branches = append(branches, c)
		} else {
			scalars = append(scalars, c)
		}
	}
	// piece keeps the scalars, one branch and the stubs of the others.
	piece := func(keep int, sub *selNode) *selNode {
		children := slices.Clone(scalars)
		for i, br := range branches {
			switch {
			case i == keep:
				children = append(children, sub)
			case br.stub != nil:
				children = append(children, br.stub)
			}
		}
		return &selNode{name: n.name, children: children, endpoint: n.endpoint, stub: n.stub}
	}
	var out []*selNode
	switch len(branches) {
	case 0:
	case 1:
		for _, sub := range branches[0].split() {
			out = append(out, piece(0, sub))
		}
	default:
		for i, br := range branches {
			out = append(out, piece(i, br))
		}
	}
	return out
}

// tree builds the walk's selection of a root field.
func (s *schema) tree(rv rootVariant) *selNode {
	f, _ := s.types["Query"].field(rv.field)
	root := &selNode{name: rv.field + rv.args, endpoint: s.guarded(f.Type.named()) || s.types[f.Type.named()].Kind == "UNION"}
	root.children = s.selection(f.Type.named(), []string{"Query"}, 1)
	return root
}

// selection returns the selection set of typ. It follows every field that
// reaches a guarded type, except into a type already on the path or past
// walkDepth: there it keeps the type's identity (what the oracle needs to
// judge it) and stops. Connection edges get the identity of their node.
func (s *schema) selection(typ string, path []string, depth int) []*selNode {
	ty := s.types[typ]
	out := []*selNode{{name: "__typename"}}
	if ty.Kind == "UNION" {
		for _, p := range ty.PossibleTypes {
			if s.reaches[p.Name] {
				out = append(out, &selNode{name: "... on " + p.Name, children: s.selection(p.Name, path, depth)})
			}
		}
		return out
	}
	leaf := slices.Contains(path, typ) || depth >= walkDepth
	path = append(slices.Clone(path), typ)
	for _, f := range ty.Fields {
		ft := f.Type.named()
		switch {
		case f.Name == "id" || (f.Name == "totalCount" && isConnection(typ)) || (typ == "UserRole" && f.Name == "scope"):
			out = append(out, &selNode{name: f.Name})
		case slices.Contains(guardedFields, typ+"."+f.Name):
			out = append(out, &selNode{name: f.Name, endpoint: true})
		case !s.reaches[ft] && s.guarded(typ) && !leaf && s.scalar(f):
			// What a readable object shows must be what the resolvers
			// loaded: its scalars are compared too.
			out = append(out, &selNode{name: f.Name})
		case !s.reaches[ft]:
		case leaf && !s.identity(typ, f.Name):
		default:
			n := &selNode{name: f.Name + s.pageArg(f), endpoint: s.guarded(ft) || s.types[ft].Kind == "UNION"}
			if s.identity(typ, f.Name) && !isConnection(typ) {
				n.stub = &selNode{name: n.name, endpoint: n.endpoint, pinned: true,
					children: []*selNode{{name: "__typename"}, {name: "id"}}}
			}
			switch {
			case isConnection(typ) && f.Name == "edges":
				// An edge's node is judged like a node: its identity suffices.
				n.children = []*selNode{{name: "__typename"}, {name: "cursor"},
					{name: "node", endpoint: true, children: s.selection(s.nodeType(ft), append(slices.Clone(path), "edge"), walkDepth)}}
			case leaf:
				n.children = s.selection(ft, path, walkDepth)
			default:
				n.children = s.selection(ft, path, depth+1)
			}
			out = append(out, n)
		}
	}
	return out
}

// documents splits a root field's tree until the server accepts each piece
// (the complexity limit multiplies nested pages).
func (s *schema) documents(t *testing.T, e *env, w *world, rv rootVariant) []*selNode {
	t.Helper()
	var out []*selNode
	queue := []*selNode{s.tree(rv)}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		var b strings.Builder
		b.WriteString("{")
		n.render(&b)
		b.WriteString(" }")
		g := postRaw(t, e.url, w.users["member"].token, b.String())
		if len(g.Errors) == 0 || g.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			out = append(out, n)
			continue
		}
		parts := n.split()
		if len(parts) == 0 {
			t.Fatalf("%s: the server refuses a walk document that cannot be split: %s", rv.label, g.Errors[0].Message)
		}
		queue = append(queue, parts...)
	}
	return out
}

// identity: the fields a leaf of typ keeps, because the oracle judges typ by
// them (an audit entry by its task and team, a role by its team) or because
// the type is a connection (judged by its nodes).
func (s *schema) identity(typ, field string) bool {
	switch {
	case isConnection(typ):
		return field == "nodes" || field == "edges"
	case typ == "AuditLog":
		return field == "task" || field == "team"
	case typ == "UserRole":
		return field == "team"
	}
	return false
}

// scalar: a field of scalar or enum type (or a list of them) without
// required arguments.
func (s *schema) scalar(f schemaField) bool {
	k := s.types[f.Type.named()].Kind
	return (k == "SCALAR" || k == "ENUM") && !slices.ContainsFunc(f.Args, func(a struct {
		Name string
		Type typeRef
	}) bool {
		return a.Type.nonNull()
	})
}

// nodeType is the node type of an edge type.
func (s *schema) nodeType(edge string) string {
	f, _ := s.types[edge].field("node")
	return f.Type.named()
}

// walkExpectation is the pruned reference answer.
type walkExpectation struct {
	data   any
	hidden int
}

// walkScope is what the oracle knows of where a value sits: the nearest
// enclosing team and user (a TeamMember is judged by its team, a UserRole by
// its user).
type walkScope struct{ team, user string }

func (w *world) expect(t *testing.T, s *schema, actor string, ref rawResponse, rv rootVariant) walkExpectation {
	t.Helper()
	var data any
	if err := json.Unmarshal(ref.Data, &data); err != nil {
		t.Fatalf("%s: reference data: %v", rv.label, err)
	}
	x := &walkExpectation{}
	if data == nil {
		return *x
	}
	f, _ := s.types["Query"].field(rv.field)
	m := data.(map[string]any)
	v, keep, _ := w.prune(t, s, actor, m[rv.field], f.Type.named(), walkScope{}, x)
	if !keep {
		if f.Type.nonNull() {
			t.Fatalf("%s as %s: the reference returned an object the actor may not read at a non-null root field", rv.label, actor)
		}
		v = nil
	}
	m[rv.field] = v
	x.data = m
	return *x
}

// prune returns v (of schema type typ) as actor must see it: keep is false
// when v itself must not be seen; dropped counts list items left out.
func (w *world) prune(t *testing.T, s *schema, actor string, v any, typ string, sc walkScope, x *walkExpectation) (any, bool, int) {
	t.Helper()
	switch val := v.(type) {
	case nil:
		return nil, true, 0
	case []any:
		out, dropped := []any{}, 0
		for _, el := range val {
			p, keep, _ := w.prune(t, s, actor, el, typ, sc, x)
			if keep {
				out = append(out, p)
			} else {
				dropped++
			}
		}
		return out, true, dropped
	case map[string]any:
		concrete := typ
		if tn, ok := val["__typename"].(string); ok {
			concrete = tn
		}
		if s.guarded(concrete) && !w.reads(t, actor, concrete, val, sc) {
			x.hidden++
			return nil, false, 0
		}
		id, _ := val["id"].(string)
		switch concrete {
		case "Team":
			sc.team = id
		case "User":
			sc.user = id
		}
		ty := s.types[concrete]
		dropped := 0
		for key, fv := range val {
			f, ok := ty.field(key)
			if !ok {
				continue // __typename, cursor
			}
			if slices.Contains(guardedFields, concrete+"."+key) {
				if fv != nil && !w.seesField(actor, concrete+"."+key, id, fv) {
					val[key] = nil
					x.hidden++
				}
				continue
			}
			if !s.reaches[f.Type.named()] {
				continue
			}
			p, keep, d := w.prune(t, s, actor, fv, f.Type.named(), sc, x)
			if !keep {
				if f.Type.nonNull() {
					return nil, false, 0 // an edge whose node is hidden goes with it
				}
				p = nil
			}
			val[key] = p
			if isConnection(concrete) && (key == "nodes" || key == "edges") {
				dropped = max(dropped, d)
			}
		}
		if n, ok := val["totalCount"].(float64); ok && dropped > 0 {
			val["totalCount"] = n - float64(dropped)
		}
		return val, true, 0
	}
	return v, true, 0
}

// reads is the oracle for a guarded object.
func (w *world) reads(t *testing.T, actor, typ string, obj map[string]any, sc walkScope) bool {
	t.Helper()
	idOf := func(field string) string {
		m, _ := obj[field].(map[string]any)
		id, _ := m["id"].(string)
		return id
	}
	id, _ := obj["id"].(string)
	switch typ {
	case "Task":
		return w.readsTask(t, actor, id)
	case "Team":
		return w.readsTeam(actor, id)
	case "TeamMember":
		if sc.team == "" {
			t.Fatalf("a TeamMember outside any team")
		}
		return w.readsTeam(actor, sc.team)
	case "AuditLog":
		task, team := idOf("task"), idOf("team")
		return w.isAdmin(actor) || (team != "" && w.readsTeam(actor, team)) || (task != "" && w.readsTask(t, actor, task))
	case "TeamCreationInviteCode":
		return w.isAdmin(actor)
	case "UserRole":
		if sc.user == "" {
			t.Fatalf("a UserRole outside any user")
		}
		return w.role[sc.user] == actor || w.isAdmin(actor) || (obj["scope"] == "TEAM" && w.readsTeam(actor, idOf("team")))
	}
	t.Fatalf("no oracle for guarded type %s", typ)
	return false
}

func (w *world) seesField(actor, field, id string, value any) bool {
	switch field {
	case "User.email":
		return w.seesEmail(actor, id)
	case "Team.inviteCode":
		return w.seesInviteCode(actor, id)
	case "AuditLog.from", "AuditLog.to":
		// A team's id shows to its readers; statuses and users' ids to all.
		v, _ := value.(string)
		if _, isTeam := w.members[v]; isTeam {
			return w.readsTeam(actor, v)
		}
		return true
	}
	panic("no oracle for " + field)
}

// referenceServer serves the same schema and resolvers, behind the same
// authentication, loaders and policy checker (the resolvers' argument gates
// use it), but without the policy's field middleware: it shows what the
// resolvers load, for the oracle to prune. It exists only in this test.
func referenceServer(t *testing.T, e *env) string {
	t.Helper()
	root := &resolvers.Resolver{Store: e.store}
	cfg := graph.Config{Resolvers: root}
	cfg.Directives.HasRole = root.HasRole
	srv := handler.New(graph.NewExecutableSchema(cfg))
	srv.AddTransport(transport.POST{})
	srv.AroundRootFields(root.Guard(true))
	srv.SetErrorPresenter(resolvers.ErrorPresenter(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := e.auth.Authenticate(loaders.Middleware(e.store)(policy.Middleware(e.store)(srv)))
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

type rawResponse struct {
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Path       []any
		Extensions map[string]any
	}
}

func postRaw(t *testing.T, base, token, query string) rawResponse {
	t.Helper()
	r, err := fetch(base, token, query)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fetch posts a query with a Bearer token.
func fetch(base, token, query string) (rawResponse, error) {
	var r rawResponse
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		return r, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("%s: HTTP %d: %w", base, resp.StatusCode, err)
	}
	return r, nil
}

// errorKeys names each error by code and path.
func errorKeys(errs []struct {
	Message    string
	Path       []any
	Extensions map[string]any
}) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = fmt.Sprintf("%v@%v", e.Extensions["code"], e.Path)
	}
	sort.Strings(out)
	return out
}

func canonical(v any) string {
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		_ = json.Unmarshal(raw, &x)
		v = x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// firstDiff describes where got and want first differ.
func firstDiff(got json.RawMessage, want any) string {
	var g any
	_ = json.Unmarshal(got, &g)
	var w any
	_ = json.Unmarshal([]byte(canonical(want)), &w)
	return diffAt("data", g, w)
}

func diffAt(path string, g, w any) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want %s", path, short(g), short(w))
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range wv {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			if d := diffAt(path+"."+k, gv[k], wv[k]); d != "" {
				return d
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Sprintf("%s: got %s, want %s", path, short(g), short(w))
		}
		for i := range wv {
			if d := diffAt(fmt.Sprintf("%s[%d]", path, i), gv[i], wv[i]); d != "" {
				return d
			}
		}
	default:
		if canonical(g) != canonical(w) {
			return fmt.Sprintf("%s: got %s, want %s", path, short(g), short(w))
		}
	}
	return ""
}

func short(v any) string {
	s := canonical(v)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

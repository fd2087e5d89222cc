package main

// Tests of the mirror's operator tools: `todo migrate normalize` and
// `todo sync status|retry|backfill|verify`, run in process against the
// harness's MongoDB-wire server and PostgreSQL.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
	"github.com/todo-backend/todo/storage/postgres"
)

// toolEnv points the commands at a fresh MongoDB database and a fresh,
// empty PostgreSQL database.
type toolEnv struct {
	vars  map[string]string
	db    *mongodriver.Database
	pg    *postgres.DB
	mongo string
}

func newToolEnv(t *testing.T) *toolEnv {
	t.Helper()
	uri, name, dsn := testenv.MongoURI(t), testenv.MongoDatabase(t), testenv.PostgresDSN(t)
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	pg, err := postgres.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	vars := map[string]string{"MONGODB_URI": uri, "DB_NAME": name, "POSTGRES_DSN": dsn, "DATA_DIR": t.TempDir()}
	isolateEnv(t, vars)
	return &toolEnv{vars: vars, db: client.Database(name), pg: pg, mongo: uri}
}

// todo runs one command line and returns its exit code and output.
func todo(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustTodo runs a command that must exit 0.
func mustTodo(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := todo(t, args...)
	if code != 0 {
		t.Fatalf("todo %s: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

var countLine = regexp.MustCompile(`(?m)^(\S+)\s+(\d+) scanned\s+(\d+) (normalized|written)(?: (\d+) failed)?\s*$`)

// counted parses the per-collection lines of normalize and backfill into
// collection → [scanned, changed, failed].
func counted(t *testing.T, out string) map[string][3]int {
	t.Helper()
	got := map[string][3]int{}
	for _, m := range countLine.FindAllStringSubmatch(out, -1) {
		var n [3]int
		for i, s := range []string{m[2], m[3], m[5]} {
			if s != "" {
				n[i], _ = strconv.Atoi(s)
			}
		}
		got[m[1]] = n
	}
	return got
}

// Documents shaped as the original service wrote them (reference §2):
// ObjectId _ids, references as 24-hex strings, dates as ISO strings (naive,
// with an offset, or with Z), no version, camelCase for tasks, labels and
// the watchlist and snake_case elsewhere, and a stray field or two.
type originalData struct {
	docs map[string][]bson.D
	// ids worth checking by name.
	task1, task2, team, label1, label2, user1 bson.ObjectID
	created                                   time.Time
}

func originalDocuments() originalData {
	var d originalData
	id := bson.NewObjectID
	d.user1, d.task1, d.task2, d.team, d.label1, d.label2 = id(), id(), id(), id(), id(), id()
	user2 := id()
	u1, u2, team, t1, t2 := d.user1.Hex(), user2.Hex(), d.team.Hex(), d.task1.Hex(), d.task2.Hex()
	d.created = time.Date(2025, 8, 1, 12, 34, 56, 123000000, time.UTC)
	const (
		created = "2025-08-01T12:34:56.123456" // pydantic's naive UTC
		updated = "2025-08-03T09:00:00.250000+00:00"
		due     = "2025-08-10T00:00:00Z"
	)
	d.docs = map[string][]bson.D{
		mongo.CollUsers: {
			{{Key: "_id", Value: d.user1}, {Key: "google_id", Value: "104500001"}, {Key: "email_id", Value: "ada@example.com"},
				{Key: "name", Value: "Ada"}, {Key: "picture", Value: "https://example.com/ada.png"},
				{Key: "created_at", Value: created}, {Key: "updated_at", Value: updated}},
			{{Key: "_id", Value: user2}, {Key: "google_id", Value: "104500002"}, {Key: "email_id", Value: "bob@example.com"},
				{Key: "name", Value: "Bob"}, {Key: "picture", Value: nil}, {Key: "created_at", Value: created},
				{Key: "updated_at", Value: nil}},
		},
		mongo.CollLabels: {
			{{Key: "_id", Value: d.label1}, {Key: "name", Value: "Feature"}, {Key: "color", Value: "#22c55e"},
				{Key: "description", Value: "New functionality"}, {Key: "isDeleted", Value: false},
				{Key: "createdAt", Value: created}, {Key: "updatedAt", Value: nil}, {Key: "createdBy", Value: "system"},
				{Key: "updatedBy", Value: nil}},
			{{Key: "_id", Value: d.label2}, {Key: "name", Value: "Bug"}, {Key: "color", Value: "#ef4444"},
				{Key: "isDeleted", Value: false}, {Key: "createdAt", Value: created}, {Key: "createdBy", Value: "system"}},
		},
		mongo.CollTasks: {
			{{Key: "_id", Value: d.task1}, {Key: "displayId", Value: "#1"}, {Key: "title", Value: "Port the API"},
				{Key: "description", Value: "From the original"}, {Key: "priority", Value: int32(1)}, {Key: "status", Value: "TODO"},
				{Key: "isAcknowledged", Value: false}, {Key: "labels", Value: bson.A{d.label1.Hex(), d.label2.Hex()}},
				{Key: "isDeleted", Value: false}, {Key: "deferredDetails", Value: nil}, {Key: "startedAt", Value: nil},
				{Key: "dueAt", Value: due}, {Key: "createdAt", Value: created}, {Key: "updatedAt", Value: nil},
				{Key: "createdBy", Value: u1}, {Key: "updatedBy", Value: nil}},
			{{Key: "_id", Value: d.task2}, {Key: "displayId", Value: "#2"}, {Key: "title", Value: "Later"},
				{Key: "description", Value: nil}, {Key: "priority", Value: int32(3)}, {Key: "status", Value: "IN_PROGRESS"},
				{Key: "isAcknowledged", Value: true}, {Key: "labels", Value: bson.A{}}, {Key: "isDeleted", Value: false},
				{Key: "deferredDetails", Value: bson.D{{Key: "deferredAt", Value: updated},
					{Key: "deferredTill", Value: "2025-08-09T00:00:00+00:00"}, {Key: "deferredBy", Value: u2}}},
				{Key: "startedAt", Value: created}, {Key: "dueAt", Value: due}, {Key: "createdAt", Value: created},
				{Key: "updatedAt", Value: updated}, {Key: "createdBy", Value: u2}, {Key: "updatedBy", Value: u2}},
		},
		mongo.CollTaskDetails: {
			{{Key: "_id", Value: id()}, {Key: "task_id", Value: t1}, {Key: "assignee_id", Value: u2},
				{Key: "user_type", Value: "user"}, {Key: "is_active", Value: true}, {Key: "team_id", Value: team},
				{Key: "executor_id", Value: nil}, {Key: "created_by", Value: u1}, {Key: "updated_by", Value: nil},
				{Key: "created_at", Value: created}, {Key: "updated_at", Value: nil}},
			{{Key: "_id", Value: id()}, {Key: "task_id", Value: t2}, {Key: "assignee_id", Value: team},
				{Key: "user_type", Value: "team"}, {Key: "is_active", Value: false}, {Key: "team_id", Value: team},
				{Key: "executor_id", Value: nil}, {Key: "created_by", Value: u1}, {Key: "updated_by", Value: u1},
				{Key: "created_at", Value: created}, {Key: "updated_at", Value: updated}},
		},
		mongo.CollTeams: {
			{{Key: "_id", Value: d.team}, {Key: "name", Value: "Platform"}, {Key: "description", Value: nil},
				{Key: "invite_code", Value: "AB12CD"}, {Key: "poc_id", Value: u1}, {Key: "created_by", Value: u1},
				{Key: "updated_by", Value: u1}, {Key: "created_at", Value: created}, {Key: "updated_at", Value: updated},
				{Key: "is_deleted", Value: false}},
		},
		mongo.CollUserTeamDetails: {
			{{Key: "_id", Value: id()}, {Key: "user_id", Value: u1}, {Key: "team_id", Value: team}, {Key: "role_id", Value: "1"},
				{Key: "is_active", Value: true}, {Key: "created_by", Value: u1}, {Key: "updated_by", Value: u1},
				{Key: "created_at", Value: created}, {Key: "updated_at", Value: created}},
			{{Key: "_id", Value: id()}, {Key: "user_id", Value: u2}, {Key: "team_id", Value: team}, {Key: "role_id", Value: "1"},
				{Key: "is_active", Value: true}, {Key: "created_by", Value: u1}, {Key: "updated_by", Value: u1},
				{Key: "created_at", Value: updated}, {Key: "updated_at", Value: updated}},
		},
		mongo.CollRoles: {
			{{Key: "_id", Value: id()}, {Key: "name", Value: "owner"}, {Key: "description", Value: "Owner"},
				{Key: "scope", Value: "TEAM"}, {Key: "is_active", Value: true}, {Key: "created_by", Value: "system"},
				{Key: "created_at", Value: created}},
		},
		mongo.CollUserRoles: {
			{{Key: "_id", Value: id()}, {Key: "user_id", Value: u1}, {Key: "role_name", Value: "owner"},
				{Key: "scope", Value: "TEAM"}, {Key: "team_id", Value: team}, {Key: "is_active", Value: true},
				{Key: "created_at", Value: created}, {Key: "created_by", Value: "system"}},
		},
		mongo.CollWatchlist: {
			{{Key: "_id", Value: id()}, {Key: "taskId", Value: t1}, {Key: "userId", Value: u2}, {Key: "isActive", Value: true},
				{Key: "createdAt", Value: created}, {Key: "createdBy", Value: u2}},
		},
		mongo.CollAuditLogs: {
			{{Key: "_id", Value: id()}, {Key: "task_id", Value: t2}, {Key: "team_id", Value: team},
				{Key: "previous_executor_id", Value: nil}, {Key: "new_executor_id", Value: nil}, {Key: "spoc_id", Value: nil},
				{Key: "action", Value: "assigned_to_team"}, {Key: "timestamp", Value: created + "Z"},
				{Key: "status_from", Value: nil}, {Key: "status_to", Value: nil}, {Key: "assignee_from", Value: nil},
				{Key: "assignee_to", Value: team}, {Key: "performed_by", Value: u1}},
		},
		mongo.CollTeamCreationCode: {
			{{Key: "_id", Value: id()}, {Key: "code", Value: "XY98ZW"}, {Key: "description", Value: nil},
				{Key: "created_by", Value: u1}, {Key: "created_at", Value: created}, {Key: "used_at", Value: updated},
				{Key: "used_by", Value: u1}, {Key: "is_used", Value: true}},
		},
	}
	return d
}

// TestBackfillOriginalDatabase takes a database as the original service
// left it through normalize, backfill and verify, then damages the mirror
// and has verify find and repair it.
func TestBackfillOriginalDatabase(t *testing.T) {
	start := time.Now()
	env := newToolEnv(t)
	ctx := context.Background()
	data := originalDocuments()
	if len(data.docs) != len(mongo.MirroredCollections) {
		t.Fatalf("fixture covers %d collections, want every mirrored one (%d)", len(data.docs), len(mongo.MirroredCollections))
	}
	for coll, docs := range data.docs {
		in := make([]any, len(docs))
		for i := range docs {
			in[i] = docs[i]
		}
		if _, err := env.db.Collection(coll).InsertMany(ctx, in); err != nil {
			t.Fatalf("inserting %s: %v", coll, err)
		}
	}

	out := mustTodo(t, "migrate", "normalize")
	got := counted(t, out)
	for coll, docs := range data.docs {
		if n := got[coll]; n != [3]int{len(docs), len(docs), 0} {
			t.Errorf("normalize %s: got %d scanned, %d normalized, %d failed, want %d, %d, 0\n%s", coll, n[0], n[1], n[2],
				len(docs), len(docs), out)
		}
	}
	var task bson.Raw
	if err := env.db.Collection(mongo.CollTasks).FindOne(ctx, bson.D{{Key: "_id", Value: data.task1}}).Decode(&task); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]bson.Type{"createdAt": bson.TypeDateTime, "dueAt": bson.TypeDateTime,
		"createdBy": bson.TypeObjectID, "version": bson.TypeInt64} {
		if v, err := task.LookupErr(field); err != nil || v.Type != want {
			t.Errorf("normalized task %s: got %v (%v), want BSON %s", field, v.Type, err, want)
		}
	}
	if got := task.Lookup("createdAt").Time().UTC(); !got.Equal(data.created) {
		t.Errorf("normalized task createdAt: got %s, want %s", got, data.created)
	}
	out = mustTodo(t, "migrate", "normalize")
	for coll, n := range counted(t, out) {
		if n[1] != 0 || n[2] != 0 {
			t.Errorf("second normalize %s: got %d normalized, %d failed, want 0 and 0", coll, n[1], n[2])
		}
	}
	if len(counted(t, out)) != len(mongo.MirroredCollections) {
		t.Errorf("second normalize: got lines for %d collections, want %d\n%s", len(counted(t, out)), len(mongo.MirroredCollections), out)
	}

	out = mustTodo(t, "sync", "backfill")
	got = counted(t, out)
	for _, coll := range mirror.Collections {
		n := len(data.docs[coll])
		if got[coll] != [3]int{n, n, 0} {
			t.Errorf("backfill %s: got %d scanned, %d written, want %d and %d\n%s", coll, got[coll][0], got[coll][1], n, n, out)
		}
	}
	out = mustTodo(t, "sync", "backfill")
	got = counted(t, out)
	for _, coll := range mirror.Collections {
		if n := len(data.docs[coll]); got[coll] != [3]int{n, 0, 0} {
			t.Errorf("second backfill %s: got %d scanned, %d written, want %d and 0\n%s", coll, got[coll][0], got[coll][1], n, out)
		}
	}
	// A spot check of values, beyond verify's own comparison.
	var title, createdBy string
	var createdAt time.Time
	if err := env.pg.Bun.QueryRowContext(ctx, `SELECT title, created_by, created_at FROM postgres_tasks WHERE mongo_id = ?`,
		data.task1.Hex()).Scan(&title, &createdBy, &createdAt); err != nil {
		t.Fatal(err)
	}
	if title != "Port the API" || createdBy != data.user1.Hex() || !createdAt.Equal(data.created) {
		t.Errorf("task row: got %q %q %s, want %q %q %s", title, createdBy, createdAt, "Port the API", data.user1.Hex(), data.created)
	}
	var labels int
	if err := env.pg.Bun.QueryRowContext(ctx, `SELECT count(*) FROM postgres_task_labels l JOIN postgres_tasks t ON t.id = l.task_id
		WHERE t.mongo_id = ?`, data.task1.Hex()).Scan(&labels); err != nil {
		t.Fatal(err)
	}
	if labels != 2 {
		t.Errorf("label rows of the task: got %d, want 2", labels)
	}

	out = mustTodo(t, "sync", "verify")
	if !strings.Contains(out, "the mirror holds exactly what MongoDB holds") {
		t.Errorf("verify after backfill: got\n%s\nwant it to say the mirror holds exactly what MongoDB holds", out)
	}

	// Damage the mirror: a changed title, a deleted row, a row of nothing.
	ghost := bson.NewObjectID().Hex()
	for _, q := range []string{
		`UPDATE postgres_tasks SET title = 'tampered' WHERE mongo_id = '` + data.task1.Hex() + `'`,
		`DELETE FROM postgres_teams WHERE mongo_id = '` + data.team.Hex() + `'`,
		`INSERT INTO postgres_audit_logs (mongo_id, action, "timestamp", version) VALUES ('` + ghost + `', 'ghost', now(), 1)`,
	} {
		if _, err := env.pg.Bun.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	code, out, errOut := todo(t, "sync", "verify")
	if code != 1 {
		t.Errorf("verify of a damaged mirror: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"different tasks " + data.task1.Hex() + ` title: got "tampered", want "Port the API"`,
		"missing teams " + data.team.Hex(),
		"extra audit_logs " + ghost,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify of a damaged mirror: output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "1 missing, 1 extra, 1 different") {
		t.Errorf("verify of a damaged mirror: stderr %q, want the totals 1 missing, 1 extra, 1 different", errOut)
	}
	out = mustTodo(t, "sync", "verify", "--repair")
	if !strings.Contains(out, "repaired 3") {
		t.Errorf("verify --repair: got\n%s\nwant repaired 3", out)
	}
	out = mustTodo(t, "sync", "verify")
	if !strings.Contains(out, "the mirror holds exactly what MongoDB holds") {
		t.Errorf("verify after repair: got\n%s", out)
	}
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}

// TestSyncStatusAndRetry: status lists every collection with its counts;
// retry applies a FAILED write, and with nothing failed does nothing and
// succeeds.
func TestSyncStatusAndRetry(t *testing.T) {
	env := newToolEnv(t)
	ctx := context.Background()
	out := mustTodo(t, "sync", "status")
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "collection") {
		t.Errorf("status header: got %q, want it to start with collection", lines[0])
	}
	for _, coll := range mirror.Collections {
		re := regexp.MustCompile(`(?m)^` + coll + `\s+0\s+0\s+0\s+-\s*$`)
		if !re.MatchString(out) {
			t.Errorf("status of an empty mirror: no line `%s 0 0 0 -` in\n%s", coll, out)
		}
	}
	if !strings.Contains(out, "pending 0, failed 0") {
		t.Errorf("status totals: got\n%s\nwant pending 0, failed 0", out)
	}
	out = mustTodo(t, "sync", "retry")
	if !strings.Contains(out, "retried 0; now pending 0, failed 0") {
		t.Errorf("retry with nothing failed: got %q, want retried 0; now pending 0, failed 0", out)
	}

	// A task whose mirror write FAILED after its attempts.
	taskID := bson.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := env.db.Collection(mongo.CollTasks).InsertOne(ctx, bson.D{{Key: "_id", Value: taskID},
		{Key: "displayId", Value: "#7"}, {Key: "title", Value: "Failed to mirror"}, {Key: "priority", Value: int32(3)},
		{Key: "status", Value: "TODO"}, {Key: "isAcknowledged", Value: false}, {Key: "labels", Value: bson.A{}},
		{Key: "isDeleted", Value: false}, {Key: "createdAt", Value: now}, {Key: "createdBy", Value: bson.NewObjectID()},
		{Key: "version", Value: int64(1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.db.Collection(mongo.CollMirrorIntents).InsertOne(ctx, mongo.Intent{ID: bson.NewObjectID(),
		Coll: mongo.CollTasks, DocID: taskID.Hex(), Token: "test", State: mongo.IntentFailed, CreatedAt: now.Add(-time.Minute),
		NextAttemptAt: now.Add(time.Hour), Attempts: 3, LastError: "connection refused", FirstFailedAt: now.Add(-time.Minute),
		LastFailedAt: now}); err != nil {
		t.Fatal(err)
	}
	out = mustTodo(t, "sync", "status")
	if !regexp.MustCompile(`(?m)^tasks\s+0\s+0\s+1\s`).MatchString(out) || !strings.Contains(out, "pending 0, failed 1") {
		t.Errorf("status with a FAILED task write: got\n%s\nwant tasks with 1 failed and the totals pending 0, failed 1", out)
	}
	out = mustTodo(t, "sync", "retry", "--collection", "tasks")
	if !strings.Contains(out, "retried 1; now pending 0, failed 0") {
		t.Errorf("retry of the FAILED write: got %q, want retried 1; now pending 0, failed 0", out)
	}
	var title string
	if err := env.pg.Bun.QueryRowContext(ctx, `SELECT title FROM postgres_tasks WHERE mongo_id = ?`, taskID.Hex()).Scan(&title); err != nil || title != "Failed to mirror" {
		t.Errorf("row after retry: got %q (%v), want the task's", title, err)
	}
	out = mustTodo(t, "sync", "status")
	if !regexp.MustCompile(`(?m)^tasks\s+1\s+0\s+0\s+\d{4}-`).MatchString(out) {
		t.Errorf("status after retry: got\n%s\nwant tasks with 1 row, nothing pending or failed and a last sync time", out)
	}
}

// TestSyncBadUsage: command lines that make no sense exit 2 with the usage;
// a collection that is not mirrored is named in a one-line error.
func TestSyncBadUsage(t *testing.T) {
	newToolEnv(t)
	for _, tt := range []struct {
		args    []string
		want    []int
		wantErr string
	}{
		{[]string{"sync"}, []int{2}, "sync takes one of status, retry, backfill, verify"},
		{[]string{"sync", "frob"}, []int{2}, `unknown sync command "frob"`},
		{[]string{"sync", "status", "extra"}, []int{2}, `unexpected arguments ["extra"]`},
		{[]string{"sync", "verify", "--bogus"}, []int{2}, "flag provided but not defined: -bogus"},
		{[]string{"sync", "retry", "--id", bson.NewObjectID().Hex()}, []int{2}, "--id needs --collection"},
		{[]string{"sync", "verify", "--collection", "nope"}, []int{1, 2}, `not a mirrored collection: "nope"`},
		{[]string{"sync", "backfill", "--collection", "nope"}, []int{1, 2}, `not a mirrored collection: "nope"`},
		{[]string{"sync", "retry", "--collection", "nope"}, []int{1, 2}, `not a mirrored collection: "nope"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := todo(t, tt.args...)
			if !slices.Contains(tt.want, code) {
				t.Errorf("exit code: got %d, want one of %v\nstderr: %s", code, tt.want, errOut)
			}
			if !strings.Contains(errOut, "todo: ") || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr: got %q, want a todo: line containing %q", errOut, tt.wantErr)
			}
			if code == 2 && !strings.Contains(errOut, "Usage:") {
				t.Errorf("a usage error must show the usage; stderr %q", errOut)
			}
			if strings.TrimSpace(out) != "" {
				t.Errorf("stdout: got %q, want nothing (no table of zeroes for a command that failed)", out)
			}
		})
	}
}

// TestSyncUsageCheckedBeforeConnecting: a mistyped subcommand is a usage
// error (exit 2) at once, even when the databases are unreachable; it must
// not wait for them, nor migrate them.
func TestSyncUsageCheckedBeforeConnecting(t *testing.T) {
	isolateEnv(t, map[string]string{
		"DATA_DIR":     t.TempDir(),
		"MONGODB_URI":  fmt.Sprintf("mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=300&connectTimeoutMS=300", freePort(t)),
		"POSTGRES_DSN": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?connect_timeout=1", freePort(t)),
	})
	start := time.Now()
	code, _, errOut := todo(t, "sync", "frob")
	if code != 2 || !strings.Contains(errOut, `unknown sync command "frob"`) {
		t.Errorf("todo sync frob with the databases down: got exit %d after %s, stderr %q; want exit 2 naming the unknown command",
			code, time.Since(start).Round(time.Millisecond), errOut)
	}
}

// TestFreshInstallMirrorsTheSeeds: on a fresh installation the service
// seeds labels and roles into MongoDB; dual-writing is on, so they must
// reach the mirror with no manual step, and verify must find no difference.
func TestFreshInstallMirrorsTheSeeds(t *testing.T) {
	env := newToolEnv(t)
	serveEnv := map[string]string{"DUAL_WRITE_RETRY_DELAY": "1"}
	for k, v := range env.vars {
		serveEnv[k] = v
	}
	s := startServe(t, serveEnv)
	s.waitHealth(t, http.StatusOK, "UP", "UP")
	s.labels(t) // the seeds are in MongoDB, and the dev login wrote a user
	var code int
	var out, errOut string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if code, out, errOut = todo(t, "sync", "verify"); code == 0 {
			return
		}
	}
	t.Errorf("verify of a fresh installation 10s after start: exit %d, want 0\n%s%s", code, out, lastLine(errOut))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// listQuery is the nested selection of SPEC §7.
const listQuery = `{ tasks(first: 100) { totalCount nodes {
	id displayId title status priority inWatchlist labels { id name color }
	assignment { id team { id name } assignee { __typename ... on User { id name } ... on Team { id name } } }
	createdBy { id name } updatedBy { id name } deferredDetails { deferredTill deferredBy { id name } }
} } }`

const createQuery = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`
const updateQuery = `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`

// measureServer seeds a user's tasks and measures the list and the two
// mutations at each client count. The lists run first, and the raw-driver
// baseline (when raw is set) right after them on the same data; the load's
// new tasks go to another user, so every list reads the same tasks.
func measureServer(ctx context.Context, srv *process, mode string, o benchOptions, raw func() ([]result, error)) ([]result, error) {
	viewer, creator, err := benchUsers(srv.base)
	if err != nil {
		return nil, err
	}
	var labels struct {
		Labels struct{ Nodes []struct{ ID string } }
	}
	// The server answers health before its start-up seeding (the labels)
	// is done: wait for it.
	for deadline := time.Now().Add(30 * time.Second); len(labels.Labels.Nodes) == 0; time.Sleep(200 * time.Millisecond) {
		if err := viewer.do("{ labels(first: 8) { nodes { id } } }", nil, &labels); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no labels seeded within 30 s")
		}
	}
	labelPair := func(i int) []string {
		n := labels.Labels.Nodes
		return []string{n[i%len(n)].ID, n[(i+3)%len(n)].ID}
	}
	fmt.Fprintf(os.Stderr, "dual-write %s: seeding %d tasks…\n", mode, o.tasks)
	var ids []string
	for i := range o.tasks {
		var t struct{ CreateTask struct{ ID string } }
		in := map[string]any{"title": fmt.Sprintf("seed %d", i), "labelIds": labelPair(i), "assignee": map[string]any{"userId": viewer.id}}
		if err := creator.do(createQuery, map[string]any{"in": in}, &t); err != nil {
			return nil, err
		}
		ids = append(ids, t.CreateTask.ID)
		if i%2 == 0 {
			if err := viewer.do(`mutation($id: ID!) { watchTask(taskId: $id) { id } }`, map[string]any{"id": t.CreateTask.ID}, nil); err != nil {
				return nil, err
			}
		}
	}
	var out []result
	for _, c := range o.clients {
		out = append(out, load(ctx, "list", mode, c, o.duration, srv.cpuTime, func(int, int) error {
			return viewer.do(listQuery, nil, nil)
		}))
	}
	if raw != nil {
		rs, err := raw()
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	for _, c := range o.clients {
		out = append(out, load(ctx, "createTask", mode, c, o.duration, srv.cpuTime, func(k, i int) error {
			in := map[string]any{"title": fmt.Sprintf("load %d-%d", k, i), "labelIds": labelPair(i), "assignee": map[string]any{"userId": creator.id}}
			return creator.do(createQuery, map[string]any{"in": in}, nil)
		}))
		out = append(out, load(ctx, "updateTask", mode, c, o.duration, srv.cpuTime, func(k, i int) error {
			// Each client updates its own tasks, so clients do not contend
			// for one document.
			id := ids[(k+i*c)%len(ids)]
			return creator.do(updateQuery, map[string]any{"id": id, "t": fmt.Sprintf("v %d-%d", k, i)}, nil)
		}))
	}
	return out, nil
}

// rawBaseline does the list's reads with the driver alone: the viewer's
// assignments, the page of tasks, then one $in each for labels, users,
// teams and watch rows, and JSON out. Its CPU time is this process's.
func rawBaseline(ctx context.Context, uri, dbName string, o benchOptions) ([]result, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, err
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	db := client.Database(dbName)
	var user struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := db.Collection("users").FindOne(ctx, bson.D{{Key: "email_id", Value: "viewer@bench.test"}}).Decode(&user); err != nil {
		return nil, fmt.Errorf("baseline: viewer: %w", err)
	}
	list := func() error {
		var teams []bson.M
		if err := findAll(ctx, db, "teams", bson.D{{Key: "poc_id", Value: user.ID}}, nil, &teams); err != nil {
			return err
		}
		var asg []bson.M
		if err := findAll(ctx, db, "task_details", bson.D{{Key: "assignee_id", Value: user.ID}, {Key: "is_active", Value: true}}, nil, &asg); err != nil {
			return err
		}
		ids := bson.A{}
		for _, a := range asg {
			ids = append(ids, a["task_id"])
		}
		var tasks []bson.M
		opts := options.Find().SetSort(bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(101)
		if err := findAll(ctx, db, "tasks", bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
			{Key: "isDeleted", Value: bson.D{{Key: "$ne", Value: true}}}, {Key: "status", Value: bson.D{{Key: "$ne", Value: "DONE"}}}}, opts, &tasks); err != nil {
			return err
		}
		if _, err := db.Collection("tasks").CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			return err
		}
		labelIDs, userIDs, taskIDs := bson.A{}, bson.A{}, bson.A{}
		for _, t := range tasks {
			if ls, ok := t["labels"].(bson.A); ok {
				labelIDs = append(labelIDs, ls...)
			}
			userIDs = append(userIDs, t["createdBy"], t["updatedBy"])
			taskIDs = append(taskIDs, t["_id"])
		}
		var ls, us, ws []bson.M
		if err := findAll(ctx, db, "labels", bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: labelIDs}}}}, nil, &ls); err != nil {
			return err
		}
		if err := findAll(ctx, db, "users", bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: userIDs}}}}, nil, &us); err != nil {
			return err
		}
		if err := findAll(ctx, db, "watchlist", bson.D{{Key: "userId", Value: user.ID}, {Key: "taskId", Value: bson.D{{Key: "$in", Value: taskIDs}}}}, nil, &ws); err != nil {
			return err
		}
		_, err := json.Marshal(map[string]any{"tasks": tasks, "labels": ls, "users": us, "watch": ws, "assignments": asg, "teams": teams})
		return err
	}
	var out []result
	for _, c := range o.clients {
		out = append(out, load(ctx, "list", "raw-driver", c, o.duration, selfCPU, func(int, int) error { return list() }))
	}
	return out, nil
}

func findAll(ctx context.Context, db *mongo.Database, coll string, filter bson.D, opts *options.FindOptionsBuilder, into any) error {
	var cur *mongo.Cursor
	var err error
	if opts != nil {
		cur, err = db.Collection(coll).Find(ctx, filter, opts)
	} else {
		cur, err = db.Collection(coll).Find(ctx, filter)
	}
	if err != nil {
		return err
	}
	return cur.All(ctx, into)
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveFerret is `bench ferretdb`: FerretDB v1 on PostgreSQL in this
// process until SIGTERM.
func serveFerret(args []string) error {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:27017", "address")
	pg := fs.String("pg", "", "PostgreSQL URL of FerretDB's database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *pg,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return f.Run(ctx)
}

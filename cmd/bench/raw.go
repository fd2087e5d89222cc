package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	store "github.com/todo-backend/todo/storage/mongo"
)

// rawTarget is the raw-driver baseline: each operation's reads and writes
// done with mongo-driver alone, on the server's database. Its CPU time is
// this process's.
type rawTarget struct {
	uri, dbName string
	client      *mongo.Client
	db          *mongo.Database
	viewer      bson.ObjectID
	creator     bson.ObjectID
	ids         []bson.ObjectID
	// One seeded task as stored, with its assignment and audit entries:
	// createTask's baseline writes copies of them.
	task       bson.M
	assignment bson.M
	audits     []bson.M
}

// prepare connects and reads the templates, after the fixture is seeded.
func (r *rawTarget) prepare(ctx context.Context, f *fixture) error {
	client, err := mongo.Connect(options.Client().ApplyURI(r.uri))
	if err != nil {
		return err
	}
	r.client, r.db = client, client.Database(r.dbName)
	for _, u := range []struct {
		email string
		into  *bson.ObjectID
	}{{"viewer@bench.test", &r.viewer}, {"creator@bench.test", &r.creator}} {
		var user struct {
			ID bson.ObjectID `bson:"_id"`
		}
		if err := r.db.Collection(store.CollUsers).FindOne(ctx, bson.D{{Key: "email_id", Value: u.email}}).Decode(&user); err != nil {
			return fmt.Errorf("baseline: %s: %w", u.email, err)
		}
		*u.into = user.ID
	}
	for _, id := range f.ids {
		oid, err := bson.ObjectIDFromHex(id)
		if err != nil {
			return err
		}
		r.ids = append(r.ids, oid)
	}
	if err := r.db.Collection(store.CollTasks).FindOne(ctx, bson.D{{Key: "_id", Value: r.ids[0]}}).Decode(&r.task); err != nil {
		return fmt.Errorf("baseline: template task: %w", err)
	}
	either := bson.D{{Key: "$in", Value: bson.A{r.ids[0], r.ids[0].Hex()}}}
	if err := r.db.Collection(store.CollTaskDetails).FindOne(ctx, bson.D{{Key: "task_id", Value: either}}).Decode(&r.assignment); err != nil {
		return fmt.Errorf("baseline: template assignment: %w", err)
	}
	if err := findAll(ctx, r.db, store.CollAuditLogs, bson.D{{Key: "task_id", Value: either}}, nil, &r.audits); err != nil || len(r.audits) == 0 {
		return fmt.Errorf("baseline: template audit entries (%d): %w", len(r.audits), err)
	}
	return nil
}

func (r *rawTarget) close() {
	if r != nil && r.client != nil {
		_ = r.client.Disconnect(context.Background())
	}
}

func (r *rawTarget) op(name string, c int) func(k, i int) error {
	switch name {
	case "list":
		return func(int, int) error { return r.list(context.Background()) }
	case "updateTask":
		return func(k, i int) error {
			return r.update(context.Background(), r.ids[(k+i*c)%len(r.ids)], fmt.Sprintf("raw %d-%d", k, i))
		}
	default:
		return func(k, i int) error { return r.create(context.Background(), fmt.Sprintf("raw load %d-%d", k, i)) }
	}
}

// list does the list's reads: the viewer's teams and assignments, the page
// of tasks, its count, then one $in each for labels, users and watch rows,
// and JSON out.
func (r *rawTarget) list(ctx context.Context) error {
	db := r.db
	var teams []bson.M
	if err := findAll(ctx, db, store.CollTeams, bson.D{{Key: "poc_id", Value: r.viewer}}, nil, &teams); err != nil {
		return err
	}
	var asg []bson.M
	if err := findAll(ctx, db, store.CollTaskDetails, bson.D{{Key: "assignee_id", Value: r.viewer}, {Key: "is_active", Value: true}}, nil, &asg); err != nil {
		return err
	}
	ids := bson.A{}
	for _, a := range asg {
		ids = append(ids, a["task_id"])
	}
	var tasks []bson.M
	opts := options.Find().SetSort(bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(101)
	if err := findAll(ctx, db, store.CollTasks, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: "isDeleted", Value: bson.D{{Key: "$ne", Value: true}}}, {Key: "status", Value: bson.D{{Key: "$ne", Value: "DONE"}}}}, opts, &tasks); err != nil {
		return err
	}
	if _, err := db.Collection(store.CollTasks).CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
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
	if err := findAll(ctx, db, store.CollLabels, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: labelIDs}}}}, nil, &ls); err != nil {
		return err
	}
	if err := findAll(ctx, db, store.CollUsers, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: userIDs}}}}, nil, &us); err != nil {
		return err
	}
	if err := findAll(ctx, db, store.CollWatchlist, bson.D{{Key: "userId", Value: r.viewer}, {Key: "taskId", Value: bson.D{{Key: "$in", Value: taskIDs}}}}, nil, &ws); err != nil {
		return err
	}
	_, err := json.Marshal(map[string]any{"tasks": tasks, "labels": ls, "users": us, "watch": ws, "assignments": asg, "teams": teams})
	return err
}

// update reads the task, then writes the new title where the version is
// still the one read, returning the stored document, and JSON out.
func (r *rawTarget) update(ctx context.Context, id bson.ObjectID, title string) error {
	tasks := r.db.Collection(store.CollTasks)
	var t bson.M
	if err := tasks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t); err != nil {
		return err
	}
	var saved bson.M
	err := tasks.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: t["version"]}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "title", Value: title}, {Key: "updatedAt", Value: time.Now()}, {Key: "updatedBy", Value: r.creator}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&saved)
	if err != nil {
		return err
	}
	_, err = json.Marshal(saved)
	return err
}

// create writes what createTask writes, each document with one command:
// the next display number, the task, its assignment (to the creator) and
// its audit entries, copies of a seeded task's.
func (r *rawTarget) create(ctx context.Context, title string) error {
	var counter struct {
		Seq int64 `bson:"seq"`
	}
	if err := r.db.Collection(store.CollCounters).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: store.TaskCounterID}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&counter); err != nil {
		return err
	}
	now := time.Now()
	task := maps.Clone(r.task)
	id := bson.NewObjectID()
	// The display number is the counter's, made unique by the id: FerretDB
	// does not make an increment atomic across connections (the server
	// serializes its own), so two clients here may read the same number.
	task["_id"], task["displayId"], task["title"], task["createdAt"], task["updatedAt"] = id, fmt.Sprintf("#%d-%s", counter.Seq, id.Hex()), title, now, now
	task["createdBy"], task["updatedBy"] = r.creator, r.creator
	if _, err := r.db.Collection(store.CollTasks).InsertOne(ctx, task); err != nil {
		return err
	}
	a := maps.Clone(r.assignment)
	a["_id"], a["task_id"], a["assignee_id"], a["created_at"], a["updated_at"] = bson.NewObjectID(), id, r.creator, now, now
	if _, ok := a["active_task_id"]; ok {
		a["active_task_id"] = id // the unique index on the active assignment
	}
	if _, err := r.db.Collection(store.CollTaskDetails).InsertOne(ctx, a); err != nil {
		return err
	}
	for _, tmpl := range r.audits {
		e := maps.Clone(tmpl)
		e["_id"], e["task_id"], e["timestamp"] = bson.NewObjectID(), id, now
		if _, err := r.db.Collection(store.CollAuditLogs).InsertOne(ctx, e); err != nil {
			return err
		}
	}
	_, err := json.Marshal(task)
	return err
}

package storage

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// Display ids are unique by index, not by trust in the counter: with the
// counter set back (a database restored, or written before the counter), a
// create skips the numbers taken and gets a free one.
func TestDisplayIDsStayUnique(t *testing.T) {
	t.Parallel()
	s, m := newSeeded(t)
	ctx := t.Context()
	actor := bson.NewObjectID().Hex()
	for range 3 {
		if _, err := s.CreateTask(ctx, actor, models.Task{Title: "t", Status: models.StatusTodo}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Database().Collection(mongo.CollCounters).UpdateOne(ctx, bson.D{{Key: "_id", Value: mongo.TaskCounterID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: int64(1)}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.CreateTask(ctx, actor, models.Task{Title: "after the reset", Status: models.StatusTodo}, nil)
	if err != nil {
		t.Fatalf("create with the counter behind: %v", err)
	}
	if got.DisplayID != "#4" {
		t.Fatalf("display id %s, want #4 (#2 and #3 are taken)", got.DisplayID)
	}
	n, err := m.Database().Collection(mongo.CollTasks).CountDocuments(ctx, bson.D{{Key: "displayId", Value: "#4"}})
	if err != nil || n != 1 {
		t.Fatalf("%d tasks numbered #4 (%v), want 1", n, err)
	}
}

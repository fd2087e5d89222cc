package storage

import (
	"context"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/internal/testenv"
	"github.com/todo-backend/todo/storage/mongo"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// newSeeded builds the facade over a database of the test's own, prepared as
// start-up prepares it: indexes, then seeds.
func newSeeded(t *testing.T) (*Store, *mongo.Store) {
	t.Helper()
	m, err := mongo.Connect(testenv.MongoURI(t), testenv.MongoDatabase(t), mongo.Options{})
	if err != nil {
		t.Fatalf("mongo.Connect: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := m.EnsureIndexes(t.Context()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	if _, err := m.Seed(t.Context(), time.Now().UTC()); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return New(m, Options{}), m
}

// addLabel inserts a label the way the service stores one and returns its id.
func addLabel(t *testing.T, m *mongo.Store, name string) string {
	t.Helper()
	id := bson.NewObjectID()
	_, err := m.Database().Collection(mongo.CollLabels).InsertOne(t.Context(), bson.D{
		{Key: "_id", Value: id}, {Key: "name", Value: name}, {Key: "color", Value: "#123456"},
		{Key: "isDeleted", Value: false}, {Key: "createdAt", Value: time.Now()}, {Key: "createdBy", Value: "system"},
		{Key: "version", Value: int64(1)},
	})
	if err != nil {
		t.Fatalf("insert label %q: %v", name, err)
	}
	return id.Hex()
}

func ptr[T any](v T) *T { return &v }

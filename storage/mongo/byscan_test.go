package mongo

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

// A scope of many ids is matched in this process on FerretDB (byScan), not
// with $in: the pages, their order, the keyset cursors, the counts and the
// summaries must be exactly what the $in query gives.
func TestScopeByScanMatchesIn(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 90 {
		id := bson.NewObjectID().Hex()
		task := models.Task{ID: id, DisplayID: fmt.Sprintf("#%d", i+1), Title: fmt.Sprintf("task %02d", i%7),
			Priority: models.Priority(1 + i%3), Status: []models.TaskStatus{models.StatusTodo, models.StatusInProgress, models.StatusDone}[i%3],
			LabelIDs: []string{bson.NewObjectID().Hex()}, CreatedAt: base.Add(time.Duration(i) * time.Minute), Version: 1}
		updated := base.Add(time.Duration(i%11) * time.Hour) // ties, broken by _id
		task.UpdatedAt = &updated
		if i%4 == 0 {
			due := base.Add(time.Duration(i%5) * 24 * time.Hour)
			task.DueAt = &due
		}
		if i%9 == 0 {
			task.DeferredDetails = &models.DeferredDetails{DeferredAt: base, DeferredTill: base.Add(1000 * time.Hour)}
		}
		if err := s.InsertTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		if i%6 != 5 { // the scope: most tasks, not all
			ids = append(ids, id)
		}
	}
	ids = append(ids, "not-an-id")
	// The same store, one path at a time: $in for the list of 1000, by scan
	// past 10.
	inStore, scanStore := withInMax{s, 1000}, withInMax{s, 10}
	if inStore.path(TaskQuery{IDs: ids}) || !scanStore.path(TaskQuery{IDs: ids}) {
		t.Fatal("the two settings do not take the two paths")
	}
	now := base.Add(500 * time.Hour)
	queries := map[string]TaskQuery{}
	for _, order := range []string{OrderUpdatedAt, OrderCreatedAt, OrderDueAt, OrderPriority, OrderTitle} {
		for _, desc := range []bool{false, true} {
			queries[fmt.Sprintf("%s desc=%v", order, desc)] = TaskQuery{IDs: ids, Now: now, Order: order, Desc: desc, Limit: 7}
		}
	}
	queries["done included, deferred"] = TaskQuery{IDs: ids, Now: now, IncludeDone: true, Deferred: DeferredInclude, Order: OrderUpdatedAt, Desc: true, Limit: 9}
	queries["only deferred"] = TaskQuery{IDs: ids, Now: now, Deferred: DeferredOnly, Order: OrderCreatedAt, Limit: 5}
	queries["priorities and search"] = TaskQuery{IDs: ids, Now: now, Priorities: []models.Priority{1, 3}, Search: "task 0", Order: OrderPriority, Limit: 4}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			// Every page to the end, following the cursor.
			var pages int
			for q.After = nil; pages < 40; pages++ {
				want, err := inStore.ListTasks(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got, err := scanStore.ListTasks(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(taskIDs(got), taskIDs(want)) {
					t.Fatalf("page %d: got %v, want %v", pages, taskIDs(got), taskIDs(want))
				}
				if len(want) < q.Limit {
					break
				}
				last := want[len(want)-1]
				q.After = &TaskPosition{Value: positionValue(t, last, q.Order), ID: last.ID}
			}
			if pages < 1 {
				t.Errorf("the query %s listed one page only: the cursor was not tried", name)
			}
			wantN, err := inStore.CountTasks(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			gotN, err := scanStore.CountTasks(ctx, q)
			if err != nil || gotN != wantN || wantN == 0 {
				t.Errorf("count: got %d (%v), want %d (not 0)", gotN, err, wantN)
			}
			wantS, err := inStore.SummaryTasks(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			gotS, err := scanStore.SummaryTasks(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := sortedIDs(gotS), sortedIDs(wantS); !slices.Equal(g, w) {
				t.Errorf("summary: got %d tasks, want %d", len(g), len(w))
			}
		})
	}
}

func taskIDs(ts []models.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func sortedIDs(ts []models.Task) []string {
	out := taskIDs(ts)
	slices.Sort(out)
	return out
}

// positionValue is the order field's value of t, as the cursor holds it.
func positionValue(t *testing.T, task models.Task, order string) any {
	t.Helper()
	switch order {
	case OrderUpdatedAt:
		return *task.UpdatedAt
	case OrderCreatedAt:
		return task.CreatedAt
	case OrderDueAt:
		if task.DueAt == nil {
			return nil
		}
		return *task.DueAt
	case OrderPriority:
		return int(task.Priority)
	case OrderTitle:
		return task.Title
	}
	t.Fatalf("order %q", order)
	return nil
}

// withInMax runs a store's task queries with inMax set.
type withInMax struct {
	s   *Store
	max int
}

func (w withInMax) path(q TaskQuery) bool {
	w.s.inMax = w.max
	return w.s.byScan(q)
}

func (w withInMax) ListTasks(ctx context.Context, q TaskQuery) ([]models.Task, error) {
	w.s.inMax = w.max
	return w.s.ListTasks(ctx, q)
}

func (w withInMax) CountTasks(ctx context.Context, q TaskQuery) (int64, error) {
	w.s.inMax = w.max
	return w.s.CountTasks(ctx, q)
}

func (w withInMax) SummaryTasks(ctx context.Context, q TaskQuery) ([]models.Task, error) {
	w.s.inMax = w.max
	return w.s.SummaryTasks(ctx, q)
}

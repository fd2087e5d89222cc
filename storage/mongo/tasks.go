package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// NextTaskNumber takes the next number of the global task sequence (#1,
// #2, …) atomically; the counter document is created on first use.
func (s *Store) NextTaskNumber(ctx context.Context) (int64, error) {
	unlock, err := s.serialize(CollCounters + ":" + TaskCounterID)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var out struct {
		Seq int64 `bson:"seq"`
	}
	// Two upserts that both find no counter both insert, and one meets the
	// unique _id (the seed races the first create): the counter exists
	// then, and the second try increments it.
	for attempt := 1; ; attempt++ {
		err = s.coll(CollCounters).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: TaskCounterID}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: int64(1)}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&out)
		if !mongo.IsDuplicateKeyError(err) || attempt == 2 {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("mongo: next task number: %w", err)
	}
	return out.Seq, nil
}

// validTaskDoc is a task's document, refusing an id that is no ObjectId
// (ErrInvalidID) instead of writing the zero id.
func validTaskDoc(t models.Task) (taskDoc, error) {
	if _, err := objectID(t.ID); err != nil {
		return taskDoc{}, err
	}
	return taskDocOf(t), nil
}

// InsertTask stores a new task.
func (s *Store) InsertTask(ctx context.Context, t models.Task) error {
	d, err := validTaskDoc(t)
	if err != nil {
		return err
	}
	return s.insert(ctx, CollTasks, d)
}

// UpdateTask writes the changes from before to after and returns the task
// as stored, with its new version.
func (s *Store) UpdateTask(ctx context.Context, before, after models.Task) (models.Task, error) {
	b, err := validTaskDoc(before)
	if err != nil {
		return models.Task{}, err
	}
	a, err := validTaskDoc(after)
	if err != nil {
		return models.Task{}, err
	}
	var out taskDoc
	changed, err := s.patch(ctx, CollTasks, b.ID, b, a, &out)
	if err != nil || !changed {
		return before, err
	}
	return out.model(), nil
}

// TasksByIDs returns the tasks with these ids, in no particular order.
func (s *Store) TasksByIDs(ctx context.Context, ids []string) ([]models.Task, error) {
	var docs []taskDoc
	if err := s.findByIDs(ctx, CollTasks, ids, &docs); err != nil {
		return nil, fmt.Errorf("mongo: tasks by id: %w", err)
	}
	out := make([]models.Task, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// Task order fields, as stored.
const (
	OrderUpdatedAt = "updatedAt"
	OrderCreatedAt = "createdAt"
	OrderDueAt     = "dueAt"
	OrderPriority  = "priority"
	OrderTitle     = "title"
)

// Deferral filters.
const (
	DeferredExclude = "EXCLUDE"
	DeferredOnly    = "ONLY"
	DeferredInclude = "INCLUDE"
)

// TaskQuery selects and orders tasks. Every condition is ANDed.
type TaskQuery struct {
	// IDs, when not nil, restricts the result to these tasks (the scopes
	// are resolved to ids first: FerretDB has no $lookup).
	IDs       []string
	CreatedBy string
	// AssignedTo (a viewer: assigned to them, or to a live team whose POC
	// they are) and InTeam (a team: assigned in its context) are scopes a
	// SQL store resolves inside the query; the mongo store refuses them
	// (its caller resolves scopes to IDs).
	AssignedTo  string
	InTeam      string
	Now         time.Time
	Statuses    []models.TaskStatus
	IncludeDone bool
	Deferred    string
	Priorities  []models.Priority
	LabelIDs    []string
	Search      string
	DueBefore   *time.Time
	DueAfter    *time.Time

	Order string
	Desc  bool
	// After is the keyset position: the order field's value (nil for a
	// missing one) and the id.
	After *TaskPosition
	Limit int
}

// TaskPosition is where a page of tasks ended.
type TaskPosition struct {
	Value any
	ID    string
}

// SplitStatuses splits the statuses asked for as they are matched: the
// stored ones (matched while not deferred), DEFERRED (a deferral running,
// not DONE) and DONE (never reported as deferred). Every store's filter
// matches them so.
func (q TaskQuery) SplitStatuses() (stored []string, deferred, done bool) {
	for _, st := range q.Statuses {
		switch st {
		case models.StatusDeferred:
			deferred = true
		case models.StatusDone:
			done = true
		default:
			stored = append(stored, string(st))
		}
	}
	return stored, deferred, done
}

// notDeferred matches tasks that do not read as DEFERRED at now.
func notDeferred(now time.Time) bson.D {
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "deferredDetails", Value: nil}},
		bson.D{{Key: "deferredDetails.deferredTill", Value: bson.D{{Key: "$lte", Value: now}}}},
	}}}
}

func deferredNow(now time.Time) bson.D {
	return bson.D{{Key: "deferredDetails.deferredTill", Value: bson.D{{Key: "$gt", Value: now}}}}
}

// filter builds the selection, without the keyset position, so the same
// predicate counts (totalCount) and lists.
func (q TaskQuery) filter() (bson.D, error) {
	if q.AssignedTo != "" || q.InTeam != "" {
		return nil, errors.New("mongo: task query: a scope must be resolved to ids first")
	}
	and := bson.A{bson.D{{Key: "isDeleted", Value: bson.D{{Key: "$ne", Value: true}}}}}
	if q.IDs != nil {
		and = append(and, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids(q.IDs)}}}})
	}
	if q.CreatedBy != "" {
		and = append(and, bson.D{{Key: "createdBy", Value: bson.D{{Key: "$in", Value: refIn([]string{q.CreatedBy})}}}})
	}
	switch q.Deferred {
	case DeferredOnly:
		and = append(and, deferredNow(q.Now))
	case DeferredInclude:
	default:
		and = append(and, notDeferred(q.Now))
	}
	if len(q.Statuses) > 0 {
		// Statuses are matched as reported: DEFERRED while deferred, the
		// stored status otherwise (DONE is never reported as deferred).
		stored, wantDeferred, wantDone := q.SplitStatuses()
		or := bson.A{}
		if len(stored) > 0 {
			or = append(or, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: stored}}},
				{Key: "$or", Value: notDeferred(q.Now)[0].Value}})
		}
		if wantDone {
			or = append(or, bson.D{{Key: "status", Value: string(models.StatusDone)}})
		}
		if wantDeferred {
			or = append(or, bson.D{{Key: "status", Value: bson.D{{Key: "$ne", Value: string(models.StatusDone)}}},
				{Key: "deferredDetails.deferredTill", Value: bson.D{{Key: "$gt", Value: q.Now}}}})
		}
		and = append(and, bson.D{{Key: "$or", Value: or}})
	} else if !q.IncludeDone {
		and = append(and, bson.D{{Key: "status", Value: bson.D{{Key: "$ne", Value: string(models.StatusDone)}}}})
	}
	if len(q.Priorities) > 0 {
		ps := bson.A{}
		for _, p := range q.Priorities {
			ps = append(ps, int(p))
		}
		and = append(and, bson.D{{Key: "priority", Value: bson.D{{Key: "$in", Value: ps}}}})
	}
	if len(q.LabelIDs) > 0 {
		and = append(and, bson.D{{Key: "labels", Value: bson.D{{Key: "$in", Value: refIn(q.LabelIDs)}}}})
	}
	if q.Search != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q.Search), Options: "i"}
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "title", Value: re}}, bson.D{{Key: "description", Value: re}},
		}}})
	}
	if q.DueBefore != nil {
		and = append(and, bson.D{{Key: "dueAt", Value: bson.D{{Key: "$lt", Value: *q.DueBefore}}}})
	}
	if q.DueAfter != nil {
		and = append(and, bson.D{{Key: "dueAt", Value: bson.D{{Key: "$gte", Value: *q.DueAfter}}}})
	}
	return bson.D{{Key: "$and", Value: and}}, nil
}

// position is the keyset condition "after this task" for the order.
func (q TaskQuery) position() (bson.D, error) {
	p := q.After
	id, err := objectID(p.ID)
	if err != nil {
		return nil, err
	}
	beyond, idCmp := "$gt", "$gt"
	if q.Desc {
		beyond, idCmp = "$lt", "$lt"
	}
	sameThenID := bson.D{{Key: q.Order, Value: p.Value}, {Key: "_id", Value: bson.D{{Key: idCmp, Value: id}}}}
	if p.Value == nil {
		// A missing value sorts first ascending and last descending.
		if q.Desc {
			return sameThenID, nil
		}
		return bson.D{{Key: "$or", Value: bson.A{sameThenID, bson.D{{Key: q.Order, Value: bson.D{{Key: "$ne", Value: nil}}}}}}}, nil
	}
	or := bson.A{bson.D{{Key: q.Order, Value: bson.D{{Key: beyond, Value: p.Value}}}}, sameThenID}
	if q.Desc {
		or = append(or, bson.D{{Key: q.Order, Value: nil}})
	}
	return bson.D{{Key: "$or", Value: or}}, nil
}

// ListTasks returns up to q.Limit tasks in the query's order.
func (s *Store) ListTasks(ctx context.Context, q TaskQuery) ([]models.Task, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, nil
	}
	f, err := q.filter()
	if err != nil {
		return nil, err
	}
	if q.After != nil {
		pos, err := q.position()
		if err != nil {
			return nil, err
		}
		f = bson.D{{Key: "$and", Value: bson.A{f, pos}}}
	}
	dir := 1
	if q.Desc {
		dir = -1
	}
	cur, err := s.coll(CollTasks).Find(ctx, f, options.Find().
		SetSort(bson.D{{Key: q.Order, Value: dir}, {Key: "_id", Value: dir}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo: list tasks: %w", err)
	}
	var docs []taskDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: list tasks: %w", err)
	}
	out := make([]models.Task, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// CountTasks counts what ListTasks lists for q over all pages.
func (s *Store) CountTasks(ctx context.Context, q TaskQuery) (int64, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return 0, nil
	}
	f, err := q.filter()
	if err != nil {
		return 0, err
	}
	n, err := s.coll(CollTasks).CountDocuments(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("mongo: count tasks: %w", err)
	}
	return n, nil
}

// SummaryTasks returns the tasks of q (all of them, no paging, with only the
// fields a summary needs) for counting in the caller.
func (s *Store) SummaryTasks(ctx context.Context, q TaskQuery) ([]models.Task, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, nil
	}
	q.Deferred, q.IncludeDone, q.Statuses = DeferredInclude, true, nil
	f, err := q.filter()
	if err != nil {
		return nil, err
	}
	proj := bson.D{{Key: "status", Value: 1}, {Key: "deferredDetails", Value: 1}, {Key: "dueAt", Value: 1},
		{Key: "createdAt", Value: 1}, {Key: "updatedAt", Value: 1}}
	cur, err := s.coll(CollTasks).Find(ctx, f, options.Find().SetProjection(proj))
	if err != nil {
		return nil, fmt.Errorf("mongo: summary: %w", err)
	}
	var docs []taskDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: summary: %w", err)
	}
	out := make([]models.Task, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

func oids(ids []string) bson.A {
	out := make(bson.A, 0, len(ids))
	for _, id := range ids {
		if o, err := bson.ObjectIDFromHex(id); err == nil {
			out = append(out, o)
		}
	}
	return out
}

package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
)

// Task list scopes.
const (
	ScopeAssignedToMe = "ASSIGNED_TO_ME"
	ScopeCreatedByMe  = "CREATED_BY_ME"
	ScopeTeam         = "TEAM"
	ScopeWatched      = "WATCHED"
)

// TaskList is a task list request: whose tasks (the scope, resolved for
// Viewer), which ones, in which order, which page.
type TaskList struct {
	Viewer string
	Scope  string
	TeamID string

	Statuses    []models.TaskStatus
	IncludeDone bool
	// Deferred is DeferredExclude (default), DeferredOnly or DeferredInclude.
	Deferred   string
	Priorities []models.Priority
	LabelIDs   []string
	Search     string
	DueBefore  *time.Time
	DueAfter   *time.Time

	// Order is one of the Order* fields (default OrderUpdatedAt); Desc its
	// direction.
	Order string
	Desc  bool
	Page  PageArgs

	// Readable tells which of the viewer's watched tasks they may read now:
	// the WATCHED scope lists and counts only those (a watch is not a grant).
	Readable ReadFilter
}

// ReadFilter answers, for each task, whether the viewer may read it. The
// storage layer knows no permission rules; the caller hands them in.
type ReadFilter func(ctx context.Context, tasks []models.Task) ([]bool, error)

// readable keeps the tasks with the given ids that filter allows, in order;
// with no filter, none (failing closed).
func (s *Store) readable(ctx context.Context, r mirrorReads, ids []string, filter ReadFilter) ([]string, []models.Task, error) {
	if filter == nil || len(ids) == 0 {
		return []string{}, nil, nil
	}
	tasks, err := r.TasksByIDs(ctx, ids)
	if err != nil {
		return nil, nil, translate(err)
	}
	oks, err := filter(ctx, tasks)
	if err != nil {
		return nil, nil, err
	}
	keep := make(map[string]bool, len(tasks))
	var kept []models.Task
	for i, t := range tasks {
		if oks[i] {
			keep[t.ID] = true
			kept = append(kept, t)
		}
	}
	out := make([]string, 0, len(keep))
	for _, id := range ids {
		if keep[id] {
			out = append(out, id)
		}
	}
	return out, kept, nil
}

// TaskPage is a page of tasks plus what resolving the scope already
// learned, for the request's loaders to reuse instead of asking again.
type TaskPage struct {
	Page[models.Task]
	// Count counts the whole selection.
	Count func(ctx context.Context) (int, error)
	// Assignments are the active assignments of (some of) the tasks.
	Assignments []models.TaskAssignment
	// Watched lists tasks known to be watched by the viewer.
	Watched []string
}

// Tasks lists a page of tasks. Scopes are resolved to task ids with one or
// two small queries (FerretDB has no $lookup), then one query lists the page.
func (s *Store) Tasks(ctx context.Context, l TaskList) (TaskPage, error) {
	var out TaskPage
	limit, err := l.Page.limit()
	if err != nil {
		return out, err
	}
	if l.Order != "" && taskOrder(l.Order) == "" {
		return out, invalid("orderBy", "not a task order")
	}
	q := mongo.TaskQuery{Now: s.now(), Statuses: l.Statuses, IncludeDone: l.IncludeDone, Deferred: deferral(l.Deferred),
		Priorities: l.Priorities, LabelIDs: l.LabelIDs, Search: l.Search, DueBefore: l.DueBefore, DueAfter: l.DueAfter,
		Order: taskOrder(l.Order), Desc: l.Desc, Limit: limit + 1}
	if q.Order == "" {
		q.Order, q.Desc = mongo.OrderUpdatedAt, true
	}
	if l.Page.After != nil {
		pos, err := decodeTaskCursor(*l.Page.After, q.Order)
		if err != nil {
			return out, err
		}
		q.After = &pos
	}
	var cmp comparer[TaskPage] = comparePages
	if l.Scope == ScopeWatched {
		cmp = nil // its read filter belongs to the request: nothing to run after it
	}
	return readFamily(ctx, s, FamilyTasks, "tasks "+l.describe(), nil, func(ctx context.Context, r mirrorReads) (TaskPage, error) {
		return s.listTasks(ctx, r, l, q, limit)
	}, cmp)
}

// listTasks lists a page of tasks from one store.
func (s *Store) listTasks(ctx context.Context, r mirrorReads, l TaskList, q mongo.TaskQuery, limit int) (TaskPage, error) {
	var out TaskPage
	if err := s.resolveScope(ctx, r, l, &q, &out); err != nil {
		return out, err
	}
	countQ := q
	countQ.After, countQ.Limit = nil, 0
	out.Count = func(ctx context.Context) (int, error) {
		n, err := r.CountTasks(ctx, countQ)
		if err != nil && r != mirrorReads(s.mongo) && ctx.Err() == nil {
			s.reads.fallback(FamilyTasks, "error")
			n, err = s.mongo.CountTasks(ctx, countQ)
		}
		return int(n), translate(err)
	}
	tasks, err := r.ListTasks(ctx, q)
	if err != nil {
		return out, err
	}
	tasks, out.HasNextPage = trim(tasks, limit)
	out.Edges = make([]Edge[models.Task], len(tasks))
	for i, t := range tasks {
		out.Edges[i] = Edge[models.Task]{Cursor: encodeTaskCursor(t, q.Order), Node: t}
	}
	return out, nil
}

// describe names a list request for a shadow mismatch's record.
func (l TaskList) describe() string {
	after, first := "", "default"
	if l.Page.After != nil {
		after = *l.Page.After
	}
	if l.Page.First != nil {
		first = strconv.Itoa(*l.Page.First)
	}
	return fmt.Sprintf("viewer=%s scope=%s team=%s statuses=%v includeDone=%v deferred=%s priorities=%v labels=%v search=%q dueBefore=%v dueAfter=%v order=%s desc=%v first=%s after=%q",
		l.Viewer, l.Scope, l.TeamID, l.Statuses, l.IncludeDone, l.Deferred, l.Priorities, l.LabelIDs, l.Search,
		l.DueBefore, l.DueAfter, l.Order, l.Desc, first, after)
}

// comparePage compares two pages of documents with ids: the same
// documents in the same order, and the same answer to "is there more".
func comparePage[D any](id func(D) string) comparer[Page[D]] {
	return func(a, b Page[D]) []Difference {
		nodes := func(p Page[D]) []D {
			out := make([]D, len(p.Edges))
			for i, e := range p.Edges {
				out[i] = e.Node
			}
			return out
		}
		d := diffDocs(nodes(a), nodes(b), id, true)
		if a.HasNextPage != b.HasNextPage {
			d = append(d, Difference{ID: "(page)", Fields: []string{"hasNextPage"}})
		}
		return d
	}
}

// comparePages compares two pages: the same tasks in the same order, and
// the same answer to "is there more".
func comparePages(a, b TaskPage) []Difference { return comparePage(taskID)(a.Page, b.Page) }

func taskID(t models.Task) string { return t.ID }

func compareTasks(a, b []models.Task) []Difference { return diffDocs(a, b, taskID, false) }

func compareAssignments(a, b []models.TaskAssignment) []Difference {
	return diffDocs(a, b, func(x models.TaskAssignment) string { return x.ID }, false)
}

func (s *Store) resolveScope(ctx context.Context, r mirrorReads, l TaskList, q *mongo.TaskQuery, out *TaskPage) error {
	if sq, ok := r.(interface{ ScopesInQuery() bool }); ok && sq.ScopesInQuery() {
		switch l.Scope {
		case ScopeTeam:
			q.InTeam = l.TeamID
			return nil
		case ScopeWatched, ScopeCreatedByMe:
		default: // ASSIGNED_TO_ME, as below
			q.AssignedTo = l.Viewer
			return nil
		}
	}
	switch l.Scope {
	case ScopeCreatedByMe:
		q.CreatedBy = l.Viewer
	case ScopeTeam:
		asg, err := r.ActiveAssignmentsInTeams(ctx, []string{l.TeamID})
		if err != nil {
			return err
		}
		q.IDs, out.Assignments = taskIDsOf(asg), asg
	case ScopeWatched:
		rows, err := r.ActiveWatchEntries(ctx, l.Viewer)
		if err != nil {
			return err
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.TaskID
		}
		readable, _, err := s.readable(ctx, r, ids, l.Readable)
		if err != nil {
			return err
		}
		q.IDs, out.Watched = readable, readable
	default: // ASSIGNED_TO_ME: to me, or to a team whose POC I am
		teams, err := r.TeamsWithPOC(ctx, []string{l.Viewer})
		if err != nil {
			return err
		}
		teamIDs := make([]string, len(teams))
		for i, t := range teams {
			teamIDs[i] = t.ID
		}
		asg, err := r.ActiveAssignmentsTo(ctx, []string{l.Viewer}, teamIDs)
		if err != nil {
			return err
		}
		q.IDs, out.Assignments = taskIDsOf(asg), asg
	}
	if q.IDs == nil && l.Scope != ScopeCreatedByMe {
		q.IDs = []string{}
	}
	return nil
}

func taskIDsOf(asg []models.TaskAssignment) []string {
	ids := make([]string, len(asg))
	for i, a := range asg {
		ids[i] = a.TaskID
	}
	return ids
}

// encodeTaskCursor keeps the order field's value of t, so the next page
// starts right after t whatever was inserted meanwhile.
func encodeTaskCursor(t models.Task, order string) string {
	var key *string
	switch order {
	case mongo.OrderCreatedAt:
		key = timeKey(&t.CreatedAt)
	case mongo.OrderDueAt:
		key = timeKey(t.DueAt)
	case mongo.OrderPriority:
		v := strconv.Itoa(int(t.Priority))
		key = &v
	case mongo.OrderTitle:
		key = &t.Title
	default:
		key = timeKey(t.UpdatedAt)
	}
	return encodeCursor(t.ID, key)
}

func timeKey(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC().Format(time.RFC3339Nano)
	return &v
}

func decodeTaskCursor(s, order string) (mongo.TaskPosition, error) {
	c, err := decodeCursor(s, 1)
	if err != nil {
		return mongo.TaskPosition{}, err
	}
	pos := mongo.TaskPosition{ID: c.ID}
	k := c.Keys[0]
	if k == nil {
		return pos, nil
	}
	switch order {
	case mongo.OrderPriority:
		n, err := strconv.Atoi(*k)
		if err != nil {
			return pos, invalid("after", "not a cursor of this order")
		}
		pos.Value = n
	case mongo.OrderTitle:
		pos.Value = *k
	default:
		t, err := time.Parse(time.RFC3339Nano, *k)
		if err != nil {
			return pos, invalid("after", "not a cursor of this order")
		}
		pos.Value = t
	}
	return pos, nil
}

// Summary counts tasks for a dashboard: the viewer's (as the default list
// scope) or a team's. Weeks start on Monday in loc.
type Summary struct {
	ByStatus          map[models.TaskStatus]int
	Overdue           int
	DueThisWeek       int
	CompletedThisWeek int
	CreatedThisWeek   int
}

// TaskSummary counts the tasks of a scope (ASSIGNED_TO_ME or TEAM).
func (s *Store) TaskSummary(ctx context.Context, viewer, teamID string, loc *time.Location) (Summary, error) {
	l := TaskList{Viewer: viewer, Scope: ScopeAssignedToMe}
	if teamID != "" {
		l.Scope, l.TeamID = ScopeTeam, teamID
	}
	now := s.now()
	return readFamily(ctx, s, FamilyTasks, fmt.Sprintf("taskSummary viewer=%s team=%s tz=%s", viewer, teamID, loc), nil,
		func(ctx context.Context, r mirrorReads) (Summary, error) {
			q := mongo.TaskQuery{Now: now}
			var page TaskPage
			if err := s.resolveScope(ctx, r, l, &q, &page); err != nil {
				return Summary{}, err
			}
			tasks, err := r.SummaryTasks(ctx, q)
			if err != nil {
				return Summary{}, err
			}
			return summarize(tasks, now, loc), nil
		}, func(a, b Summary) []Difference { return diffValues("(summary)", a, b) })
}

// summarize counts a summary's tasks at now; weeks start on Monday in loc.
func summarize(tasks []models.Task, now time.Time, loc *time.Location) Summary {
	local := now.In(loc)
	weekStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc).
		AddDate(0, 0, -((int(local.Weekday()) + 6) % 7))
	weekEnd := weekStart.AddDate(0, 0, 7)
	sum := Summary{ByStatus: map[models.TaskStatus]int{}}
	for _, t := range tasks {
		st := t.ReportedStatus(now)
		sum.ByStatus[st]++
		done := t.Status == models.StatusDone
		if t.DueAt != nil && !done {
			if t.DueAt.Before(now) {
				sum.Overdue++
			} else if t.DueAt.Before(weekEnd) {
				sum.DueThisWeek++
			}
		}
		if done && t.UpdatedAt != nil && !t.UpdatedAt.Before(weekStart) {
			sum.CompletedThisWeek++
		}
		if !t.CreatedAt.Before(weekStart) {
			sum.CreatedThisWeek++
		}
	}
	return sum
}

// WatchTask sets the viewer's watch of a task on or off (idempotent).
func (s *Store) WatchTask(ctx context.Context, viewer, taskID string, on bool) (err error) {
	rows, err := s.mongo.WatchEntries(ctx, viewer, []string{taskID})
	if err != nil {
		return translate(err)
	}
	if (len(rows) > 0 && rows[0].IsActive == on) || (len(rows) == 0 && !on) {
		return nil // already so: nothing to write
	}
	op := s.begin()
	defer s.settle(ctx, op, &err)
	id := ""
	if len(rows) > 0 {
		id = rows[0].ID
		err = op.Need(ctx, ref(mongo.CollWatchlist, id))
	} else {
		id, err = op.Take(ctx, mongo.CollWatchlist)
	}
	if err != nil {
		return translate(err)
	}
	e, changed, err := s.mongo.SetWatch(ctx, id, viewer, taskID, on, s.now())
	if err != nil {
		return translate(err)
	}
	if changed {
		op.Wrote(e)
	}
	return nil
}

// WatchEntries returns the viewer's watch rows of the tasks.
func (s *Store) WatchEntries(ctx context.Context, viewer string, taskIDs []string) ([]models.WatchlistEntry, error) {
	return readFamily(ctx, s, FamilyWatchlist, "watchEntries viewer="+viewer, nil,
		func(ctx context.Context, r mirrorReads) ([]models.WatchlistEntry, error) {
			return r.WatchEntries(ctx, viewer, taskIDs)
		}, func(a, b []models.WatchlistEntry) []Difference {
			return diffDocs(a, b, func(w models.WatchlistEntry) string { return w.ID }, false)
		})
}

// Watchlist lists the viewer's watched tasks that filter lets them read,
// most recently watched first (deleted tasks left out).
func (s *Store) Watchlist(ctx context.Context, viewer string, args PageArgs, filter ReadFilter) (TaskPage, error) {
	limit, err := args.limit()
	if err != nil {
		return TaskPage{}, err
	}
	afterID := ""
	if args.After != nil {
		c, err := decodeCursor(*args.After, 0)
		if err != nil {
			return TaskPage{}, err
		}
		afterID = c.ID
	}
	// Not shadowed: the read filter belongs to the request.
	return readFamily(ctx, s, FamilyWatchlist, "watchlist viewer="+viewer, nil,
		func(ctx context.Context, r mirrorReads) (TaskPage, error) {
			return s.watchlist(ctx, r, viewer, limit, afterID, filter)
		}, nil)
}

func (s *Store) watchlist(ctx context.Context, r mirrorReads, viewer string, limit int, afterID string, filter ReadFilter) (TaskPage, error) {
	var out TaskPage
	rows, err := r.ActiveWatchEntries(ctx, viewer)
	if err != nil {
		return out, err
	}
	start := 0
	if afterID != "" {
		start = len(rows)
		for i, row := range rows {
			if row.ID == afterID {
				start = i + 1
				break
			}
		}
	}
	ids := make([]string, 0, len(rows))
	for _, row := range rows {
		ids = append(ids, row.TaskID)
	}
	ids, all, err := s.readable(ctx, r, ids, filter)
	if err != nil {
		return out, err
	}
	out.Watched = ids
	byID := make(map[string]models.Task, len(all))
	for _, t := range all {
		if !t.IsDeleted {
			byID[t.ID] = t
		}
	}
	total := 0
	for _, row := range rows {
		if _, ok := byID[row.TaskID]; ok {
			total++
		}
	}
	out.Count = func(context.Context) (int, error) { return total, nil }
	for _, row := range rows[start:] {
		t, ok := byID[row.TaskID]
		if !ok {
			continue
		}
		if len(out.Edges) == limit {
			out.HasNextPage = true
			break
		}
		out.Edges = append(out.Edges, Edge[models.Task]{Cursor: encodeCursor(row.ID), Node: t})
	}
	return out, nil
}

package resolvers

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/todo-backend/todo/internal/auth"
	"github.com/todo-backend/todo/internal/loaders"
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

func badInput(field, msg string) error { return &storage.FieldError{Field: field, Msg: msg} }

// taskList turns the GraphQL arguments into a storage list request.
func taskList(v *auth.Viewer, f *models.TaskFilter, o *models.TaskOrder, first *int, after *string) (storage.TaskList, error) {
	l := storage.TaskList{Viewer: v.UserID, Scope: storage.ScopeAssignedToMe, Page: storage.PageArgs{First: first, After: after},
		Readable: readableTasks}
	if f != nil {
		if f.Scope != nil {
			l.Scope = string(*f.Scope)
		}
		if f.TeamID != nil {
			if !models.ValidID(*f.TeamID) {
				return l, badInput("filter.teamId", "not a valid id")
			}
			l.TeamID = *f.TeamID
		}
		if l.Scope == storage.ScopeTeam && l.TeamID == "" {
			return l, badInput("filter.teamId", "required with scope TEAM")
		}
		l.Statuses = f.Statuses
		l.IncludeDone = f.IncludeDone != nil && *f.IncludeDone
		if f.Deferred != nil {
			l.Deferred = string(*f.Deferred)
		} else if containsStatus(f.Statuses, models.StatusDeferred) {
			l.Deferred = storage.DeferredInclude // asking for DEFERRED asks for deferred tasks
		}
		l.Priorities = f.Priorities
		for _, id := range f.LabelIds {
			if !models.ValidID(id) {
				return l, badInput("filter.labelIds", "not a valid id: "+id)
			}
		}
		l.LabelIDs = f.LabelIds
		if f.Search != nil {
			if utf8.RuneCountInString(*f.Search) > 200 {
				return l, badInput("filter.search", "at most 200 characters")
			}
			l.Search = strings.TrimSpace(*f.Search)
		}
		l.DueBefore, l.DueAfter = f.DueBefore, f.DueAfter
	}
	if o != nil {
		switch o.Field {
		case models.TaskOrderFieldCreatedAt:
			l.Order, l.Desc = storage.OrderCreatedAt, true
		case models.TaskOrderFieldDueAt:
			l.Order, l.Desc = storage.OrderDueAt, false
		case models.TaskOrderFieldPriority:
			l.Order, l.Desc = storage.OrderPriority, false
		case models.TaskOrderFieldTitle:
			l.Order, l.Desc = storage.OrderTitle, false
		default:
			l.Order, l.Desc = storage.OrderUpdatedAt, true
		}
		if o.Direction != nil {
			l.Desc = *o.Direction == models.OrderDirectionDesc
		}
	}
	return l, nil
}

func containsStatus(list []models.TaskStatus, s models.TaskStatus) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// taskConnection wraps a page and primes the request's loaders with what
// resolving the scope already fetched and what the selected fields need, so
// the nested fields ask nothing twice.
func (r *Resolver) taskConnection(ctx context.Context, after *string, p storage.TaskPage) *models.TaskConnection {
	l := loaders.For(ctx)
	known := map[string][]models.TaskAssignment{}
	for _, a := range p.Assignments {
		known[a.TaskID] = append(known[a.TaskID], a)
	}
	watched := map[string]bool{}
	for _, id := range p.Watched {
		watched[id] = true
	}
	conn := &models.TaskConnection{Edges: make([]models.TaskEdge, len(p.Edges)), Count: p.Count}
	for i, e := range p.Edges {
		conn.Edges[i] = models.TaskEdge{Cursor: e.Cursor, Node: e.Node}
		l.Tasks.Prime(ctx, e.Node.ID, e.Node)
		if as, ok := known[e.Node.ID]; ok {
			l.AssignmentByTask.Prime(ctx, e.Node.ID, as)
		}
		if watched[e.Node.ID] {
			l.WatchByTask.Prime(ctx, e.Node.ID, []models.WatchlistEntry{{TaskID: e.Node.ID, IsActive: true}})
		}
	}
	conn.PageInfo = pageInfo(after, p.Page)
	tasks := make([]models.Task, len(p.Edges))
	for i, e := range p.Edges {
		tasks[i] = e.Node
	}
	r.prefetch(ctx, tasks, known)
	return conn
}

const (
	maxTitle       = 500
	maxDescription = 10000
)

func checkTitle(field, title string) (string, error) {
	title = strings.TrimSpace(title)
	switch {
	case title == "":
		return "", badInput(field, "must not be blank")
	case utf8.RuneCountInString(title) > maxTitle:
		return "", badInput(field, "at most 500 characters")
	}
	return title, nil
}

func checkDescription(field string, d *string) (*string, error) {
	if d == nil {
		return nil, nil
	}
	if utf8.RuneCountInString(*d) > maxDescription {
		return nil, badInput(field, "at most 10000 characters")
	}
	return d, nil
}

// checkDue applies the original's rule: the due date, as a calendar date in
// the caller's time zone, may not be before today there. field is the due
// date's path (input.dueAt); the time zone sits beside it.
func checkDue(field string, due time.Time, tz *string, now time.Time) error {
	tzField := strings.TrimSuffix(field, "dueAt") + "timezone"
	if tz == nil || *tz == "" {
		return badInput(tzField, "required with "+field)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "Local" {
		return badInput(tzField, "not an IANA time zone: "+*tz)
	}
	y1, m1, d1 := due.In(loc).Date()
	y2, m2, d2 := now.In(loc).Date()
	if time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC).Before(time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC)) {
		return badInput(field, "must not be before today in "+*tz)
	}
	return nil
}

// checkLabels verifies that every label exists (the original did not).
func checkLabels(ctx context.Context, field string, ids []string) ([]string, error) {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !models.ValidID(id) {
			return nil, badInput(field, "not a valid id: "+id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > 50 {
		return nil, badInput(field, "at most 50 labels")
	}
	labels, errs := loaders.For(ctx).Labels.LoadMany(ctx, out)()
	for i, err := range errs {
		if err != nil {
			if isNotFound(err) {
				return nil, badInput(field, "no such label: "+out[i])
			}
			return nil, err
		}
		if labels[i].IsDeleted {
			return nil, badInput(field, "label deleted: "+out[i])
		}
	}
	return out, nil
}

// checkAssignee validates an AssigneeInput: exactly one of the two ids, and
// an existing user or a team the caller may read.
func (r *Resolver) checkAssignee(ctx context.Context, field string, in models.AssigneeInput) (storage.NewAssignment, error) {
	switch {
	case (in.UserID == nil) == (in.TeamID == nil):
		return storage.NewAssignment{}, badInput(field, "give exactly one of userId and teamId")
	case in.UserID != nil:
		if !models.ValidID(*in.UserID) {
			return storage.NewAssignment{}, badInput(field+".userId", "not a valid id")
		}
		if _, err := loaders.For(ctx).Users.Load(ctx, *in.UserID)(); err != nil {
			if isNotFound(err) {
				return storage.NewAssignment{}, badInput(field+".userId", "no such user")
			}
			return storage.NewAssignment{}, err
		}
		return storage.NewAssignment{AssigneeID: *in.UserID, Type: models.AssigneeUser}, nil
	default:
		// Assigning to a team needs membership of it, which is what reading
		// it needs: a team the caller is not in reads as missing.
		t, err := r.readTeam(ctx, field+".teamId", *in.TeamID)
		if err != nil {
			return storage.NewAssignment{}, err
		}
		return storage.NewAssignment{AssigneeID: t.ID, Type: models.AssigneeTeam, TeamID: t.ID}, nil
	}
}

// refreshTask drops the cached task and assignment after a write, so the
// answer shows the new state.
func refreshTask(ctx context.Context, t models.Task) *models.Task {
	l := loaders.For(ctx)
	l.Tasks.Clear(ctx, t.ID).Prime(ctx, t.ID, t)
	l.AssignmentByTask.Clear(ctx, t.ID)
	l.WatchByTask.Clear(ctx, t.ID)
	return &t
}

// setDeleted soft-deletes or restores a task.
func (r *Resolver) setDeleted(ctx context.Context, id string, deleted bool) (*models.Task, error) {
	v, t, err := r.editTask(ctx, "id", id)
	if err != nil {
		return nil, err
	}
	after := t
	after.IsDeleted = deleted
	saved, err := r.Store.UpdateTask(ctx, v.UserID, t, after, r.teamContext(ctx, t.ID))
	if err != nil {
		return nil, err
	}
	return refreshTask(ctx, saved), nil
}

// teamContext is the team a task's activity belongs to, so its changes show
// in that team's timeline.
func (r *Resolver) teamContext(ctx context.Context, taskID string) string {
	a, err := assignmentOf(ctx, taskID)
	if err != nil || a == nil {
		return ""
	}
	return a.TeamID
}

// taskForAssignment loads a task the viewer may read and its active
// assignment; a deleted task is refused, after the read check.
func (r *Resolver) taskForAssignment(ctx context.Context, taskID string) (*auth.Viewer, models.Task, *models.TaskAssignment, error) {
	v, t, err := r.readTask(ctx, "taskId", taskID)
	if err != nil {
		return nil, models.Task{}, nil, err
	}
	if t.IsDeleted {
		return nil, models.Task{}, nil, fmt.Errorf("%w: the task is deleted; restore it first", ErrUnprocessable)
	}
	current, err := assignmentOf(ctx, taskID)
	return v, t, current, err
}

// orForbidden returns err when there is one, else FORBIDDEN with msg.
func orForbidden(err error, msg string) error {
	if err != nil {
		return err
	}
	return forbidden("%s", msg)
}

// orBadInput returns err when there is one, else BAD_USER_INPUT on field.
func orBadInput(err error, field, msg string) error {
	if err != nil {
		return err
	}
	return badInput(field, msg)
}

package mirror

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mongo"
	"github.com/todo-backend/todo/storage/postgres"
)

// The reads below answer what the mongo store's reads of the same names
// answer, from the mirror's tables, through the registry's mapping back
// (mapping.go): the storage facade serves a read family from either store
// behind a flag and compares the two in shadow reads. They run on
// PostgreSQL and on the embedded SQLite file alike: NULLs are ordered
// explicitly (the two dialects' defaults differ, and MongoDB puts a missing
// value first ascending), strings compare by bytes as MongoDB does
// (COLLATE "C" on PostgreSQL; SQLite's default is binary), and times
// compare as bun writes them (UTC, in one format that sorts as text).

// ScopesInQuery says the mirror resolves the list scopes inside its task
// query (mongo.TaskQuery's AssignedTo and InTeam): one indexed statement
// instead of every assignment of the scope read into the process first.
func (m *Mirror) ScopesInQuery() bool { return true }

// TasksByIDs returns the tasks with these ids, in no particular order.
func (m *Mirror) TasksByIDs(ctx context.Context, ids []string) ([]models.Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []postgres.TaskRow
	if err := m.reads.NewSelect().Model(&rows).Where("mongo_id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: tasks by id: %w", err)
	}
	return m.tasksOf(ctx, rows)
}

// tasksOf reads the labels and deferrals of task rows (one query each)
// and maps them back.
func (m *Mirror) tasksOf(ctx context.Context, rows []postgres.TaskRow) ([]models.Task, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	pks := make([]int64, len(rows))
	for i, r := range rows {
		pks[i] = r.ID
	}
	var labels []postgres.TaskLabelRow
	if err := m.reads.NewSelect().Model(&labels).Column("task_id", "label_mongo_id").
		Where("task_id IN (?)", bun.List(pks)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: task labels: %w", err)
	}
	var deferred []postgres.DeferredDetailsRow
	if err := m.reads.NewSelect().Model(&deferred).Where("task_id IN (?)", bun.List(pks)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: task deferrals: %w", err)
	}
	labelsOf := map[int64][]string{}
	for _, l := range labels {
		labelsOf[l.TaskID] = append(labelsOf[l.TaskID], l.LabelMongoID)
	}
	deferredOf := map[int64]*postgres.DeferredDetailsRow{}
	for i := range deferred {
		deferredOf[deferred[i].TaskID] = &deferred[i]
	}
	out := make([]models.Task, len(rows))
	for i := range rows {
		ls := labelsOf[rows[i].ID]
		slices.Sort(ls)
		out[i] = taskOf(&rows[i], ls, deferredOf[rows[i].ID])
	}
	return out, nil
}

// taskColumns maps the task orders to columns.
var taskColumns = map[string]string{
	mongo.OrderUpdatedAt: "updated_at",
	mongo.OrderCreatedAt: "created_at",
	mongo.OrderDueAt:     "due_at",
	mongo.OrderPriority:  "priority",
	mongo.OrderTitle:     "title",
}

// bytewise is the collation that compares strings as MongoDB does.
func (m *Mirror) bytewise() string {
	if m.db.Dialect().Name() == dialect.PG {
		return ` COLLATE "C"`
	}
	return ""
}

// taskWhere adds q's selection (without its keyset position) to a query on
// postgres_tasks (bun's alias, task_row): the same predicate counts and lists.
func taskWhere(sq *bun.SelectQuery, q mongo.TaskQuery) *bun.SelectQuery {
	const deferralOf = "SELECT 1 FROM postgres_deferred_details AS d WHERE d.task_id = task_row.id"
	// MongoDB's "not deferred": no deferral, or one that ended; a deferral
	// without an end is neither deferred nor not.
	notDeferred := "NOT EXISTS (" + deferralOf + " AND (d.deferred_till IS NULL OR d.deferred_till > ?))"
	deferredNow := "EXISTS (" + deferralOf + " AND d.deferred_till > ?)"
	sq = sq.Where("task_row.is_deleted = ?", false)
	if q.IDs != nil {
		sq = sq.Where("task_row.mongo_id IN (?)", bun.List(q.IDs))
	}
	if q.CreatedBy != "" {
		sq = sq.Where("task_row.created_by = ?", q.CreatedBy)
	}
	// The scopes as joins: what the facade resolves to ids on MongoDB
	// (ActiveAssignmentsTo, TeamsWithPOC, ActiveAssignmentsInTeams).
	if q.AssignedTo != "" {
		sq = sq.Where(`task_row.mongo_id IN (SELECT a.task_mongo_id FROM postgres_task_assignments AS a WHERE a.is_active = ?
			AND ((a.user_type = ? AND a.assignee_id = ?) OR (a.user_type = ? AND a.assignee_id IN
			(SELECT tm.mongo_id FROM postgres_teams AS tm WHERE tm.poc_id = ? AND tm.is_deleted = ?))))`,
			true, string(models.AssigneeUser), q.AssignedTo, string(models.AssigneeTeam), q.AssignedTo, false)
	}
	if q.InTeam != "" {
		sq = sq.Where(`task_row.mongo_id IN (SELECT a.task_mongo_id FROM postgres_task_assignments AS a
			WHERE a.is_active = ? AND a.team_id = ?)`, true, q.InTeam)
	}
	switch q.Deferred {
	case mongo.DeferredOnly:
		sq = sq.Where(deferredNow, q.Now)
	case mongo.DeferredInclude:
	default:
		sq = sq.Where(notDeferred, q.Now)
	}
	if len(q.Statuses) > 0 {
		stored, wantDeferred, wantDone := q.SplitStatuses()
		sq = sq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
			if len(stored) > 0 {
				g = g.WhereOr("task_row.status IN (?) AND "+notDeferred, bun.List(stored), q.Now)
			}
			if wantDone {
				g = g.WhereOr("task_row.status = ?", string(models.StatusDone))
			}
			if wantDeferred {
				g = g.WhereOr("task_row.status <> ? AND "+deferredNow, string(models.StatusDone), q.Now)
			}
			return g
		})
	} else if !q.IncludeDone {
		sq = sq.Where("task_row.status <> ?", string(models.StatusDone))
	}
	if len(q.Priorities) > 0 {
		ps := make([]int, len(q.Priorities))
		for i, p := range q.Priorities {
			ps[i] = int(p)
		}
		sq = sq.Where("task_row.priority IN (?)", bun.List(ps))
	}
	if len(q.LabelIDs) > 0 {
		sq = sq.Where("EXISTS (SELECT 1 FROM postgres_task_labels AS l WHERE l.task_id = task_row.id AND l.label_mongo_id IN (?))",
			bun.List(q.LabelIDs))
	}
	if q.Search != "" {
		// A literal, case-insensitive substring, as MongoDB's quoted regex
		// with "i".
		like := contains(q.Search)
		sq = sq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
			return g.WhereOr(postgres.Lower(g.Dialect(), "task_row.title")+` LIKE ? ESCAPE '\'`, like).
				WhereOr(postgres.Lower(g.Dialect(), "task_row.description")+` LIKE ? ESCAPE '\'`, like)
		})
	}
	if q.DueBefore != nil {
		sq = sq.Where("task_row.due_at < ?", q.DueBefore.UTC())
	}
	if q.DueAfter != nil {
		sq = sq.Where("task_row.due_at >= ?", q.DueAfter.UTC())
	}
	return sq
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListTasks returns up to q.Limit tasks in the query's order.
func (m *Mirror) ListTasks(ctx context.Context, q mongo.TaskQuery) ([]models.Task, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, nil
	}
	col, ok := taskColumns[q.Order]
	if !ok {
		return nil, fmt.Errorf("mirror: list tasks: no order %q", q.Order)
	}
	col = "task_row." + col
	if q.Order == mongo.OrderTitle {
		col += m.bytewise()
	}
	id := "task_row.mongo_id" + m.bytewise()
	order := func(sq *bun.SelectQuery) *bun.SelectQuery {
		if q.Desc {
			return sq.OrderExpr(col + " DESC NULLS LAST").OrderExpr(id + " DESC")
		}
		return sq.OrderExpr(col + " ASC NULLS FIRST").OrderExpr(id + " ASC")
	}
	// The page's keys are chosen first and its rows read after: the sort
	// then moves a few columns of every matching task rather than whole
	// rows (a third of the list's time on SQLite at 5,000 tasks).
	page := taskWhere(m.reads.NewSelect().Model((*postgres.TaskRow)(nil)).Column("task_row.id"), q)
	if p := q.After; p != nil {
		page = page.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
			return afterPosition(g, col, id, *p, q.Desc)
		})
	}
	page = order(page)
	if q.Limit > 0 {
		page = page.Limit(int64(q.Limit))
	}
	var rows []postgres.TaskRow
	if err := order(m.reads.NewSelect().Model(&rows).Where("task_row.id IN (?)", page)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: list tasks: %w", err)
	}
	return m.tasksOf(ctx, rows)
}

// afterPosition is the keyset condition "after this task": MongoDB's order,
// where a missing value sorts first ascending and last descending.
func afterPosition(g *bun.SelectQuery, col, id string, p mongo.TaskPosition, desc bool) *bun.SelectQuery {
	beyond := ">"
	if desc {
		beyond = "<"
	}
	v := p.Value
	if t, ok := v.(time.Time); ok {
		v = t.UTC()
	}
	if v == nil {
		g = g.WhereOr(col+" IS NULL AND "+id+" "+beyond+" ?", p.ID)
		if !desc {
			g = g.WhereOr(col + " IS NOT NULL")
		}
		return g
	}
	g = g.WhereOr(col+" "+beyond+" ?", v).WhereOr(col+" = ? AND "+id+" "+beyond+" ?", v, p.ID)
	if desc {
		g = g.WhereOr(col + " IS NULL")
	}
	return g
}

// CountTasks counts what ListTasks lists for q over all pages.
func (m *Mirror) CountTasks(ctx context.Context, q mongo.TaskQuery) (int64, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return 0, nil
	}
	n, err := taskWhere(m.reads.NewSelect().Model((*postgres.TaskRow)(nil)), q).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("mirror: count tasks: %w", err)
	}
	return n, nil
}

// SummaryTasks returns the tasks of q, all of them, for counting.
func (m *Mirror) SummaryTasks(ctx context.Context, q mongo.TaskQuery) ([]models.Task, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, nil
	}
	q.Deferred, q.IncludeDone, q.Statuses, q.After, q.Limit = mongo.DeferredInclude, true, nil, nil, 0
	var rows []postgres.TaskRow
	if err := taskWhere(m.reads.NewSelect().Model(&rows), q).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: summary: %w", err)
	}
	return m.tasksOf(ctx, rows)
}

// assignments reads active assignments matching where.
func (m *Mirror) assignments(ctx context.Context, where func(*bun.SelectQuery) *bun.SelectQuery) ([]models.TaskAssignment, error) {
	var rows []postgres.TaskAssignmentRow
	if err := where(m.reads.NewSelect().Model(&rows).Where("is_active = ?", true)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: assignments: %w", err)
	}
	out := make([]models.TaskAssignment, len(rows))
	for i := range rows {
		out[i] = TaskAssignmentOf(&rows[i])
	}
	return out, nil
}

// ActiveAssignmentsOfTasks returns the active assignment of each task that
// has one.
func (m *Mirror) ActiveAssignmentsOfTasks(ctx context.Context, taskIDs []string) ([]models.TaskAssignment, error) {
	if len(taskIDs) == 0 {
		return nil, nil
	}
	return m.assignments(ctx, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("task_mongo_id IN (?)", bun.List(taskIDs))
	})
}

// ActiveAssignmentsTo returns the active assignments whose assignee is one
// of the given users or teams.
func (m *Mirror) ActiveAssignmentsTo(ctx context.Context, userIDs, teamIDs []string) ([]models.TaskAssignment, error) {
	if len(userIDs) == 0 && len(teamIDs) == 0 {
		return nil, nil
	}
	return m.assignments(ctx, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
			if len(userIDs) > 0 {
				g = g.WhereOr("assignee_id IN (?) AND user_type = ?", bun.List(userIDs), string(models.AssigneeUser))
			}
			if len(teamIDs) > 0 {
				g = g.WhereOr("assignee_id IN (?) AND user_type = ?", bun.List(teamIDs), string(models.AssigneeTeam))
			}
			return g
		})
	})
}

// ActiveAssignmentsInTeams returns the active assignments whose team
// context is one of the teams.
func (m *Mirror) ActiveAssignmentsInTeams(ctx context.Context, teamIDs []string) ([]models.TaskAssignment, error) {
	if len(teamIDs) == 0 {
		return nil, nil
	}
	return m.assignments(ctx, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("team_id IN (?)", bun.List(teamIDs))
	})
}

// TeamsWithPOC returns the live teams whose POC is one of the users.
func (m *Mirror) TeamsWithPOC(ctx context.Context, userIDs []string) ([]models.Team, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []postgres.TeamRow
	if err := m.reads.NewSelect().Model(&rows).Where("poc_id IN (?)", bun.List(userIDs)).
		Where("is_deleted = ?", false).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: teams by poc: %w", err)
	}
	out := make([]models.Team, len(rows))
	for i := range rows {
		out[i] = TeamOf(&rows[i])
	}
	return out, nil
}

// ActiveWatchEntries returns the user's active watch rows, most recently
// watched first.
func (m *Mirror) ActiveWatchEntries(ctx context.Context, userID string) ([]models.WatchlistEntry, error) {
	var rows []postgres.WatchlistRow
	if err := m.reads.NewSelect().Model(&rows).Where("user_id = ?", userID).Where("is_active = ?", true).
		OrderExpr("updated_at DESC NULLS LAST").OrderExpr("mongo_id" + m.bytewise() + " DESC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: watchlist: %w", err)
	}
	out := make([]models.WatchlistEntry, len(rows))
	for i := range rows {
		out[i] = WatchlistEntryOf(&rows[i])
	}
	return out, nil
}

// WatchEntries returns the user's watch rows (active or not) of the tasks,
// or of every task when taskIDs is nil.
func (m *Mirror) WatchEntries(ctx context.Context, userID string, taskIDs []string) ([]models.WatchlistEntry, error) {
	if taskIDs != nil && len(taskIDs) == 0 {
		return nil, nil
	}
	var rows []postgres.WatchlistRow
	q := m.reads.NewSelect().Model(&rows).Where("user_id = ?", userID)
	if taskIDs != nil {
		q = q.Where("task_id IN (?)", bun.List(taskIDs))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: watchlist: %w", err)
	}
	out := make([]models.WatchlistEntry, len(rows))
	for i := range rows {
		out[i] = WatchlistEntryOf(&rows[i])
	}
	return out, nil
}

// LabelsByIDs returns the labels with these ids, deleted ones included.
func (m *Mirror) LabelsByIDs(ctx context.Context, ids []string) ([]models.Label, error) {
	return byIDs(ctx, m, ids, LabelOf)
}

func labelWhere(sq *bun.SelectQuery, search string) *bun.SelectQuery {
	sq = sq.Where("is_deleted = ?", false)
	if search != "" {
		sq = sq.Where(postgres.Lower(sq.Dialect(), "name")+` LIKE ? ESCAPE '\'`, contains(search))
	}
	return sq
}

// contains is the LIKE pattern of a literal, case-insensitive substring,
// to match against postgres.Lower of a column.
func contains(s string) string { return "%" + likeEscaper.Replace(strings.ToLower(s)) + "%" }

// afterName is the keyset condition "after (name, id)" in (name, id) order.
func (m *Mirror) afterName(sq *bun.SelectQuery, name, id string) *bun.SelectQuery {
	col, idCol := "name"+m.bytewise(), "mongo_id"+m.bytewise()
	return sq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
		return g.WhereOr(col+" > ?", name).WhereOr(col+" = ? AND "+idCol+" > ?", name, id)
	})
}

func (m *Mirror) byName(sq *bun.SelectQuery) *bun.SelectQuery {
	return sq.OrderExpr("name" + m.bytewise() + " ASC").OrderExpr("mongo_id" + m.bytewise() + " ASC")
}

// ListLabels returns up to q.Limit live labels after the keyset position,
// in (name, id) order.
func (m *Mirror) ListLabels(ctx context.Context, q mongo.LabelQuery) ([]models.Label, error) {
	var rows []postgres.LabelRow
	sq := labelWhere(m.reads.NewSelect().Model(&rows), q.Search)
	if q.AfterID != "" {
		sq = m.afterName(sq, q.AfterName, q.AfterID)
	}
	if err := m.byName(sq).Limit(int64(q.Limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: list labels: %w", err)
	}
	return mapRows(rows, LabelOf), nil
}

// CountLabels counts the live labels matching search.
func (m *Mirror) CountLabels(ctx context.Context, search string) (int64, error) {
	n, err := labelWhere(m.reads.NewSelect().Model((*postgres.LabelRow)(nil)), search).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("mirror: count labels: %w", err)
	}
	return n, nil
}

// UsersByIDs returns the users with these ids.
func (m *Mirror) UsersByIDs(ctx context.Context, ids []string) ([]models.User, error) {
	return byIDs(ctx, m, ids, UserOf)
}

// userWhere is MongoDB's user search: a literal, case-insensitive
// substring of the name, or the exact email.
func userWhere(sq *bun.SelectQuery, q mongo.UserQuery) *bun.SelectQuery {
	sq = sq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
		return g.WhereOr(postgres.Lower(g.Dialect(), "name")+` LIKE ? ESCAPE '\'`, contains(q.Search)).WhereOr("email_id = ?", strings.ToLower(q.Search))
	})
	if q.In != nil {
		sq = sq.Where("mongo_id IN (?)", bun.List(q.In))
	}
	if len(q.NotIn) > 0 {
		sq = sq.Where("mongo_id NOT IN (?)", bun.List(q.NotIn))
	}
	return sq
}

// SearchUsers lists users in (name, id) order after the position.
func (m *Mirror) SearchUsers(ctx context.Context, q mongo.UserQuery) ([]models.User, error) {
	if q.In != nil && len(q.In) == 0 {
		return nil, nil
	}
	var rows []postgres.UserRow
	sq := userWhere(m.reads.NewSelect().Model(&rows), q)
	if q.AfterID != "" {
		sq = m.afterName(sq, q.AfterName, q.AfterID)
	}
	if err := m.byName(sq).Limit(int64(q.Limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: search users: %w", err)
	}
	return mapRows(rows, UserOf), nil
}

// CountUsers counts the users q matches.
func (m *Mirror) CountUsers(ctx context.Context, q mongo.UserQuery) (int64, error) {
	if q.In != nil && len(q.In) == 0 {
		return 0, nil
	}
	n, err := userWhere(m.reads.NewSelect().Model((*postgres.UserRow)(nil)), q).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("mirror: count users: %w", err)
	}
	return n, nil
}

// byIDs reads the rows with these mongo_ids and maps them back.
func byIDs[R, D any](ctx context.Context, m *Mirror, ids []string, of func(*R) D) ([]D, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []R
	if err := m.reads.NewSelect().Model(&rows).Where("mongo_id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: %T by id: %w", *new(R), err)
	}
	return mapRows(rows, of), nil
}

// mapRows maps rows back through the registry's mapping.
func mapRows[R, D any](rows []R, of func(*R) D) []D {
	out := make([]D, len(rows))
	for i := range rows {
		out[i] = of(&rows[i])
	}
	return out
}

// TeamsByIDs returns the teams with these ids, deleted ones included.
func (m *Mirror) TeamsByIDs(ctx context.Context, ids []string) ([]models.Team, error) {
	return byIDs(ctx, m, ids, TeamOf)
}

// MembershipsOfUsers returns the active memberships of the users.
func (m *Mirror) MembershipsOfUsers(ctx context.Context, userIDs []string) ([]models.TeamMembership, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []postgres.UserTeamDetailsRow
	if err := m.reads.NewSelect().Model(&rows).Where("user_id IN (?)", bun.List(userIDs)).Where("is_active = ?", true).
		Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: memberships: %w", err)
	}
	return mapRows(rows, TeamMembershipOf), nil
}

// MembershipsOfTeams returns the active memberships of the teams in join
// order; with q, one page of them.
func (m *Mirror) MembershipsOfTeams(ctx context.Context, teamIDs []string, q *mongo.MembersQuery) ([]models.TeamMembership, error) {
	if len(teamIDs) == 0 {
		return nil, nil
	}
	var rows []postgres.UserTeamDetailsRow
	id := "mongo_id" + m.bytewise()
	sq := m.reads.NewSelect().Model(&rows).Where("team_id IN (?)", bun.List(teamIDs)).Where("is_active = ?", true).
		OrderExpr("created_at ASC").OrderExpr(id + " ASC")
	if q != nil {
		if q.AfterID != "" {
			sq = sq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
				return g.WhereOr("created_at > ?", q.AfterCreatedAt.UTC()).
					WhereOr("created_at = ? AND "+id+" > ?", q.AfterCreatedAt.UTC(), q.AfterID)
			})
		}
		sq = sq.Limit(int64(q.Limit))
	}
	if err := sq.Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: members: %w", err)
	}
	return mapRows(rows, TeamMembershipOf), nil
}

// CountMembers counts a team's active members.
func (m *Mirror) CountMembers(ctx context.Context, teamID string) (int64, error) {
	n, err := m.reads.NewSelect().Model((*postgres.UserTeamDetailsRow)(nil)).Where("team_id = ?", teamID).
		Where("is_active = ?", true).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("mirror: count members: %w", err)
	}
	return n, nil
}

func auditWhere(sq *bun.SelectQuery, q mongo.AuditQuery) *bun.SelectQuery {
	if q.Action != "" {
		sq = sq.Where("action = ?", q.Action)
	}
	if q.ActorID != "" {
		sq = sq.Where("performed_by = ?", q.ActorID)
	}
	if q.TeamID != "" {
		sq = sq.Where("team_id = ?", q.TeamID)
	}
	if q.TaskID != "" {
		sq = sq.Where("task_id = ?", q.TaskID)
	}
	if q.Since != nil {
		sq = sq.Where("timestamp >= ?", q.Since.UTC())
	}
	if q.Until != nil {
		sq = sq.Where("timestamp < ?", q.Until.UTC())
	}
	return sq
}

// ListAuditLogs returns up to q.Limit entries, newest first, after the
// keyset position.
func (m *Mirror) ListAuditLogs(ctx context.Context, q mongo.AuditQuery) ([]models.AuditLog, error) {
	var rows []postgres.AuditLogRow
	id := "mongo_id" + m.bytewise()
	sq := auditWhere(m.reads.NewSelect().Model(&rows), q)
	if q.AfterID != "" {
		sq = sq.WhereGroup(" AND ", func(g *bun.SelectQuery) *bun.SelectQuery {
			return g.WhereOr("timestamp < ?", q.AfterTime.UTC()).WhereOr("timestamp = ? AND "+id+" < ?", q.AfterTime.UTC(), q.AfterID)
		})
	}
	if err := sq.OrderExpr("timestamp DESC").OrderExpr(id + " DESC").Limit(int64(q.Limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("mirror: audit logs: %w", err)
	}
	return mapRows(rows, AuditLogOf), nil
}

// CountAuditLogs counts the entries q selects.
func (m *Mirror) CountAuditLogs(ctx context.Context, q mongo.AuditQuery) (int64, error) {
	n, err := auditWhere(m.reads.NewSelect().Model((*postgres.AuditLogRow)(nil)), q).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("mirror: count audit logs: %w", err)
	}
	return n, nil
}

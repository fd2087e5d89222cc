package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// Task returns one task, deleted or not.
func (s *Store) Task(ctx context.Context, id string) (models.Task, error) {
	if !models.ValidID(id) {
		return models.Task{}, invalid("id", "not a task id")
	}
	tasks, err := s.TasksByIDs(ctx, []string{id})
	if err != nil {
		return models.Task{}, err
	}
	if len(tasks) == 0 {
		return models.Task{}, fmt.Errorf("%w: task %s", ErrNotFound, id)
	}
	return tasks[0], nil
}

// TasksByIDs returns the tasks with these ids, in no particular order.
func (s *Store) TasksByIDs(ctx context.Context, ids []string) ([]models.Task, error) {
	return readFamily(ctx, s, FamilyTasks, "tasksByIds", ids, func(ctx context.Context, r mirrorReads) ([]models.Task, error) {
		return r.TasksByIDs(ctx, ids)
	}, compareTasks)
}

// NewAssignment says who a task goes to.
type NewAssignment struct {
	AssigneeID string
	Type       models.AssigneeType
	// TeamID is the team context (the team itself for a team assignment).
	TeamID string
}

// CreateTask stores t (its id, number, version and timestamps are set here)
// and, when assign is given, its first assignment. It completes or leaves
// nothing: when a step after the task's insert fails, what was written is
// deleted again, so that a client that retries gets one task, not two
// (FerretDB v1 has no transactions to roll back). If that undo fails too,
// the request is marked dirty: its answer is final under its
// Idempotency-Key.
func (s *Store) CreateTask(ctx context.Context, actor string, t models.Task, assign *NewAssignment) (_ models.Task, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	// One round trip records intents for the task, its assignment and the
	// audit entries, before anything is written.
	op.PlanNew(mongo.CollTasks, 1)
	op.PlanNew(mongo.CollAuditLogs, 1)
	if assign != nil {
		op.PlanNew(mongo.CollTaskDetails, 1)
		op.PlanNew(mongo.CollAuditLogs, 1)
	}
	if err := op.Record(ctx); err != nil {
		return models.Task{}, translate(err)
	}
	now := s.now()
	if t.ID, err = op.Take(ctx, mongo.CollTasks); err != nil {
		return models.Task{}, translate(err)
	}
	t.Version = 1
	t.CreatedAt, t.UpdatedAt, t.CreatedBy, t.UpdatedBy = now, &now, actor, actor
	if t.Status == models.StatusInProgress && t.StartedAt == nil {
		t.StartedAt = &now
	}
	if err := s.insertNumbered(ctx, &t); err != nil {
		// The insert may have landed all the same (a connection lost
		// after it was sent): the task, if there, goes.
		s.undo(ctx, op, createdTask(t.ID))
		return models.Task{}, translate(err)
	}
	op.Wrote(t)
	s.audit(ctx, op, models.AuditLog{Action: "task_created", TaskID: t.ID, PerformedBy: actor, TeamID: teamOf(assign)})
	if assign != nil {
		if _, err := s.assign(ctx, op, actor, t, nil, *assign); err != nil {
			s.undo(ctx, op, createdTask(t.ID))
			return models.Task{}, err
		}
	}
	return t, nil
}

// insertNumbered gives t the next display id and inserts it. Display ids
// are unique by index (uniq_display_id), not by trust in the counter: a
// number already taken (data written before the counter, or a counter set
// back) is a duplicate, and the next number is tried.
func (s *Store) insertNumbered(ctx context.Context, t *models.Task) error {
	for attempt := 1; ; attempt++ {
		n, err := s.mongo.NextTaskNumber(ctx)
		if err != nil {
			return err
		}
		t.DisplayID = "#" + strconv.FormatInt(n, 10)
		err = s.mongo.InsertTask(ctx, *t)
		if !errors.Is(err, mongo.ErrDuplicate) {
			return err
		}
		if attempt == maxNumberAttempts {
			return fmt.Errorf("%w: no free display id after %d tries; is the task counter far behind the data?", ErrConflict, attempt)
		}
		s.log.WarnContext(ctx, "display id taken; trying the next", "display_id", t.DisplayID)
	}
}

// maxNumberAttempts bounds the display ids one create tries.
const maxNumberAttempts = 20

func teamOf(a *NewAssignment) string {
	if a == nil {
		return ""
	}
	return a.TeamID
}

// taskAudits lists the audit entries a change of the task records.
func taskAudits(before, after models.Task, now time.Time) []models.AuditLog {
	var out []models.AuditLog
	if before.Status != after.Status {
		out = append(out, models.AuditLog{Action: "status_changed", StatusFrom: string(before.ReportedStatus(now)),
			StatusTo: string(after.Status)})
	}
	if before.IsDeleted != after.IsDeleted {
		action := "task_deleted"
		if !after.IsDeleted {
			action = "task_restored"
		}
		out = append(out, models.AuditLog{Action: action})
	}
	if after.DeferredDetails != nil && (before.DeferredDetails == nil || *before.DeferredDetails != *after.DeferredDetails) {
		out = append(out, models.AuditLog{Action: "task_deferred", StatusFrom: string(before.ReportedStatus(now)),
			StatusTo: string(models.StatusDeferred)})
	}
	return out
}

// UpdateTask writes after over before, stamps who and when, and records
// status changes, deletions and deferrals in the audit log under the task's
// team context.
func (s *Store) UpdateTask(ctx context.Context, actor string, before, after models.Task, teamContext string) (models.Task, error) {
	op := s.begin()
	saved, err := s.updateTask(ctx, op, actor, before, after, teamContext)
	s.settle(ctx, op, &err)
	return saved, err
}

func (s *Store) updateTask(ctx context.Context, op *mirror.Op, actor string, before, after models.Task, teamContext string) (models.Task, error) {
	now := s.now()
	after.UpdatedAt, after.UpdatedBy = &now, actor
	audits := taskAudits(before, after, now)
	op.Plan(ref(mongo.CollTasks, before.ID))
	op.PlanNew(mongo.CollAuditLogs, len(audits))
	if err := op.Record(ctx); err != nil {
		return models.Task{}, translate(err)
	}
	saved, err := s.mongo.UpdateTask(ctx, before, after)
	if err != nil {
		return models.Task{}, translate(err)
	}
	op.Wrote(saved)
	for _, a := range audits {
		a.TaskID, a.TeamID, a.PerformedBy = saved.ID, teamContext, actor
		s.audit(ctx, op, a)
	}
	return saved, nil
}

// ActiveAssignments returns the active assignment of each task that has one.
func (s *Store) ActiveAssignments(ctx context.Context, taskIDs []string) ([]models.TaskAssignment, error) {
	return readFamily(ctx, s, FamilyTasks, "activeAssignments", nil, func(ctx context.Context, r mirrorReads) ([]models.TaskAssignment, error) {
		return r.ActiveAssignmentsOfTasks(ctx, taskIDs)
	}, compareAssignments)
}

// AssignTask replaces the task's active assignment (current, if any) with
// next. The old one is deactivated first: the unique index on the active
// assignment allows only one, and a crash between the steps leaves the task
// unassigned, which the next assignment repairs.
func (s *Store) AssignTask(ctx context.Context, actor string, t models.Task, current *models.TaskAssignment, next NewAssignment) (_ models.TaskAssignment, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	if current != nil {
		op.Plan(ref(mongo.CollTaskDetails, current.ID))
		op.PlanNew(mongo.CollAuditLogs, 1)
	}
	op.PlanNew(mongo.CollTaskDetails, 1)
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return models.TaskAssignment{}, translate(err)
	}
	return s.assign(ctx, op, actor, t, current, next)
}

func (s *Store) assign(ctx context.Context, op *mirror.Op, actor string, t models.Task, current *models.TaskAssignment, next NewAssignment) (models.TaskAssignment, error) {
	now := s.now()
	id, err := op.Take(ctx, mongo.CollTaskDetails)
	if err != nil {
		return models.TaskAssignment{}, translate(err)
	}
	a := models.TaskAssignment{ID: id, TaskID: t.ID, AssigneeID: next.AssigneeID, AssigneeType: next.Type,
		TeamID: next.TeamID, IsActive: true, CreatedBy: actor, UpdatedBy: actor, CreatedAt: now, UpdatedAt: &now, Version: 1}
	if err := s.replaceAssignment(ctx, op, actor, current, a, now); err != nil {
		return models.TaskAssignment{}, err
	}
	log := models.AuditLog{TaskID: t.ID, TeamID: a.TeamID, PerformedBy: actor, AssigneeTo: a.AssigneeID}
	if current != nil {
		log.AssigneeFrom = current.AssigneeID
		if current.AssigneeType == models.AssigneeTeam {
			s.audit(ctx, op, models.AuditLog{Action: "unassigned_from_team", TaskID: t.ID, TeamID: current.TeamID,
				PerformedBy: actor, AssigneeFrom: current.AssigneeID})
		}
	}
	switch {
	case a.AssigneeType == models.AssigneeTeam:
		log.Action = "assigned_to_team"
	case a.TeamID != "":
		log.Action, log.TargetUserID = "assigned_to_member", a.AssigneeID
	default:
		log.Action, log.TargetUserID = "assigned_to_user", a.AssigneeID
	}
	s.audit(ctx, op, log)
	return a, nil
}

// replaceAssignment makes a the task's active assignment in place of
// current (if any): current is deactivated first (the unique index on the
// active assignment allows one), then a inserted. If the insert fails, the
// step before is undone, so the task keeps the assignment it had and a
// retry starts over from it; an insert refused because another assignment
// took the place meanwhile is ErrStale, for the caller to decide again.
func (s *Store) replaceAssignment(ctx context.Context, op *mirror.Op, actor string, current *models.TaskAssignment, a models.TaskAssignment, now time.Time) error {
	var ended models.TaskAssignment
	if current != nil {
		var err error
		if ended, err = s.deactivate(ctx, op, actor, *current, now); err != nil {
			return err
		}
	}
	err := s.mongo.InsertAssignment(ctx, a)
	if errors.Is(err, mongo.ErrDuplicate) {
		return fmt.Errorf("%w: another assignment of task %s came first", ErrStale, a.TaskID)
	}
	if err != nil {
		if current != nil {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
			defer cancel()
			back := ended
			back.IsActive, back.UpdatedAt, back.UpdatedBy = true, current.UpdatedAt, current.UpdatedBy
			if saved, uerr := s.mongo.UpdateAssignment(uctx, ended, back); uerr != nil {
				MarkDirty(ctx)
				s.log.ErrorContext(ctx, "undoing an assignment's end failed: the task is left unassigned", "task", a.TaskID, "err", uerr)
			} else {
				op.Wrote(saved)
			}
		}
		return translate(err)
	}
	op.Wrote(a)
	return nil
}

func (s *Store) deactivate(ctx context.Context, op *mirror.Op, actor string, a models.TaskAssignment, now time.Time) (models.TaskAssignment, error) {
	if err := op.Need(ctx, ref(mongo.CollTaskDetails, a.ID)); err != nil {
		return models.TaskAssignment{}, translate(err)
	}
	after := a
	after.IsActive, after.UpdatedAt, after.UpdatedBy = false, &now, actor
	saved, err := s.mongo.UpdateAssignment(ctx, a, after)
	if err != nil {
		return models.TaskAssignment{}, translate(err)
	}
	op.Wrote(saved)
	return saved, nil
}

// UnassignTask deactivates the task's assignment.
func (s *Store) UnassignTask(ctx context.Context, actor string, current models.TaskAssignment) (err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.Plan(ref(mongo.CollTaskDetails, current.ID))
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return translate(err)
	}
	if _, err := s.deactivate(ctx, op, actor, current, s.now()); err != nil {
		return err
	}
	s.audit(ctx, op, models.AuditLog{Action: "unassigned", TaskID: current.TaskID, TeamID: current.TeamID, PerformedBy: actor,
		AssigneeFrom: current.AssigneeID})
	return nil
}

// HandToMember turns a team task into a member's task inside the same team
// (the POC's "reassign"), recording the previous and the new executor.
func (s *Store) HandToMember(ctx context.Context, actor string, t models.Task, current models.TaskAssignment, userID string) (_ models.TaskAssignment, err error) {
	op := s.begin()
	defer s.settle(ctx, op, &err)
	op.Plan(ref(mongo.CollTaskDetails, current.ID))
	op.PlanNew(mongo.CollTaskDetails, 1)
	op.PlanNew(mongo.CollAuditLogs, 1)
	if err := op.Record(ctx); err != nil {
		return models.TaskAssignment{}, translate(err)
	}
	now := s.now()
	id, err := op.Take(ctx, mongo.CollTaskDetails)
	if err != nil {
		return models.TaskAssignment{}, translate(err)
	}
	a := models.TaskAssignment{ID: id, TaskID: t.ID, AssigneeID: userID, AssigneeType: models.AssigneeUser,
		TeamID: current.TeamID, IsActive: true, CreatedBy: actor, UpdatedBy: actor, CreatedAt: now, UpdatedAt: &now, Version: 1}
	if err := s.replaceAssignment(ctx, op, actor, &current, a, now); err != nil {
		return models.TaskAssignment{}, err
	}
	prev := ""
	if current.AssigneeType == models.AssigneeUser {
		prev = current.AssigneeID
	}
	s.audit(ctx, op, models.AuditLog{Action: "reassign_executor", TaskID: t.ID, TeamID: a.TeamID, PerformedBy: actor,
		SpocID: actor, PreviousExecutorID: prev, NewExecutorID: userID, TargetUserID: userID,
		AssigneeFrom: current.AssigneeID, AssigneeTo: userID})
	return a, nil
}

// audit records an action as part of op. A failure is logged, not
// returned: the change it describes has already happened, and a client told
// otherwise would repeat it. The entry's intent stays for the worker, which
// finds out whether the insert happened.
func (s *Store) audit(ctx context.Context, op *mirror.Op, a models.AuditLog) {
	id, err := op.Take(ctx, mongo.CollAuditLogs)
	if err == nil {
		a.ID, a.Timestamp, a.Version = id, s.now(), 1
		err = s.mongo.InsertAuditLog(ctx, a)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "audit log write failed", "action", a.Action, "err", err)
		op.Failed()
		return
	}
	op.Wrote(a)
}

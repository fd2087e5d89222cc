package storage

import (
	"context"
	"time"

	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// created names what a creation wrote, for undoing it when a later step
// failed (FerretDB v1 has no transactions to roll back): the new document,
// and the collections whose documents refer to it by a field. The document
// is new, so everything that refers to it was written by the same
// operation.
type created struct {
	coll, id string
	refs     []reference
}

type reference struct{ coll, field string }

func createdTask(id string) created {
	return created{coll: mongo.CollTasks, id: id, refs: []reference{
		{mongo.CollTaskDetails, "task_id"}, {mongo.CollAuditLogs, "task_id"}}}
}

func createdTeam(id string) created {
	return created{coll: mongo.CollTeams, id: id, refs: []reference{
		{mongo.CollUserTeamDetails, "team_id"}, {mongo.CollUserRoles, "team_id"}, {mongo.CollAuditLogs, "team_id"}}}
}

// undoTimeout bounds the undo of a failed operation.
const undoTimeout = 10 * time.Second

// undo deletes what a failed creation wrote, the documents that refer to
// the new one first, so a failure midway leaves the new one findable, and
// tells the mirror. It runs detached from the request: a client that hangs
// up must not stop it halfway. If it fails, the request is marked dirty:
// its answer is final under its Idempotency-Key, so a retry does not make
// a second one.
func (s *Store) undo(ctx context.Context, op *mirror.Op, c created) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	err := func() error {
		for _, r := range c.refs {
			ids, err := s.mongo.DeleteReferring(ctx, r.coll, r.field, c.id)
			if err != nil {
				return err
			}
			for _, id := range ids {
				op.Deleted(r.coll, id)
			}
		}
		if err := s.mongo.DeleteByID(ctx, c.coll, c.id); err != nil {
			return err
		}
		op.Deleted(c.coll, c.id)
		return nil
	}()
	if err != nil {
		MarkDirty(ctx)
		s.log.ErrorContext(ctx, "undoing a failed creation failed: it may be left behind", "collection", c.coll, "id", c.id, "err", err)
	}
}

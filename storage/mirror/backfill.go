package mirror

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/storage/mongo"
)

// Progress reports a long run's advance: done of total documents of coll.
type Progress func(coll string, done, total int)

// BackfillResult counts what a backfill did per collection.
type BackfillResult struct {
	Scanned, Written map[string]int
}

type backfillCheckpoint struct {
	LastID  string `bson:"last_id"`
	Scanned int    `bson:"scanned"`
	Written int    `bson:"written"`
}

// Backfill copies every document of colls into the mirror in _id order, in
// chunks, through the same guarded upsert as live writes: rows already
// holding a document's version are left alone, so a second run writes
// nothing, and live writes (newer versions) are never undone. After each
// chunk the position is saved in MongoDB, so a run stopped midway (Ctrl-C,
// a crash) resumes there, on any instance; a finished run removes it.
func (e *Engine) Backfill(ctx context.Context, colls []string, chunk int, progress Progress) (BackfillResult, error) {
	return e.backfill(ctx, "backfill:", colls, chunk, progress)
}

// backfill is Backfill with its checkpoints under prefix.
func (e *Engine) backfill(ctx context.Context, prefix string, colls []string, chunk int, progress Progress) (BackfillResult, error) {
	return e.backfillOf(ctx, prefix, colls, chunk, progress, false)
}

// backfillPruning is backfill that also deletes, after each collection,
// the rows whose document is gone (deleted while nothing was recorded).
func (e *Engine) backfillPruning(ctx context.Context, prefix string, colls []string, chunk int, progress Progress) (BackfillResult, error) {
	return e.backfillOf(ctx, prefix, colls, chunk, progress, true)
}

func (e *Engine) backfillOf(ctx context.Context, prefix string, colls []string, chunk int, progress Progress, prune bool) (BackfillResult, error) {
	res := BackfillResult{Scanned: map[string]int{}, Written: map[string]int{}}
	for _, coll := range colls {
		if err := checkCollection(coll); err != nil {
			return res, err
		}
	}
	for _, coll := range colls {
		key := prefix + coll
		var cp backfillCheckpoint
		if _, err := e.mongo.LoadState(ctx, key, &cp); err != nil {
			return res, err
		}
		total, err := e.mongo.CountDocs(ctx, coll)
		if err != nil {
			return res, err
		}
		res.Scanned[coll], res.Written[coll] = cp.Scanned, cp.Written
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			ids, docs, err := e.mongo.DocsPage(ctx, coll, cp.LastID, chunk)
			if err != nil {
				return res, err
			}
			if len(ids) == 0 {
				break
			}
			changes := make([]Change, len(ids))
			for i, id := range ids {
				changes[i] = Change{Collection: coll, ID: id, Doc: docs[id]}
			}
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			written, err := e.mirror.ApplyCount(actx, changes)
			if err != nil && classify(err) == permanent {
				// A document the mirror cannot store: the others go
				// alone, and it is parked FAILED with its reason.
				written, err = e.applyEach(actx, changes)
			}
			if err == nil {
				err = e.dropDeleted(actx, coll, ids)
			}
			cancel()
			if err != nil {
				return res, fmt.Errorf("mirror: backfill %s after %s: %w", coll, cp.LastID, err)
			}
			cp.LastID = ids[len(ids)-1]
			cp.Scanned += len(ids)
			cp.Written += written
			res.Scanned[coll], res.Written[coll] = cp.Scanned, cp.Written
			if err := e.mongo.SaveState(context.WithoutCancel(ctx), key, cp); err != nil {
				return res, err
			}
			if progress != nil {
				progress(coll, cp.Scanned, int(total))
			}
		}
		if prune {
			if err := e.prune(ctx, coll, chunk); err != nil {
				return res, err
			}
		}
		if err := e.mongo.DeleteState(ctx, key); err != nil {
			return res, err
		}
	}
	return res, nil
}

// dropDeleted removes the rows of documents of a chunk that were deleted
// while it was being copied, which the copy would otherwise bring back.
func (e *Engine) dropDeleted(ctx context.Context, coll string, ids []string) error {
	still, err := e.mongo.DocsByIDs(ctx, coll, ids)
	if err != nil {
		return err
	}
	var gone []Change
	for _, id := range ids {
		if _, ok := still[id]; !ok {
			gone = append(gone, Change{Collection: coll, ID: id})
		}
	}
	if err := e.mirror.ApplyAll(ctx, gone); err != nil {
		return err
	}
	e.commit.gone.add(e.now(), gone)
	return nil
}

// applyEach applies changes one by one: those the mirror cannot store are
// parked as FAILED intents with the reason (see park), the rest are
// written. It fails only on an error that is not the document's.
func (e *Engine) applyEach(ctx context.Context, changes []Change) (int, error) {
	written := 0
	for _, c := range changes {
		n, err := e.mirror.ApplyCount(ctx, []Change{c})
		switch {
		case err == nil:
			written += n
		case classify(err) == permanent:
			if err := e.park(ctx, c, err); err != nil {
				return written, err
			}
		default:
			return written, err
		}
	}
	return written, nil
}

// park records a permanently FAILED intent for a document the mirror
// cannot store, unless it has one: syncFailures and health show it, and a
// later write of the document (or an admin's retry) clears it.
func (e *Engine) park(ctx context.Context, c Change, cause error) error {
	had, err := e.mongo.Intents(ctx, mongo.IntentFilter{Coll: c.Collection, DocID: c.ID, State: mongo.IntentFailed}, 1)
	if err != nil {
		return err
	}
	if len(had) > 0 && had[0].Permanent {
		return nil
	}
	now := e.now()
	msg := cause.Error()
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen] + "…"
	}
	e.o.Log.ErrorContext(ctx, "mirror cannot store this document: FAILED until it is written again or an admin retries it",
		"collection", c.Collection, "id", c.ID, "err", msg)
	return e.mongo.InsertIntents(ctx, []mongo.Intent{{ID: bson.NewObjectID(), Coll: c.Collection, DocID: c.ID,
		Token: "parked:" + bson.NewObjectID().Hex(), State: mongo.IntentFailed, CreatedAt: now, NextAttemptAt: now,
		Attempts: 1, LastError: msg, FirstFailedAt: now, LastFailedAt: now, Permanent: true}})
}

// prune deletes the rows of coll whose document no longer exists, walking
// the rows in mongo_id order.
func (e *Engine) prune(ctx context.Context, coll string, chunk int) error {
	after := ""
	for {
		ids, err := e.mirror.RowIDs(ctx, coll, after, chunk)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := e.dropDeleted(ctx, coll, ids); err != nil {
			return err
		}
		after = ids[len(ids)-1]
	}
}

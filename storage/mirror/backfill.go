package mirror

import (
	"context"
	"fmt"
	"time"
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
	res := BackfillResult{Scanned: map[string]int{}, Written: map[string]int{}}
	for _, coll := range colls {
		if err := checkCollection(coll); err != nil {
			return res, err
		}
	}
	for _, coll := range colls {
		key := "backfill:" + coll
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
	return e.mirror.ApplyAll(ctx, gone)
}

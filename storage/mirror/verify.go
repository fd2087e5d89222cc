package mirror

import (
	"context"
	"errors"
	"reflect"
)

// Difference is one document whose row does not hold it.
type Difference struct {
	Collection string
	ID         string
	// Kind is "missing" (no row), "extra" (a row without a document) or
	// "different" (the row holds other values).
	Kind    string
	Details []string
}

// Verify compares every document of colls with its row, field by field
// through the same mapping that writes rows, and looks for rows without a
// document. With repair it rewrites what differs (whatever the row's
// version) and deletes extra rows. The result is saved for syncMetrics;
// report is called for each difference.
func (e *Engine) Verify(ctx context.Context, colls []string, repair bool, chunk int, progress Progress, report func(Difference)) (VerifyResult, error) {
	res := VerifyResult{Collections: map[string]CollectionVerify{}, Source: "verify"}
	for _, coll := range colls {
		if err := checkCollection(coll); err != nil {
			return res, err
		}
	}
	found := func(d Difference) {
		if report != nil {
			report(d)
		}
	}
	for _, coll := range colls {
		cv := CollectionVerify{}
		total, err := e.mongo.CountDocs(ctx, coll)
		if err != nil {
			return res, err
		}
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			ids, docs, err := e.mongo.DocsPage(ctx, coll, after, chunk)
			if err != nil {
				return res, err
			}
			if len(ids) == 0 {
				break
			}
			var differ []string
			for _, id := range ids {
				cv.Documents++
				d, err := e.compare(ctx, coll, id, docs[id])
				if err != nil {
					return res, err
				}
				if d == nil {
					continue
				}
				if d.Kind == "missing" {
					cv.Missing++
				} else {
					cv.Different++
				}
				found(*d)
				differ = append(differ, id)
			}
			if repair && len(differ) > 0 {
				n, err := e.repair(ctx, coll, differ)
				res.Repaired += n
				if err != nil {
					return res, err
				}
			}
			after = ids[len(ids)-1]
			if progress != nil {
				progress(coll, cv.Documents, int(total))
			}
		}
		// Rows without a document.
		afterRow := ""
		for {
			rowIDs, err := e.mirror.RowIDs(ctx, coll, afterRow, chunk)
			if err != nil {
				return res, err
			}
			if len(rowIDs) == 0 {
				break
			}
			cv.Rows += len(rowIDs)
			docs, err := e.mongo.DocsByIDs(ctx, coll, rowIDs)
			if err != nil {
				return res, err
			}
			for _, id := range rowIDs {
				if _, ok := docs[id]; ok {
					continue
				}
				cv.Extra++
				found(Difference{Collection: coll, ID: id, Kind: "extra"})
				if repair {
					if _, err := e.mirror.Replace(ctx, Change{Collection: coll, ID: id}); err != nil {
						return res, err
					}
					res.Repaired++
				}
			}
			afterRow = rowIDs[len(rowIDs)-1]
		}
		res.Collections[coll] = cv
		res.Missing += cv.Missing
		res.Extra += cv.Extra
		res.Different += cv.Different
	}
	res.At = e.now()
	if err := e.mongo.SaveState(context.WithoutCancel(ctx), lastVerifyKey, res); err != nil {
		return res, err
	}
	return res, nil
}

// repair rewrites the rows of ids from their documents read now, not when
// the chunk was read: with the repair guard (never over a newer version) a
// repair cannot move a row back past a write that landed meanwhile. It
// counts the rows it wrote; a document the mirror cannot store is parked
// FAILED with the reason (see park), not repaired.
func (e *Engine) repair(ctx context.Context, coll string, ids []string) (int, error) {
	fresh, err := e.mongo.DocsByIDs(ctx, coll, ids)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		c := Change{Collection: coll, ID: id, Doc: fresh[id]}
		wrote, err := e.mirror.Replace(ctx, c)
		switch {
		case err != nil && classify(err) == permanent:
			if err := e.park(ctx, c, err); err != nil {
				return n, err
			}
		case err != nil:
			return n, err
		case wrote:
			n++
		}
	}
	return n, nil
}

// compare returns the difference between a document and its row, or nil.
func (e *Engine) compare(ctx context.Context, coll, id string, doc any) (*Difference, error) {
	row, err := e.mirror.Row(ctx, coll, id)
	if errors.Is(err, ErrNoRow) {
		return &Difference{Collection: coll, ID: id, Kind: "missing"}, nil
	}
	if err != nil {
		return nil, err
	}
	diffs, err := Diff(doc, row)
	if err != nil {
		return nil, err
	}
	if len(diffs) == 0 {
		return nil, nil
	}
	return &Difference{Collection: coll, ID: id, Kind: "different", Details: diffs}, nil
}

// RowIDs lists up to limit mongo_ids of coll's table after afterID, in
// order.
func (m *Mirror) RowIDs(ctx context.Context, coll, afterID string, limit int) ([]string, error) {
	var ids []string
	q := m.db.NewSelect().Model(reflect.New(byCollection[coll].row).Interface()).Column("mongo_id").
		OrderExpr("mongo_id").Limit(int64(limit))
	if afterID != "" {
		q = q.Where("mongo_id > ?", afterID)
	}
	if err := q.Scan(ctx, &ids); err != nil {
		return nil, err
	}
	return ids, nil
}

package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/todo-backend/todo/models"
)

// NormalizeResult counts what Normalize did to one collection.
type NormalizeResult struct {
	Scanned, Changed int
	// Failed lists documents that could not be rewritten, with why (a
	// duplicate the unique indexes refuse, an undecodable value).
	Failed []string
	// Unmirrorable lists the first maxListedUnmirrorable documents that
	// hold text the mirror cannot store; UnmirrorableCount counts them all.
	Unmirrorable      []Unmirrorable
	UnmirrorableCount int
}

// Unmirrorable is a document with strings holding characters
// models.HasControl refuses (a NUL above all, which PostgreSQL cannot
// store): the API refuses such text now, but the original service did
// not. Normalize reports them and leaves them alone, as the value is the
// user's; the mirror marks each FAILED and mirrors the rest.
type Unmirrorable struct {
	Coll, ID string
	// Fields are dotted paths, array elements by index ("labels.2"), as a
	// $set that fixes them would name them.
	Fields []string
}

// maxListedUnmirrorable caps Unmirrorable per collection, so a collection
// full of them does not fill memory or the terminal; the count goes on.
const maxListedUnmirrorable = 50

// Normalize rewrites the documents of coll that the original service wrote
// with string references or ISO-string dates into native ObjectIds and
// Dates, gives unversioned documents version 1 (so the mirror's guard lets
// them replace rows of the original mirror), and keys active assignments
// and active role grants for their one-active indexes. It also repairs what
// the unique indexes would refuse: a display id used before (in _id order)
// gets the next number, and an active grant that repeats an earlier one is
// ended; both bump the version, as the value changes. Only fields that
// change are set, and fields the service does not know are left alone, so a
// second run changes nothing. Each rewrite applies only over the version it
// was read at: a document the service changed meanwhile is read again.
func (s *Store) Normalize(ctx context.Context, coll string, progress func(done, total int)) (NormalizeResult, error) {
	var res NormalizeResult
	doc, ok := documents[coll]
	if !ok {
		return res, fmt.Errorf("mongo: %q is not a mirrored collection", coll)
	}
	enc := doc.reencode
	total, err := s.CountDocs(ctx, coll)
	if err != nil {
		return res, err
	}
	cur, err := s.coll(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return res, fmt.Errorf("mongo: normalize %s: %w", coll, err)
	}
	defer cur.Close(ctx)
	seen := map[string]bool{} // display ids, or active grants' keys, met so far
	for cur.Next(ctx) {
		raw := append(bson.Raw(nil), cur.Current...)
		res.Scanned++
		id := raw.Lookup("_id")
		if fields := controlFields(raw, ""); len(fields) > 0 {
			res.UnmirrorableCount++
			if len(res.Unmirrorable) < maxListedUnmirrorable {
				res.Unmirrorable = append(res.Unmirrorable, Unmirrorable{Coll: coll, ID: idText(id), Fields: fields})
			}
		}
		changed, err := s.normalizeOne(ctx, coll, raw, enc, seen)
		if changed {
			res.Changed++
		}
		if err != nil {
			if !mongo.IsDuplicateKeyError(err) && ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Failed = append(res.Failed, fmt.Sprintf("%s %v: %v", coll, id, err))
		}
		if progress != nil && (res.Scanned%100 == 0 || res.Scanned == int(total)) {
			progress(res.Scanned, int(total))
		}
	}
	return res, cur.Err()
}

// normalizeOne rewrites one document over the version it was read at; a
// miss (the service wrote it meanwhile) reads it again and tries once more.
func (s *Store) normalizeOne(ctx context.Context, coll string, raw bson.Raw, enc func(bson.Raw) ([]byte, error), seen map[string]bool) (bool, error) {
	id := raw.Lookup("_id")
	renumbered := ""
	for attempt := 1; ; attempt++ {
		set, err := normalizedFields(coll, raw, enc)
		if err != nil {
			return false, err
		}
		key, repair, err := s.uniqueRepair(ctx, coll, raw, enc, seen, &renumbered)
		if err != nil {
			return false, err
		}
		repair = append(repair, movedAuditValues(coll, raw)...)
		var version int64
		if v, err := raw.LookupErr("version"); err == nil {
			version, _ = v.AsInt64OK()
		}
		if len(repair) > 0 {
			set = append(withoutKeys(set, repair), repair...)
			if version > 0 {
				set = append(set, bson.E{Key: "version", Value: version + 1})
			}
		}
		update := bson.D{}
		if len(set) > 0 {
			update = append(update, bson.E{Key: "$set", Value: set})
		}
		if len(repair) > 0 && coll == CollUserRoles {
			update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "active_key", Value: ""}}})
		}
		if len(update) == 0 {
			if key != "" {
				seen[key] = true
			}
			return false, nil
		}
		r, err := s.coll(coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, atVersion(version)}, update)
		if err != nil {
			return false, err
		}
		if r.MatchedCount == 1 {
			if key != "" {
				seen[key] = true
			}
			return true, nil
		}
		if attempt == 2 {
			return false, errors.New("changed while being normalized; run normalize again")
		}
		if raw, err = s.coll(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw(); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				return false, nil // deleted meanwhile: nothing to normalize
			}
			return false, err
		}
	}
}

// uniqueRepair finds what the unique indexes would refuse in a document:
// a display id met before (the fix: the next number, kept in *renumbered
// across tries), or an active grant whose key was met before (the fix: it
// ends). key is the value to remember once the document is written.
func (s *Store) uniqueRepair(ctx context.Context, coll string, raw bson.Raw, enc func(bson.Raw) ([]byte, error), seen map[string]bool, renumbered *string) (key string, set bson.D, err error) {
	switch coll {
	case CollTasks:
		key, _ = raw.Lookup("displayId").StringValueOK()
		if key == "" || !seen[key] {
			return key, nil, nil
		}
		if *renumbered == "" {
			n, err := s.NextTaskNumber(ctx)
			if err != nil {
				return "", nil, err
			}
			*renumbered = "#" + strconv.FormatInt(n, 10)
		}
		return *renumbered, bson.D{{Key: "displayId", Value: *renumbered}}, nil
	case CollUserRoles:
		canon, err := enc(raw)
		if err != nil {
			return "", nil, err
		}
		var d userRoleDoc
		if err := bson.Unmarshal(canon, &d); err != nil || !d.IsActive {
			return "", nil, err
		}
		key = roleKey(string(d.UserID), models.RoleScope(d.Scope), string(d.TeamID), models.RoleName(d.RoleName))
		if !seen[key] {
			return key, nil, nil
		}
		return "", bson.D{{Key: "is_active", Value: false}, {Key: "updated_at", Value: time.Now().UTC()},
			{Key: "updated_by", Value: "system"}}, nil
	}
	return "", nil, nil
}

// movedAuditValues moves a read source change's settings out of the
// assignee fields, where setReadSource first wrote them, into value_from
// and value_to: the mirror's assignee columns are varchar(24), and
// PostgreSQL refused "tasks=postgres shadow=100%" for good. nil when there
// is nothing to move. The value changes, so the version goes up, and the
// intents the refusals parked pass when retried.
func movedAuditValues(coll string, raw bson.Raw) bson.D {
	if coll != CollAuditLogs {
		return nil
	}
	if action, _ := raw.Lookup("action").StringValueOK(); action != "read_source_changed" {
		return nil
	}
	var set bson.D
	for _, f := range [][2]string{{"assignee_from", "value_from"}, {"assignee_to", "value_to"}} {
		v, _ := raw.Lookup(f[0]).StringValueOK()
		if v == "" {
			continue
		}
		set = append(set, bson.E{Key: f[1], Value: v}, bson.E{Key: f[0], Value: nil}) // null: how the service stores no id
	}
	return set
}

// withoutKeys drops from set the fields repair sets, and the active key
// (a repair that ends a grant unsets it).
func withoutKeys(set, repair bson.D) bson.D {
	var out bson.D
	for _, e := range set {
		if e.Key != "active_key" && !slices.ContainsFunc(repair, func(r bson.E) bool { return r.Key == e.Key }) {
			out = append(out, e)
		}
	}
	return out
}

// normalizedFields lists the fields of raw whose canonical encoding differs.
func normalizedFields(coll string, raw bson.Raw, enc func(bson.Raw) ([]byte, error)) (bson.D, error) {
	canon, err := enc(raw)
	if err != nil {
		return nil, err
	}
	have, err := raw.Elements()
	if err != nil {
		return nil, err
	}
	var set bson.D
	for _, e := range have {
		k := e.Key()
		if k == "_id" || k == "version" {
			continue
		}
		c, err := bson.Raw(canon).LookupErr(k)
		if err != nil {
			continue // a field we do not model: left as it is
		}
		v := e.Value()
		if v.Type != c.Type || string(v.Value) != string(c.Value) {
			set = append(set, bson.E{Key: k, Value: c})
		}
	}
	if _, err := raw.LookupErr("version"); err != nil {
		set = append(set, bson.E{Key: "version", Value: int64(1)})
	}
	if coll == CollUserRoles {
		var d userRoleDoc
		if err := bson.Unmarshal(canon, &d); err == nil && d.IsActive {
			if _, err := raw.LookupErr("active_key"); err != nil {
				set = append(set, bson.E{Key: "active_key", Value: roleKey(string(d.UserID), models.RoleScope(d.Scope),
					string(d.TeamID), models.RoleName(d.RoleName))})
			}
		}
	}
	if coll == CollTaskDetails {
		active, _ := raw.Lookup("is_active").BooleanOK()
		if _, err := raw.LookupErr("active_task_id"); active && err != nil {
			if t, err := bson.Raw(canon).LookupErr("task_id"); err == nil {
				set = append(set, bson.E{Key: "active_task_id", Value: t})
			}
		}
	}
	return set, nil
}

// controlFields lists the paths, under prefix, of the strings in doc (a
// document or an array) that models.HasControl refuses. Every field counts,
// those the service does not model too: the check is for the operator to
// read, and a stray field's NUL is as much the user's as a title's.
func controlFields(doc bson.Raw, prefix string) []string {
	elems, err := doc.Elements()
	if err != nil {
		return nil // undecodable: normalizing it fails and says so
	}
	var paths []string
	for _, e := range elems {
		path, v := prefix+e.Key(), e.Value()
		switch v.Type {
		case bson.TypeString, bson.TypeSymbol:
			str, ok := v.StringValueOK()
			if !ok {
				str, _ = v.SymbolOK()
			}
			if models.HasControl(str) {
				paths = append(paths, path)
			}
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			paths = append(paths, controlFields(bson.Raw(v.Value), path+".")...)
		}
	}
	return paths
}

// idText shows a document id as an operator would type it back: an
// ObjectId as its hex, a string as it is (quoted if it holds control
// characters itself), anything else as extended JSON.
func idText(id bson.RawValue) string {
	if oid, ok := id.ObjectIDOK(); ok {
		return oid.Hex()
	}
	if s, ok := id.StringValueOK(); ok {
		if models.HasControl(s) {
			return strconv.Quote(s)
		}
		return s
	}
	return id.String()
}

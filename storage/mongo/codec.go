package mongo

import (
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ref is a reference to another document. New writes store an ObjectId; the
// original service stored many references as 24-hex strings, and a few as
// other strings ("system" as the creator of seeded rows), so reading accepts
// all three and the domain sees one string form.
type ref string

// MarshalBSONValue writes a hex id as a native ObjectId, "" as null and any
// other string unchanged.
func (r ref) MarshalBSONValue() (byte, []byte, error) {
	if r == "" {
		return byte(bson.TypeNull), nil, nil
	}
	if id, err := bson.ObjectIDFromHex(string(r)); err == nil {
		t, data, err := bson.MarshalValue(id)
		return byte(t), data, err
	}
	t, data, err := bson.MarshalValue(string(r))
	return byte(t), data, err
}

// UnmarshalBSONValue reads an ObjectId, a string or null.
func (r *ref) UnmarshalBSONValue(typ byte, data []byte) error {
	rv := bson.RawValue{Type: bson.Type(typ), Value: data}
	switch rv.Type {
	case bson.TypeNull, bson.TypeUndefined:
		*r = ""
	case bson.TypeObjectID:
		*r = ref(rv.ObjectID().Hex())
	case bson.TypeString:
		*r = ref(rv.StringValue())
	default:
		return fmt.Errorf("mongo: a reference must be an ObjectId or a string, got BSON %s", rv.Type)
	}
	return nil
}

// refs converts the domain's id list for storage.
func refs(ids []string) []ref {
	out := make([]ref, len(ids))
	for i, id := range ids {
		out[i] = ref(id)
	}
	return out
}

func strs(rs []ref) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// ts is a timestamp. New writes store a BSON date (the zero time as null);
// the original wrote ISO strings on insert, which reading also accepts.
type ts time.Time

// MarshalBSONValue writes a BSON date, or null for the zero time.
func (t ts) MarshalBSONValue() (byte, []byte, error) {
	if time.Time(t).IsZero() {
		return byte(bson.TypeNull), nil, nil
	}
	typ, data, err := bson.MarshalValue(bson.NewDateTimeFromTime(time.Time(t)))
	return byte(typ), data, err
}

// UnmarshalBSONValue reads a BSON date, an ISO-8601 string or null.
func (t *ts) UnmarshalBSONValue(typ byte, data []byte) error {
	rv := bson.RawValue{Type: bson.Type(typ), Value: data}
	switch rv.Type {
	case bson.TypeNull, bson.TypeUndefined:
		*t = ts{}
	case bson.TypeDateTime:
		*t = ts(rv.Time().UTC())
	case bson.TypeString:
		parsed, err := ParseISOTime(rv.StringValue())
		if err != nil {
			return err
		}
		*t = ts(parsed)
	default:
		return fmt.Errorf("mongo: a timestamp must be a date or an ISO string, got BSON %s", rv.Type)
	}
	return nil
}

func (t ts) time() time.Time { return time.Time(t) }

// ptr returns nil for the zero time, the form the domain uses for "not set".
func (t ts) ptr() *time.Time {
	if time.Time(t).IsZero() {
		return nil
	}
	v := time.Time(t)
	return &v
}

func tsOf(p *time.Time) ts {
	if p == nil {
		return ts{}
	}
	return ts(*p)
}

// isoLayouts are the forms Python's isoformat and pydantic produce; a time
// without an offset was written in UTC (the original's TIME_ZONE).
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseISOTime parses the ISO-8601 strings the original service stored.
func ParseISOTime(s string) (time.Time, error) {
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("mongo: %q is not an ISO-8601 timestamp", s)
}

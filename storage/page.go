package storage

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
)

// Page sizes of every connection (SPEC §4).
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// PageArgs are a connection's arguments.
type PageArgs struct {
	First *int
	After *string
}

// limit validates First and returns the page size.
func (a PageArgs) limit() (int, error) {
	if a.First == nil {
		return DefaultPageSize, nil
	}
	n := *a.First
	if n < 0 || n > MaxPageSize {
		return 0, invalid("first", "must be between 0 and %d, got %d", MaxPageSize, n)
	}
	return n, nil
}

// Edge is one item of a page with the cursor that points just after it.
type Edge[T any] struct {
	Cursor string
	Node   T
}

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Edges       []Edge[T]
	HasNextPage bool
}

// cursor is the position of an item in a keyset order: the values of the
// sort keys and the id that breaks ties. Because the next page starts after
// a position, not at an offset, inserts between pages shift nothing.
type cursor struct {
	// Keys may hold nulls: a task without a due date sorts too.
	Keys []*string `json:"k"`
	ID   string    `json:"i"`
}

func encodeCursor(id string, keys ...*string) string {
	b, _ := json.Marshal(cursor{Keys: keys, ID: id}) // cannot fail for strings
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads an "after" argument whose order has nKeys sort keys.
func decodeCursor(s string, nKeys int) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || len(c.Keys) != nKeys || !isObjectIDHex(c.ID) {
		return cursor{}, invalid("after", "not a cursor of this list")
	}
	return c, nil
}

// isObjectIDHex tells whether s has the form of an ObjectId, so that a forged
// cursor is reported as a bad "after" rather than by the store.
func isObjectIDHex(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 24 && err == nil
}

func strp(s string) *string { return &s }

// key returns a cursor key that must not be null.
func (c cursor) key(i int) (string, error) {
	if c.Keys[i] == nil {
		return "", invalid("after", "not a cursor of this list")
	}
	return *c.Keys[i], nil
}

// trim cuts a fetch of limit+1 items to limit and reports whether more exist.
func trim[T any](items []T, limit int) ([]T, bool) {
	if len(items) > limit {
		return items[:limit], true
	}
	return items, false
}

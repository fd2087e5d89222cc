package resolvers

import (
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// pageInfo describes where a page of edges starts and ends. after is the
// page's `after` argument. Connections page forward only and hand out a
// cursor only for an item they listed, so a page asked for after one is not
// the first: hasPreviousPage is exactly "after was given". The cursor's item
// is not looked up again (that would cost a query per page for a flag), so
// the flag stays true when the item has since been deleted or filtered out.
// The storage layer has already refused an after that is not a cursor.
func pageInfo[T any](after *string, page storage.Page[T]) models.PageInfo {
	pi := models.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != nil}
	if n := len(page.Edges); n > 0 {
		first, last := page.Edges[0].Cursor, page.Edges[n-1].Cursor
		pi.StartCursor, pi.EndCursor = &first, &last
	}
	return pi
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

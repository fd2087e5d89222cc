package resolvers

import (
	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// pageInfo describes where a page of edges ends.
func pageInfo[T any](hasNext bool, edges []storage.Edge[T]) models.PageInfo {
	pi := models.PageInfo{HasNextPage: hasNext}
	if n := len(edges); n > 0 {
		c := edges[n-1].Cursor
		pi.EndCursor = &c
	}
	return pi
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

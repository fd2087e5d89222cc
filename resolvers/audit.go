package resolvers

import (
	"context"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// auditConnection lists audit entries as a connection.
func (r *Resolver) auditConnection(ctx context.Context, f storage.AuditFilter, first *int, after *string) (*models.AuditLogConnection, error) {
	page, count, err := r.Store.AuditLogs(ctx, f, storage.PageArgs{First: first, After: after})
	if err != nil {
		return nil, err
	}
	conn := &models.AuditLogConnection{Edges: make([]models.AuditLogEdge, len(page.Edges)), Count: count}
	for i, e := range page.Edges {
		conn.Edges[i] = models.AuditLogEdge{Cursor: e.Cursor, Node: e.Node}
	}
	conn.PageInfo = pageInfo(after, page)
	return conn, nil
}

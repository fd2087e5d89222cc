package models

// PageInfo says where a page of a connection ends.
type PageInfo struct {
	HasNextPage bool
	EndCursor   *string
}

// LabelEdge is one label of a page with its cursor.
type LabelEdge struct {
	Cursor string
	Node   Label
}

// LabelConnection is a page of labels. Search is kept so totalCount can count
// the same selection when a client asks for it.
type LabelConnection struct {
	Edges    []LabelEdge
	PageInfo PageInfo
	Search   string
}

// Nodes returns the labels of the page without their cursors.
func (c *LabelConnection) Nodes() []Label {
	out := make([]Label, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

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

// TeamCreationInviteCodeEdge is one code of a page with its cursor.
type TeamCreationInviteCodeEdge struct {
	Cursor string
	Node   TeamCreationInviteCode
}

// TeamCreationInviteCodeConnection is a page of team-creation codes.
type TeamCreationInviteCodeConnection struct {
	Edges    []TeamCreationInviteCodeEdge
	PageInfo PageInfo
}

// Nodes returns the codes of the page.
func (c *TeamCreationInviteCodeConnection) Nodes() []TeamCreationInviteCode {
	out := make([]TeamCreationInviteCode, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

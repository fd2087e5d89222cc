package mongo

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/todo-backend/todo/models"
)

// The functions below turn domain values into documents for writing. With
// the decoders in docs.go they are the whole mapping between the two.

func oid(id string) bson.ObjectID {
	o, err := bson.ObjectIDFromHex(id)
	if err != nil {
		// Callers create ids with NewID or read them from the store; an
		// invalid one is a programming error, caught by the write failing
		// on a zero id rather than by a panic.
		return bson.ObjectID{}
	}
	return o
}

// NewID returns a fresh ObjectId in hex, for documents about to be inserted.
func NewID() string { return bson.NewObjectID().Hex() }

func labelDocOf(l models.Label) labelDoc {
	return labelDoc{ID: oid(l.ID), Name: l.Name, Color: l.Color, Description: l.Description, IsDeleted: l.IsDeleted,
		CreatedAt: ts(l.CreatedAt), UpdatedAt: tsOf(l.UpdatedAt), CreatedBy: ref(l.CreatedBy), UpdatedBy: ref(l.UpdatedBy),
		Version: l.Version}
}

func assignmentDocOf(a models.TaskAssignment) assignmentDoc {
	d := assignmentDoc{ID: oid(a.ID), TaskID: ref(a.TaskID), AssigneeID: ref(a.AssigneeID), UserType: string(a.AssigneeType),
		IsActive: a.IsActive, TeamID: ref(a.TeamID), ExecutorID: ref(a.ExecutorID), CreatedBy: ref(a.CreatedBy),
		UpdatedBy: ref(a.UpdatedBy), CreatedAt: ts(a.CreatedAt), UpdatedAt: tsOf(a.UpdatedAt), Version: a.Version}
	if a.IsActive {
		d.ActiveTaskID = ref(a.TaskID)
	}
	return d
}

func teamDocOf(t models.Team) teamDoc {
	return teamDoc{ID: oid(t.ID), Name: t.Name, Description: t.Description, POCID: ref(t.POCID), InviteCode: t.InviteCode,
		CreatedBy: ref(t.CreatedBy), UpdatedBy: ref(t.UpdatedBy), CreatedAt: ts(t.CreatedAt), UpdatedAt: tsOf(t.UpdatedAt),
		IsDeleted: t.IsDeleted, Version: t.Version}
}

func membershipDocOf(m models.TeamMembership) membershipDoc {
	return membershipDoc{ID: oid(m.ID), UserID: ref(m.UserID), TeamID: ref(m.TeamID), IsActive: m.IsActive,
		CreatedBy: ref(m.CreatedBy), UpdatedBy: ref(m.UpdatedBy), CreatedAt: ts(m.CreatedAt), UpdatedAt: tsOf(m.UpdatedAt),
		Version: m.Version}
}

func userRoleDocOf(r models.UserRole) userRoleDoc {
	d := userRoleDoc{ID: oid(r.ID), UserID: ref(r.UserID), RoleName: string(r.RoleName), Scope: string(r.Scope),
		TeamID: ref(r.TeamID), IsActive: r.IsActive, CreatedAt: ts(r.CreatedAt), CreatedBy: ref(r.CreatedBy),
		UpdatedAt: tsOf(r.UpdatedAt), UpdatedBy: ref(r.UpdatedBy), Version: r.Version}
	if r.IsActive {
		d.ActiveKey = roleKey(r.UserID, r.Scope, r.TeamID, r.RoleName)
	}
	return d
}

func watchlistDocOf(w models.WatchlistEntry) watchlistDoc {
	return watchlistDoc{ID: oid(w.ID), TaskID: ref(w.TaskID), UserID: ref(w.UserID), IsActive: w.IsActive,
		CreatedAt: ts(w.CreatedAt), CreatedBy: ref(w.CreatedBy), UpdatedAt: tsOf(w.UpdatedAt), UpdatedBy: ref(w.UpdatedBy),
		Version: w.Version}
}

func auditLogDocOf(a models.AuditLog) auditLogDoc {
	return auditLogDoc{ID: oid(a.ID), TaskID: ref(a.TaskID), TeamID: ref(a.TeamID),
		PreviousExecutorID: ref(a.PreviousExecutorID), NewExecutorID: ref(a.NewExecutorID), SpocID: ref(a.SpocID),
		Action: a.Action, Timestamp: ts(a.Timestamp), StatusFrom: a.StatusFrom, StatusTo: a.StatusTo,
		AssigneeFrom: ref(a.AssigneeFrom), AssigneeTo: ref(a.AssigneeTo), PerformedBy: ref(a.PerformedBy),
		TargetUserID: ref(a.TargetUserID), Version: a.Version}
}

func creationCodeDocOf(c models.TeamCreationInviteCode) creationCodeDoc {
	return creationCodeDoc{ID: oid(c.ID), Code: c.Code, Description: c.Description, CreatedBy: ref(c.CreatedBy),
		CreatedAt: ts(c.CreatedAt), UsedAt: tsOf(c.UsedAt), UsedBy: ref(c.UsedBy), IsUsed: c.IsUsed, Version: c.Version}
}

package resolvers

import (
	"time"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func intp(v *int64) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

func syncStatus(st storage.SyncStatus) *models.SyncStatus {
	out := &models.SyncStatus{Collection: st.Collection, ID: st.ID, State: models.SyncState(st.State),
		DocumentVersion: intp(st.DocVersion), RowVersion: intp(st.RowVersion), Differences: st.Differences}
	if out.Differences == nil {
		out.Differences = []string{}
	}
	if st.Error != "" {
		out.Error = &st.Error
	}
	if st.Unavailable != "" {
		out.Unavailable = &st.Unavailable
	}
	return out
}

func timep(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func syncFailure(f storage.SyncFailure) models.SyncFailure {
	out := models.SyncFailure{Collection: f.Coll, ID: f.DocID, Version: intp(f.Version), Op: "UPSERT",
		Attempts: f.Attempts, FirstFailedAt: timep(f.FirstFailedAt), LastFailedAt: timep(f.LastFailedAt),
		NextAttemptAt: timep(f.NextAttemptAt), State: models.SyncStatePending, Permanent: f.Permanent}
	if f.Permanent {
		out.NextAttemptAt = nil // it waits for a write or an admin, not for a time
	}
	if f.Version == nil {
		out.Op = "DELETE"
	}
	if f.LastError != "" {
		out.Error = &f.LastError
	}
	if f.Failed {
		out.State = models.SyncStateFailed
	}
	return out
}

package storage

import (
	"context"
	"time"

	"github.com/todo-backend/todo/storage/mirror"
	"github.com/todo-backend/todo/storage/mongo"
)

// The facade's own types: what callers (resolvers, the server, the auth
// service) hand in and get back. The stores under storage have theirs; the
// facade converts, so a change of a store's shapes stops here and callers
// import storage alone (a depguard rule in .golangci.yml holds them to it).

// Task orders (TaskList.Order).
const (
	OrderUpdatedAt = "updatedAt"
	OrderCreatedAt = "createdAt"
	OrderDueAt     = "dueAt"
	OrderPriority  = "priority"
	OrderTitle     = "title"
)

// Deferral filters (TaskList.Deferred).
const (
	DeferredExclude = "EXCLUDE"
	DeferredOnly    = "ONLY"
	DeferredInclude = "INCLUDE"
)

// taskOrder is the store's order field for o ("" for the default).
func taskOrder(o string) string {
	switch o {
	case OrderCreatedAt:
		return mongo.OrderCreatedAt
	case OrderDueAt:
		return mongo.OrderDueAt
	case OrderPriority:
		return mongo.OrderPriority
	case OrderTitle:
		return mongo.OrderTitle
	case OrderUpdatedAt:
		return mongo.OrderUpdatedAt
	}
	return ""
}

// deferral is the store's deferral filter for d (the default excludes).
func deferral(d string) string {
	switch d {
	case DeferredOnly:
		return mongo.DeferredOnly
	case DeferredInclude:
		return mongo.DeferredInclude
	}
	return mongo.DeferredExclude
}

// AuditFilter selects audit entries; empty fields select all.
type AuditFilter struct {
	Action  string
	ActorID string
	TeamID  string
	TaskID  string
	Since   *time.Time
	Until   *time.Time
}

func (f AuditFilter) query() mongo.AuditQuery {
	return mongo.AuditQuery{Action: f.Action, ActorID: f.ActorID, TeamID: f.TeamID, TaskID: f.TaskID, Since: f.Since, Until: f.Until}
}

// RefreshToken is the server-side record of a refresh token.
type RefreshToken struct {
	ID        string
	Family    string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
	RevokedAt time.Time
}

func (t RefreshToken) doc() mongo.RefreshToken {
	return mongo.RefreshToken{ID: t.ID, Family: t.Family, UserID: t.UserID, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, UsedAt: t.UsedAt, RevokedAt: t.RevokedAt}
}

func refreshTokenOf(d mongo.RefreshToken) RefreshToken {
	return RefreshToken{ID: d.ID, Family: d.Family, UserID: d.UserID, CreatedAt: d.CreatedAt,
		ExpiresAt: d.ExpiresAt, UsedAt: d.UsedAt, RevokedAt: d.RevokedAt}
}

// Sync states of a document (SyncStatus.State).
const (
	SyncSynced    = mirror.StateSynced
	SyncPending   = mirror.StatePending
	SyncFailed    = mirror.StateFailed
	SyncDifferent = mirror.StateDifferent
	SyncMissing   = mirror.StateMissing
	SyncUnknown   = mirror.StateUnknown
)

// SyncStatus is where one document stands in the mirror.
type SyncStatus struct {
	Collection, ID string
	// State is one of the Sync* states.
	State string
	// DocVersion is nil when the document does not exist; RowVersion when
	// the mirror has no row.
	DocVersion, RowVersion *int64
	Error                  string
	// Differences lists the fields a DIFFERENT row holds otherwise.
	Differences []string
	// Unavailable names the store that did not answer in time, if any.
	Unavailable string
}

func syncStatusOf(st mirror.Status) SyncStatus {
	return SyncStatus{Collection: st.Collection, ID: st.ID, State: st.State, DocVersion: st.DocVersion,
		RowVersion: st.RowVersion, Error: st.Error, Differences: st.Differences, Unavailable: st.Unavailable}
}

// SyncFailure is a mirror write that failed at least once.
type SyncFailure struct {
	Coll, DocID string
	// Failed: flagged FAILED after its attempts (otherwise still PENDING,
	// retrying).
	Failed        bool
	Permanent     bool
	Attempts      int
	LastError     string
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	NextAttemptAt time.Time
	// Version is the document's current version; nil when it is gone.
	Version *int64
}

func syncFailureOf(f mirror.Failure) SyncFailure {
	return SyncFailure{Coll: f.Coll, DocID: f.DocID, Failed: f.State == mongo.IntentFailed, Permanent: f.Permanent,
		Attempts: f.Attempts, LastError: f.LastError, FirstFailedAt: f.FirstFailedAt, LastFailedAt: f.LastFailedAt,
		NextAttemptAt: f.NextAttemptAt}
}

// TableStats is one mirrored table's row count and latest sync.
type TableStats struct {
	Rows       int
	LastSyncAt *time.Time
}

// IntentCounts are the mirror's waiting writes per collection.
type IntentCounts struct {
	Pending, Failed map[string]int
	OldestPending   time.Duration
}

// TotalPending adds up the pending writes.
func (c IntentCounts) TotalPending() int { return total(c.Pending) }

// TotalFailed adds up the failed writes.
func (c IntentCounts) TotalFailed() int { return total(c.Failed) }

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func intentCountsOf(c mirror.IntentCounts) IntentCounts {
	return IntentCounts{Pending: c.Pending, Failed: c.Failed, OldestPending: c.OldestPending}
}

// VerifySummary is what the last verification found.
type VerifySummary struct {
	At                                  time.Time
	Missing, Extra, Different, Repaired int
}

func verifySummaryOf(v mirror.VerifyResult) VerifySummary {
	return VerifySummary{At: v.At, Missing: v.Missing, Extra: v.Extra, Different: v.Different, Repaired: v.Repaired}
}

// CatchUp is a running catch-up's progress: since when mirroring was off,
// and how far the copy is.
type CatchUp struct {
	Since       time.Time
	Done, Total int
}

// SyncState is the mirror's state as health reports it.
type SyncState struct {
	e *mirror.Engine
}

// SyncStateOf reads e's state for health (e is not nil: a server with no
// engine has no sync state to report, and passes none).
func SyncStateOf(e *mirror.Engine) *SyncState { return &SyncState{e: e} }

// Counts are the waiting writes.
func (s *SyncState) Counts(ctx context.Context) (IntentCounts, error) {
	c, err := s.e.Counts(ctx)
	return intentCountsOf(c), err
}

// Enabled reports whether writes are mirrored.
func (s *SyncState) Enabled() bool { return s.e.Enabled() }

// Unreachable reports that PostgreSQL stopped answering (writes wait for
// the worker).
func (s *SyncState) Unreachable() bool { return s.e.Unreachable() }

// CatchingUp is the running catch-up, if any.
func (s *SyncState) CatchingUp() (CatchUp, bool) {
	p, ok := s.e.CatchingUp()
	return CatchUp{Since: p.Since, Done: p.Done, Total: p.Total}, ok
}

// LastVerify is the last verification's result, if there was one.
func (s *SyncState) LastVerify(ctx context.Context) (VerifySummary, bool, error) {
	v, ok, err := s.e.LastVerify(ctx)
	return verifySummaryOf(v), ok, err
}

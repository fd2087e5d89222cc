package models

import "time"

// SyncFailure is a mirror write that failed at least once.
type SyncFailure struct {
	Collection    string
	ID            string
	Version       *int
	Op            string
	Error         *string
	Attempts      int
	FirstFailedAt *time.Time
	LastFailedAt  *time.Time
	NextAttemptAt *time.Time
	State         SyncState
	Permanent     bool
}

// SyncStatus is where one document stands in the mirror.
type SyncStatus struct {
	Collection      string
	ID              string
	State           SyncState
	DocumentVersion *int
	RowVersion      *int
	Error           *string
	Differences     []string
	Unavailable     *string
}

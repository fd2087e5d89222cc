package resolvers

import (
	"strings"

	"github.com/todo-backend/todo/models"
	"github.com/todo-backend/todo/storage"
)

// readMigration is the families' states as the API shows them (the
// facade's names are the enums' values in lower case).
func readMigration(states []storage.ReadFamilyState) *models.ReadMigration {
	out := &models.ReadMigration{Families: make([]models.ReadFamilyState, len(states))}
	for i, s := range states {
		out.Families[i] = models.ReadFamilyState{Family: models.ReadFamily(strings.ToUpper(s.Family)),
			Source: models.ReadSource(strings.ToUpper(s.Source)), ShadowPercent: s.ShadowPercent,
			ReadableFromPostgres: storage.ReadableFromPostgres(s.Family), Matched: int(s.Matched),
			Mismatched: int(s.Mismatched), Lag: int(s.Lag), CandidateErrors: int(s.CandidateErrors),
			Fallbacks: int(s.Fallbacks), ServedFromPostgres: int(s.Served),
			ShadowSkipped: int(s.Skipped)}
	}
	return out
}

package postgres

import (
	"database/sql/driver"
	"strings"

	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
	"modernc.org/sqlite"
)

// sqliteLower is the SQLite function Lower names: SQLite's own lower()
// changes ASCII letters only, so "ÉCRIRE" would not find "Écrire" in the
// embedded mirror while MongoDB's case-insensitive match does (and so does
// PostgreSQL's lower() under a UTF-8 locale). The name is the service's
// own, not an override of lower(): FerretDB's SQLite, in the same process,
// keeps SQLite's.
const sqliteLower = "todo_lower"

// The driver takes functions for every connection it opens, and only from
// a package-level registration, hence init.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteLower, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		if s, ok := args[0].(string); ok {
			return strings.ToLower(s), nil
		}
		return args[0], nil
	})
}

// Lower is the SQL that lower-cases expr as Go's strings.ToLower does, to
// match a pattern lower-cased in Go: Unicode letters too, on either
// dialect.
func Lower(d schema.Dialect, expr string) string {
	if d.Name() == dialect.SQLite {
		return sqliteLower + "(" + expr + ")"
	}
	return "LOWER(" + expr + ")"
}

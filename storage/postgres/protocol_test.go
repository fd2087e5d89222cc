package postgres

import (
	"testing"

	"github.com/todo-backend/todo/internal/testenv"
)

// Bun writes every value into the SQL text, so no two of the mirror's
// upserts have the same text. pgx's default mode prepared each query that
// returns rows (an upsert's RETURNING id) before running it: a round trip
// and a parse more per write, and a cache of statements that are never used
// again. Queries go in one simple-protocol message each.
func TestQueriesPrepareNoStatements(t *testing.T) {
	db := openPostgres(t, testenv.PostgresDSN(t))
	db.Bun.SetMaxOpenConns(1) // every query on the one session asked below
	ctx := t.Context()
	for i := range 5 {
		var n int
		if err := db.Bun.NewSelect().ColumnExpr("? + 1", i).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n != i+1 {
			t.Fatalf("select %d + 1: got %d", i, n)
		}
	}
	var prepared int
	if err := db.Bun.NewSelect().TableExpr("pg_prepared_statements").ColumnExpr("count(*)").Scan(ctx, &prepared); err != nil {
		t.Fatal(err)
	}
	if prepared != 0 {
		t.Errorf("prepared statements after 5 queries: got %d, want 0", prepared)
	}
}

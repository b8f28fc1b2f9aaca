package migrate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/migrate"
)

// numbers are spelled so that PostgreSQL's JSONB rewrites them, keys are
// duplicated and unordered, and big integers sit past float64 precision.
var numbers = []string{
	"exp", `{"n":1e2}`,
	"frac", `{"n":1.10,"m":-0.0,"e":-2.5E-3}`,
	"big", `{"n":12345678901234567890,"neg":-98765432109876543210}`,
	"dup", `{"z":1,"a":2,"z":3}`,
	"space", "{ \"b\" : [ 1 , 2 ] ,\n \"a\" : { } }",
	"unicode", `{"ключ":"値","emoji":"\ud83d\ude00","esc":"\u00e9\/\t"}`,
}

func TestCopy_SQLiteToPostgresToSQLite(t *testing.T) {
	pg := mustOpenPostgres(t)
	a, b := mustOpenSQLite(t), mustOpenSQLite(t)
	mustSeed(t, a, "runs", 2345)
	nSuite := int64(mustPutSuite(t, a, "suite"))
	mustPut(t, a, "numbers", numbers...)
	total := 2345 + nSuite + int64(len(numbers)/2)
	opts := &migrate.Options{BatchSize: 500}

	t.Run("ToPostgres", func(t *testing.T) {
		r := mustCopy(t, a, pg, opts)
		wantTotals(t, r, total, total, 0, 0)
		for _, table := range []string{"numbers", "runs", "suite"} {
			mustEqualTables(t, a, pg, table, false)
		}
	})
	t.Run("ToPostgresAgainSkipsAll", func(t *testing.T) {
		r := mustCopy(t, a, pg, opts)
		wantTotals(t, r, total, 0, total, 0)
	})
	t.Run("BackToSQLite", func(t *testing.T) {
		r := mustCopy(t, pg, b, opts)
		wantTotals(t, r, total, total, 0, 0)
		for _, table := range []string{"numbers", "runs", "suite"} {
			mustEqualTables(t, a, b, table, false)
		}
	})
	t.Run("OriginalAgainstRoundTripMatches", func(t *testing.T) {
		// The twice-converted copy holds JSONB's spelling (100 for 1e2,
		// sorted keys); verification must still see equal documents.
		r := mustCopy(t, a, b, &migrate.Options{DryRun: true})
		wantTotals(t, r, total, 0, total, 0)
	})
}

func TestCopy_PostgresTargetMismatch(t *testing.T) {
	src, pg := mustOpenSQLite(t), mustOpenPostgres(t)
	mustPut(t, src, "t", "big", `{"n":12345678901234567890}`, "exp", `{"n":1e2}`, "new", `{"v":1}`)
	mustPut(t, pg, "t", "big", `{"n":12345678901234567891}`, "exp", `{"n":100}`)

	r, err := migrate.Copy(context.Background(), src, pg, nil)
	var mm *migrate.DigestMismatchError
	if !errors.As(err, &mm) || mm.Mismatches != 1 {
		t.Fatalf("Copy error = %v, want one digest mismatch", err)
	}
	wantTotals(t, r, 3, 1, 2, 1)
	if !slices.ContainsFunc(r.Totals.Errors, func(e string) bool { return strings.HasPrefix(e, "t/big: digest mismatch") }) {
		t.Fatalf("errors = %q, want t/big", r.Totals.Errors)
	}
	got := dump(t, pg, "t")
	if i := slices.IndexFunc(got, func(r persist.Record) bool { return r.ID == "big" }); i < 0 || !strings.Contains(string(got[i].Data), "12345678901234567891") {
		t.Fatalf("target big overwritten: %v", got)
	}
}

func TestCopy_PostgresDryRunAndResume(t *testing.T) {
	src, pg := mustOpenSQLite(t), mustOpenPostgres(t)
	const n = 4000
	mustSeed(t, src, "runs", n)

	t.Run("DryRunUntouched", func(t *testing.T) {
		r := mustCopy(t, src, pg, &migrate.Options{DryRun: true})
		wantTotals(t, r, n, n, 0, 0)
		if tables := mustTables(t, pg); len(tables) != 0 {
			t.Fatalf("target tables after dry run = %v", tables)
		}
	})
	t.Run("CancelledThenResumed", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := migrate.Copy(ctx, src, pg, &migrate.Options{BatchSize: 250, Progress: func(p migrate.Progress) {
			if p.Phase == migrate.PhaseCopy && p.Done >= n/2 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Copy error = %v, want context.Canceled", err)
		}
		copied := mustCount(t, pg, "runs")
		if copied == 0 || copied >= n {
			t.Fatalf("%d rows on target after cancel; want a partial copy", copied)
		}
		r := mustCopy(t, src, pg, &migrate.Options{BatchSize: 250})
		wantTotals(t, r, n, n-copied, copied, 0)
		mustEqualTables(t, src, pg, "runs", false)
	})
}

// ginIndexes counts the jsonb_path_ops GIN indexes on table, which a bulk
// load defers on an empty PostgreSQL table opened with query_index=true.
func ginIndexes(tb testing.TB, base, schema, table string) int {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = $2
		AND indexdef LIKE '%USING gin (data jsonb_path_ops)%'`, schema, table).Scan(&n)
	if err != nil {
		tb.Fatalf("pg_indexes: %v", err)
	}
	return n
}

func TestCopy_PostgresTargetKeepsGINIndex(t *testing.T) {
	const n = 3000
	src := mustOpenSQLite(t)
	mustSeed(t, src, "runs", n)
	mustSeed(t, src, "cancelled", n)
	base := pgtest.URL(t)
	schema := pgtest.Schema(t, base, "migrate_test_")
	pg := mustOpenURL(t, pgtest.WithSearchPath(t, base, schema, map[string]string{"query_index": "true"}))

	t.Run("AfterCopy", func(t *testing.T) {
		r := mustCopy(t, src, pg, &migrate.Options{Tables: []string{"runs"}, BatchSize: 500})
		wantTotals(t, r, n, n, 0, 0)
		if got := ginIndexes(t, base, schema, "runs"); got != 1 {
			t.Fatalf("%d GIN indexes on runs after Copy, want 1", got)
		}
		if tr := r.Tables[0]; tr.IndexSeconds <= 0 {
			t.Errorf("index_seconds = %v for a table loaded empty, want the index build's time", tr.IndexSeconds)
		}
	})
	t.Run("AfterCancelledCopy", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := migrate.Copy(ctx, src, pg, &migrate.Options{Tables: []string{"cancelled"}, BatchSize: 250,
			Progress: func(p migrate.Progress) {
				if p.Phase == migrate.PhaseCopy && p.Done >= n/2 {
					cancel()
				}
			}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Copy error = %v, want context.Canceled", err)
		}
		if got := ginIndexes(t, base, schema, "cancelled"); got != 1 {
			t.Fatalf("%d GIN indexes on cancelled after an interrupted Copy, want 1", got)
		}
	})
	t.Run("Resumed", func(t *testing.T) {
		r := mustCopy(t, src, pg, &migrate.Options{Tables: []string{"cancelled"}, BatchSize: 250})
		copied := mustCount(t, src, "cancelled") - r.Totals.RowsInserted
		wantTotals(t, r, n, n-copied, copied, 0)
		mustEqualTables(t, src, pg, "cancelled", false)
		if got := ginIndexes(t, base, schema, "cancelled"); got != 1 {
			t.Fatalf("%d GIN indexes on cancelled after the resumed Copy, want 1", got)
		}
	})
}

package migrate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/persistkit/persist"
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

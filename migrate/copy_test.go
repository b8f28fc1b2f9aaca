package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"

	_ "modernc.org/sqlite" // database/sql driver for seedPortalFile
)

// mustCopy runs Copy and fails on any error.
func mustCopy(tb testing.TB, src, dst persist.DB, opts *migrate.Options) *migrate.Report {
	tb.Helper()
	r, err := migrate.Copy(context.Background(), src, dst, opts)
	if err != nil {
		tb.Fatalf("Copy: %v (report %+v)", err, r.Totals)
	}
	return r
}

func wantTotals(tb testing.TB, r *migrate.Report, read, inserted, skipped, mismatches int64) {
	tb.Helper()
	c := r.Totals
	if c.RowsRead != read || c.RowsInserted != inserted || c.RowsSkippedDuplicate != skipped || c.DigestMismatches != mismatches {
		tb.Fatalf("read/inserted/skipped/mismatches = %d/%d/%d/%d, want %d/%d/%d/%d (errors %q)",
			c.RowsRead, c.RowsInserted, c.RowsSkippedDuplicate, c.DigestMismatches, read, inserted, skipped, mismatches, c.Errors)
	}
}

func TestCopy_SQLiteToSQLite(t *testing.T) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	mustSeed(t, src, "runs", 2345)
	nSuite := mustPutSuite(t, src, "suite")
	mustPut(t, src, "empty_after_clear", "x", `{}`)
	if _, err := mustStore(t, src, "empty_after_clear").Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := int64(2345 + nSuite)
	opts := &migrate.Options{BatchSize: 100}

	t.Run("OK", func(t *testing.T) {
		r := mustCopy(t, src, dst, opts)
		wantTotals(t, r, total, total, 0, 0)
		if r.Totals.RowsVerified != total || r.Totals.RowsFailed != 0 || r.Totals.ExtraTargetRows != 0 {
			t.Fatalf("totals = %+v", r.Totals)
		}
		for _, table := range []string{"runs", "suite"} {
			mustEqualTables(t, src, dst, table, true)
		}
		var names []string
		for _, tr := range r.Tables {
			names = append(names, tr.Table)
			if !tr.Verified {
				t.Fatalf("table %s not verified", tr.Table)
			}
		}
		if want := []string{"empty_after_clear", "runs", "suite"}; !slices.Equal(names, want) {
			t.Fatalf("tables = %v, want %v", names, want)
		}
	})
	t.Run("SecondRunSkipsAll", func(t *testing.T) {
		r := mustCopy(t, src, dst, opts)
		wantTotals(t, r, total, 0, total, 0)
		mustEqualTables(t, src, dst, "runs", true)
	})
	t.Run("ReportJSONKeys", func(t *testing.T) {
		r := mustCopy(t, src, dst, &migrate.Options{Tables: []string{"runs"}})
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{`"rows_read":2345`, `"rows_inserted":0`, `"rows_skipped_duplicate":2345`,
			`"digest_mismatches":0`, `"rows_failed":0`, `"elapsed_seconds":`, `"errors":[]`, `"table":"runs"`, `"totals":{`} {
			if !strings.Contains(string(b), key) {
				t.Fatalf("report JSON lacks %s: %s", key, b)
			}
		}
	})
}

// copyFuncs are the ways of verifying: each written batch read back in
// insertion order from a table that was empty, else looked up by id (the
// default); every batch looked up by id; and both sides listed in id order
// after the copy.
var copyFuncs = map[string]func(context.Context, persist.DB, persist.DB, *migrate.Options) (*migrate.Report, error){
	"Default":   migrate.Copy,
	"ByID":      migrate.CopyByID,
	"ByListing": migrate.CopyByListing,
}

func TestCopy_Mismatches(t *testing.T) {
	for name, copyFn := range copyFuncs {
		t.Run(name, func(t *testing.T) { testMismatches(t, copyFn) })
	}
}

func testMismatches(t *testing.T, copyFn func(context.Context, persist.DB, persist.DB, *migrate.Options) (*migrate.Report, error)) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	mustPut(t, src, "t",
		"same", `{"a":1}`,
		"big", `{"n":12345678901234567890}`,
		"exp", `{"n":1e2}`,
		"differs", `{"v":"source"}`,
		"new", `{"v":"new"}`)
	mustPut(t, dst, "t",
		"same", `{"a":1}`,
		"big", `{"n":12345678901234567891}`,
		"exp", `{"n":100}`,
		"differs", `{"v":"target"}`,
		"extra", `{"only":"target"}`)
	before := dump(t, dst, "t")

	r, err := copyFn(context.Background(), src, dst, nil)
	var mm *migrate.DigestMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("Copy error = %v, want *DigestMismatchError", err)
	}
	if mm.Mismatches != 2 || !slices.Equal(mm.Tables, []string{"t"}) {
		t.Fatalf("DigestMismatchError = %+v, want 2 in [t]", mm)
	}
	t.Run("BigIntsDiffer", func(t *testing.T) {
		if !slices.ContainsFunc(r.Totals.Errors, func(e string) bool { return strings.HasPrefix(e, "t/big: digest mismatch") }) {
			t.Fatalf("errors = %q, want t/big", r.Totals.Errors)
		}
	})
	t.Run("ExponentEqualsInteger", func(t *testing.T) {
		if slices.ContainsFunc(r.Totals.Errors, func(e string) bool { return strings.HasPrefix(e, "t/exp") }) {
			t.Fatalf("errors = %q: 1e2 and 100 must match", r.Totals.Errors)
		}
	})
	t.Run("DifferingTargetRowNotOverwritten", func(t *testing.T) {
		after := dump(t, dst, "t")
		for _, b := range before {
			i := slices.IndexFunc(after, func(a persist.Record) bool { return a.ID == b.ID })
			if i < 0 || string(after[i].Data) != string(b.Data) || after[i].Revision != b.Revision {
				t.Fatalf("target %s changed: %+v", b.ID, after)
			}
		}
	})
	t.Run("Counts", func(t *testing.T) {
		wantTotals(t, r, 5, 1, 4, 2)
		if r.Totals.ExtraTargetRows != 1 || r.Totals.RowsVerified != 3 {
			t.Fatalf("extra/verified = %d/%d, want 1/3", r.Totals.ExtraTargetRows, r.Totals.RowsVerified)
		}
	})
}

func TestCopy_DryRun(t *testing.T) {
	src := mustOpenSQLite(t)
	mustSeed(t, src, "runs", 250)
	mustPut(t, src, "other", "a", `{"v":1}`, "b", `{"v":2}`)

	t.Run("EmptyTargetUntouched", func(t *testing.T) {
		dst := mustOpenSQLite(t)
		r := mustCopy(t, src, dst, &migrate.Options{DryRun: true, BatchSize: 64})
		if !r.DryRun {
			t.Fatal("report DryRun = false")
		}
		wantTotals(t, r, 252, 252, 0, 0)
		if tables := mustTables(t, dst); len(tables) != 0 {
			t.Fatalf("target tables after dry run = %v, want none", tables)
		}
	})
	t.Run("PartialTargetUntouched", func(t *testing.T) {
		dst := mustOpenSQLite(t)
		mustPut(t, dst, "other", "a", `{"v":1}`, "b", `{"v":"changed"}`, "z", `{}`)
		r, err := migrate.Copy(context.Background(), src, dst, &migrate.Options{DryRun: true})
		var mm *migrate.DigestMismatchError
		if !errors.As(err, &mm) || mm.Mismatches != 1 {
			t.Fatalf("Copy error = %v, want one digest mismatch", err)
		}
		wantTotals(t, r, 252, 250, 2, 1)
		if r.Totals.ExtraTargetRows != 1 {
			t.Fatalf("extra = %d, want 1", r.Totals.ExtraTargetRows)
		}
		if tables := mustTables(t, dst); !slices.Equal(tables, []string{"other"}) {
			t.Fatalf("target tables after dry run = %v, want [other]", tables)
		}
		if n := mustCount(t, dst, "other"); n != 3 {
			t.Fatalf("target count = %d, want 3", n)
		}
	})
}

func TestCopy_CancelledThenResumed(t *testing.T) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	const n = 3000
	mustSeed(t, src, "runs", n)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int64
	r, err := migrate.Copy(ctx, src, dst, &migrate.Options{BatchSize: 200, Progress: func(p migrate.Progress) {
		if p.Phase == migrate.PhaseCopy && p.Done >= n/2 {
			seen = p.Done
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Copy error = %v, want context.Canceled", err)
	}
	copied := mustCount(t, dst, "runs")
	if seen == 0 || copied == 0 || copied >= n {
		t.Fatalf("cancelled after %d rows with %d on target; want a partial copy", seen, copied)
	}
	if r.Tables[0].Verified {
		t.Fatal("interrupted table reported as verified")
	}

	r = mustCopy(t, src, dst, &migrate.Options{BatchSize: 200})
	wantTotals(t, r, n, n-copied, copied, 0)
	mustEqualTables(t, src, dst, "runs", true)
}

func TestCopy_PartialFailure(t *testing.T) {
	for name, copyFn := range copyFuncs {
		t.Run(name, func(t *testing.T) { testPartialFailure(t, copyFn) })
	}
}

func testPartialFailure(t *testing.T, copyFn func(context.Context, persist.DB, persist.DB, *migrate.Options) (*migrate.Report, error)) {
	// The earlier portal stored whatever SQLite's json_valid accepted,
	// including \u0000 and lone surrogates, which persist (like
	// PostgreSQL) rejects: the target refuses those rows and Copy isolates
	// them.
	path := filepath.Join(t.TempDir(), "portal.db")
	rows := []string{"ok-1", `{"v":1}`, "nul", `{"v":"a\u0000b"}`, "ok-2", `{"v":2}`, "surrogate", `{"v":"\ud800"}`}
	for i := range 150 {
		rows = append(rows, "bulk-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), `{"bulk":true}`)
	}
	seedPortalFile(t, path, "sources", rows...)
	src, dst := mustOpenURL(t, sqliteURL(path)), mustOpenSQLite(t)

	r, err := copyFn(context.Background(), src, dst, &migrate.Options{BatchSize: 50})
	var pf *migrate.PartialFailureError
	if !errors.As(err, &pf) || pf.Failed != 2 {
		t.Fatalf("Copy error = %v, want *PartialFailureError with 2 rows", err)
	}
	var mm *migrate.DigestMismatchError
	if errors.As(err, &mm) {
		t.Fatalf("rejected rows counted as mismatches too: %v", err)
	}
	total := int64(len(rows) / 2)
	if c := r.Totals; c.RowsFailed != 2 || c.RowsInserted != total-2 || c.DigestMismatches != 0 || c.RowsVerified != total-2 {
		t.Fatalf("totals = %+v", c)
	}
	for _, id := range []string{"sources/nul:", "sources/surrogate:"} {
		if !slices.ContainsFunc(r.Totals.Errors, func(e string) bool { return strings.HasPrefix(e, id) }) {
			t.Fatalf("errors = %q, want one for %s", r.Totals.Errors, id)
		}
	}
	if n := mustCount(t, dst, "sources"); n != total-2 {
		t.Fatalf("target count = %d, want %d", n, total-2)
	}
}

func TestCopy_Invalid(t *testing.T) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	mustPut(t, src, "t", "a", `{}`)
	for name, opts := range map[string]*migrate.Options{
		"UnknownTable":      {Tables: []string{"nope"}},
		"DuplicateTable":    {Tables: []string{"t", "t"}},
		"NegativeBatchSize": {BatchSize: -1},
		"HugeBatchSize":     {BatchSize: migrate.MaxBatchSize + 1},
	} {
		t.Run("ErrInvalid/"+name, func(t *testing.T) {
			_, err := migrate.Copy(context.Background(), src, dst, opts)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("Copy error = %v, want ErrInvalid", err)
			}
			if tables := mustTables(t, src); !slices.Equal(tables, []string{"t"}) {
				t.Fatalf("source tables = %v, want [t]", tables)
			}
			if tables := mustTables(t, dst); len(tables) != 0 {
				t.Fatalf("target tables = %v, want none", tables)
			}
		})
	}
	t.Run("ErrClosed", func(t *testing.T) {
		closed := mustOpenSQLite(t)
		closed.Close()
		if _, err := migrate.Copy(context.Background(), closed, dst, nil); !errors.Is(err, persist.ErrClosed) {
			t.Fatalf("Copy error = %v, want ErrClosed", err)
		}
	})
}

// TestCopy_TargetWrittenDuringCopy writes a record of its own into the
// empty target table once the first batch is copied, so the target's
// insertion order stops being the copy's: verification must notice, look
// the remaining batches up by id, and find every record, with the intruder
// counted as extra rather than as a mismatch.
func TestCopy_TargetWrittenDuringCopy(t *testing.T) {
	for name, open := range map[string]func(testing.TB) persist.DB{"SQLite": mustOpenSQLite, "PostgreSQL": mustOpenPostgres} {
		t.Run(name, func(t *testing.T) {
			src, dst := mustOpenSQLite(t), open(t)
			mustSeed(t, src, "runs", 1000)
			var once sync.Once
			opts := &migrate.Options{BatchSize: 200, Progress: func(p migrate.Progress) {
				if p.Phase == migrate.PhaseCopy && p.Done > 0 {
					once.Do(func() { mustPut(t, dst, "runs", "zz-intruder", `{"other":true}`) })
				}
			}}
			r, err := migrate.Copy(context.Background(), src, dst, opts)
			if err != nil {
				t.Fatalf("Copy: %v (errors %v)", err, r.Totals.Errors)
			}
			wantTotals(t, r, 1000, 1000, 0, 0)
			if r.Totals.RowsVerified != 1000 || r.Totals.ExtraTargetRows != 1 || !r.Tables[0].Verified {
				t.Fatalf("verified %d, extra %d, table verified %v; want 1000, 1, true",
					r.Totals.RowsVerified, r.Totals.ExtraTargetRows, r.Tables[0].Verified)
			}
		})
	}
}

// TestCopy_LargeDocumentsMakeSmallBatches copies documents of over 1 MiB
// each: a batch must end once its documents reach MaxBatchBytes, long
// before BatchSize records, so memory stays bounded by bytes.
func TestCopy_LargeDocumentsMakeSmallBatches(t *testing.T) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	big := `{"blob":"` + strings.Repeat("x", 1<<20+1000) + `"}`
	var docs []string
	for i := range 20 {
		docs = append(docs, fmt.Sprintf("doc-%02d", i), big)
	}
	mustPut(t, src, "blobs", docs...)
	var sizes []int64
	var last int64
	opts := &migrate.Options{Progress: func(p migrate.Progress) {
		if p.Phase == migrate.PhaseCopy && p.Done > last {
			sizes = append(sizes, p.Done-last)
			last = p.Done
		}
	}}
	r := mustCopy(t, src, dst, opts)
	wantTotals(t, r, 20, 20, 0, 0)
	want := int64(migrate.MaxBatchBytes/(len(big)) + 1)
	for _, n := range sizes {
		if n > want {
			t.Fatalf("batches of %v records, want at most %d of these documents", sizes, want)
		}
	}
	if len(sizes) < 3 {
		t.Fatalf("batches of %v records, want 3 or more", sizes)
	}
}

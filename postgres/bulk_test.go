package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/postgres"
)

// hasGIN reports whether table's GIN index exists in schema, asking on a
// connection of its own.
func hasGIN(tb testing.TB, schema, table string) bool {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL(tb))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexname = $3)",
		schema, table, postgres.GINIndexName(table)).Scan(&ok)
	if err != nil {
		tb.Fatalf("pg_indexes: %v", err)
	}
	return ok
}

func mustBegin(tb testing.TB, s persist.Store) func(context.Context) error {
	tb.Helper()
	finish, err := s.(persist.BulkLoader).BeginBulkLoad(context.Background())
	if err != nil {
		tb.Fatalf("BeginBulkLoad: %v", err)
	}
	return finish
}

func events(n int) []persist.Record {
	recs := make([]persist.Record, n)
	for i := range recs {
		recs[i] = persist.Record{ID: fmt.Sprintf("e%05d", i), Data: fmt.Appendf(nil, `{"kind":"k%d","n":%d}`, i%1000, i)}
	}
	return recs
}

func TestBulkLoad_EmptyTableDefersGINIndex(t *testing.T) {
	db, schema := mustOpen(t, func(c *postgres.Config) { c.QueryIndex = true })
	ctx := t.Context()
	s := mustStore(t, db, "events")
	finish := mustBegin(t, s)
	if hasGIN(t, schema, "events") {
		t.Fatal("GIN index exists during the bulk load of an empty table")
	}
	if !postgres.Loading(s) {
		t.Fatal("InsertMany does not write with COPY during the load of an empty table")
	}
	if res, err := s.InsertMany(ctx, events(20000)); err != nil || res.Inserted != 20000 {
		t.Fatalf("InsertMany = %+v, %v", res, err)
	}
	filter := json.RawMessage(`{"kind":"k7"}`)
	if got := ids(t, s.Query(ctx, filter, nil)); len(got) != 20 || got[0] != "e00007" || got[19] != "e19007" {
		t.Fatalf("Query during the load = %v, want e00007 ... e19007 (20)", got)
	}
	if err := finish(ctx); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if !hasGIN(t, schema, "events") {
		t.Fatal("GIN index missing after finish")
	}
	if err := finish(ctx); err != nil {
		t.Fatalf("second finish: %v", err)
	}
	if got := ids(t, s.Query(ctx, filter, nil)); len(got) != 20 {
		t.Fatalf("Query after finish matched %d records, want 20", len(got))
	}
	// finish analyzed the table, so without a VACUUM or autovacuum the
	// planner already knows the rows and picks the index.
	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "EXPLAIN "+postgres.QuerySQL(s), pgx.QueryExecModeCacheDescribe, int64(math.MinInt64), 500, string(filter))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if plan := strings.Join(lines, "\n"); !strings.Contains(plan, "Bitmap Index Scan on "+ident.Quote(postgres.GINIndexName("events"))) {
		t.Errorf("plan after finish does not use the GIN index:\n%s", plan)
	}
}

func TestBulkLoad_TableWithRowsDefersNothing(t *testing.T) {
	db, schema := mustOpen(t, func(c *postgres.Config) { c.QueryIndex = true })
	ctx := t.Context()
	s := mustStore(t, db, "events")
	if _, err := s.Put(ctx, persist.Record{ID: "first", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	finish := mustBegin(t, s)
	if !hasGIN(t, schema, "events") {
		t.Fatal("GIN index dropped on a table with rows")
	}
	for range 2 {
		if err := finish(ctx); err != nil {
			t.Fatalf("finish: %v", err)
		}
	}
	if !hasGIN(t, schema, "events") {
		t.Fatal("GIN index missing after finish")
	}
}

func TestBulkLoad_UnfinishedIsRestoredByNextDB(t *testing.T) {
	u := testURL(t)
	schema := newSchema(t)
	ctx := t.Context()
	db1, err := openWith(ctx, u, func(c *postgres.Config) { c.Schema = schema; c.QueryIndex = true })
	if err != nil {
		t.Fatal(err)
	}
	s1 := mustStore(t, db1, "events")
	mustBegin(t, s1) // the process "dies" before finish
	if _, err := s1.InsertMany(ctx, events(100)); err != nil {
		t.Fatal(err)
	}
	db1.Close()
	if hasGIN(t, schema, "events") {
		t.Fatal("GIN index exists before the next DB used the table")
	}

	// A DB without the option leaves the table as it finds it.
	plain, err := openWith(ctx, u, func(c *postgres.Config) { c.Schema = schema })
	if err != nil {
		t.Fatal(err)
	}
	if n, err := mustStore(t, plain, "events").Count(ctx); err != nil || n != 100 {
		t.Fatalf("Count = %v, %v; want 100", n, err)
	}
	plain.Close()
	if hasGIN(t, schema, "events") {
		t.Fatal("GIN index created by a DB without QueryIndex")
	}

	db2, err := openWith(ctx, u, func(c *postgres.Config) { c.Schema = schema; c.QueryIndex = true })
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s2 := mustStore(t, db2, "events")
	if n, err := s2.Count(ctx); err != nil || n != 100 {
		t.Fatalf("Count = %v, %v; want 100", n, err)
	}
	if !hasGIN(t, schema, "events") {
		t.Fatal("GIN index not restored by the first use through a new DB")
	}
}

// TestBulkLoad_WithoutQueryIndex loads a table created without the index:
// there is nothing to drop and nothing to build, but the load of the empty
// table still writes with COPY.
func TestBulkLoad_WithoutQueryIndex(t *testing.T) {
	db, schema := mustOpen(t, nil)
	ctx := t.Context()
	s := mustStore(t, db, "events")
	if _, err := s.Count(ctx); err != nil {
		t.Fatal(err)
	}
	if hasGIN(t, schema, "events") {
		t.Fatal("GIN index on a table created without QueryIndex")
	}
	finish := mustBegin(t, s)
	if !postgres.Loading(s) {
		t.Fatal("InsertMany does not write with COPY during the load of an empty table without an index")
	}
	if res, err := s.InsertMany(ctx, stamped(0, 5000)); err != nil || res.Inserted != 5000 {
		t.Fatalf("InsertMany = %+v, %v", res, err)
	}
	if err := finish(ctx); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if postgres.Loading(s) {
		t.Fatal("still writing with COPY after finish")
	}
	if hasGIN(t, schema, "events") {
		t.Fatal("finish created a GIN index the table did not have")
	}
	if got := ids(t, s.Query(ctx, json.RawMessage(`{"kind":"k7"}`), nil)); len(got) != 5 || got[0] != "e00007" {
		t.Fatalf("Query without the index = %v, want e00007 ... e04007 (5)", got)
	}
}

func TestBulkLoad_InsideTxDefersNothing(t *testing.T) {
	db, schema := mustOpen(t, func(c *postgres.Config) { c.QueryIndex = true })
	ctx := t.Context()
	if _, err := mustStore(t, db, "events").Count(ctx); err != nil {
		t.Fatal(err)
	}
	var inTx persist.Store
	err := db.Tx(ctx, func(tx persist.Tx) error {
		s, err := tx.Store("events")
		if err != nil {
			return err
		}
		inTx = s
		finish, err := s.(persist.BulkLoader).BeginBulkLoad(ctx)
		if err != nil {
			return err
		}
		if _, err := s.InsertMany(ctx, events(10)); err != nil {
			return err
		}
		return finish(ctx)
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if !hasGIN(t, schema, "events") {
		t.Fatal("GIN index missing after a bulk load inside a transaction")
	}
	if _, err := inTx.(persist.BulkLoader).BeginBulkLoad(ctx); !errors.Is(err, persist.ErrClosed) {
		t.Fatalf("BeginBulkLoad after the transaction: %v, want ErrClosed", err)
	}
}

func TestBulkLoad_ClosedOrCancelledFails(t *testing.T) {
	// With the index there is a rebuild for finish to fail at.
	db, _ := mustOpen(t, func(c *postgres.Config) { c.QueryIndex = true })
	s := mustStore(t, db, "events")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.BeginBulkLoad(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("BeginBulkLoad with a cancelled context: %v, want context.Canceled", err)
	}
	finish := mustBegin(t, s)
	if err := finish(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("finish with a cancelled context: %v, want context.Canceled", err)
	}
	db.Close()
	if _, err := s.BeginBulkLoad(t.Context()); !errors.Is(err, persist.ErrClosed) {
		t.Fatalf("BeginBulkLoad after Close: %v, want ErrClosed", err)
	}
	if err := finish(t.Context()); !errors.Is(err, persist.ErrClosed) {
		t.Fatalf("finish after Close: %v, want ErrClosed", err)
	}
}

// TestBulkLoad_ConcurrentWithFirstUse runs bulk loads on some DBs while
// others use the same new table for the first time: the DDL of each is
// serialised, so none fails, and the index exists at the end.
func TestBulkLoad_ConcurrentWithFirstUse(t *testing.T) {
	u := testURL(t)
	schema := newSchema(t)
	ctx := t.Context()
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			db, err := openWith(ctx, u, func(c *postgres.Config) { c.Schema = schema; c.QueryIndex = true })
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			s := mustStore(t, db, "shared")
			if i%2 == 0 {
				_, err = s.Put(ctx, persist.Record{ID: fmt.Sprint(i), Data: []byte(`{}`)})
				errs <- err
				return
			}
			finish, err := s.BeginBulkLoad(ctx)
			if err == nil {
				_, err = s.InsertMany(ctx, []persist.Record{{ID: fmt.Sprint(i), Data: []byte(`{}`)}})
				err = errors.Join(err, finish(ctx))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent bulk load and first use: %v", err)
		}
	}
	if !hasGIN(t, schema, "shared") {
		t.Fatal("GIN index missing after every bulk load finished")
	}
}

// stamped returns events(n)[from:] with revisions and times set, as a
// migration passes them, so a bulk load writes them with COPY.
func stamped(from, n int) []persist.Record {
	recs := events(n)[from:]
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for i := range recs {
		recs[i].Revision = int64(i%3 + 1)
		recs[i].Created = at.Add(time.Duration(i) * time.Second)
		recs[i].Updated = recs[i].Created.Add(time.Hour)
	}
	return recs
}

func TestBulkLoad_CopySkipsExistingIDs(t *testing.T) {
	db, _ := mustOpen(t, nil)
	ctx := t.Context()
	s := mustStore(t, db, "events")
	finish := mustBegin(t, s)
	defer finish(ctx)

	first := stamped(0, 1000)
	if res, err := s.InsertMany(ctx, first); err != nil || res.Inserted != 1000 || res.Skipped != 0 {
		t.Fatalf("InsertMany = %+v, %v, want 1000 inserted", res, err)
	}
	// A record written meanwhile by someone else: the next batch meets
	// its id, so its COPY fails and the batch is written again, skipping
	// it.
	other := mustStore(t, db, "events")
	if _, err := other.Put(ctx, persist.Record{ID: "e01500", Data: []byte(`{"other":true}`)}); err != nil {
		t.Fatal(err)
	}
	// The batch also repeats ids 900..999, as a re-run after a lost
	// connection would.
	second := stamped(900, 2000)
	res, err := s.InsertMany(ctx, second)
	if err != nil || res.Inserted != 999 || res.Skipped != 101 {
		t.Fatalf("InsertMany = %+v, %v, want 999 inserted, 101 skipped", res, err)
	}
	got, err := s.Get(ctx, "e01500")
	if err != nil || string(got.Data) != `{"other": true}` || got.Revision != 1 {
		t.Fatalf("Get(e01500) = %s rev %d, %v; the existing record was overwritten", got.Data, got.Revision, err)
	}
	// Every copied record keeps its revision and times, in input order.
	want := slices.DeleteFunc(append(first, second[100:]...), func(r persist.Record) bool { return r.ID == "e01500" })
	i := 0
	for rec, err := range s.List(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID == "e01500" {
			continue
		}
		w := want[i]
		i++
		if rec.ID != w.ID || rec.Revision != w.Revision || !rec.Created.Equal(w.Created) || !rec.Updated.Equal(w.Updated) {
			t.Fatalf("record %d = %s rev %d %v %v, want %s rev %d %v %v", i, rec.ID, rec.Revision, rec.Created, rec.Updated,
				w.ID, w.Revision, w.Created, w.Updated)
		}
	}
	if i != len(want) {
		t.Fatalf("listed %d loaded records, want %d", i, len(want))
	}
}

func TestBulkLoad_CopyOnlyWhileOpen(t *testing.T) {
	db, _ := mustOpen(t, nil)
	ctx := t.Context()
	s := mustStore(t, db, "events")
	finish := mustBegin(t, s)
	if res, err := s.InsertMany(ctx, stamped(0, 10)); err != nil || res.Inserted != 10 {
		t.Fatalf("InsertMany = %+v, %v", res, err)
	}
	if err := finish(ctx); err != nil {
		t.Fatal(err)
	}
	// After finish, records without revisions or times get the defaults,
	// as they always do; so do they during a load (COPY needs them all).
	if res, err := s.InsertMany(ctx, events(20)[10:]); err != nil || res.Inserted != 10 {
		t.Fatalf("InsertMany after finish = %+v, %v", res, err)
	}
	rec, err := s.Get(ctx, "e00015")
	if err != nil || rec.Revision != 1 || rec.Created.IsZero() || time.Since(rec.Created) > time.Hour {
		t.Fatalf("Get(e00015) = rev %d created %v, %v; want the defaults", rec.Revision, rec.Created, err)
	}
}

// TestBulkLoad_SplitCopyKeepsOrder loads batches large enough to be written
// by parallel COPY streams and checks that the table still lists them in
// the order given, also when one stream meets an id written meanwhile and
// falls back to skipping it.
func TestBulkLoad_SplitCopyKeepsOrder(t *testing.T) {
	db, _ := mustOpen(t, nil)
	ctx := t.Context()
	s := mustStore(t, db, "events")
	finish := mustBegin(t, s)
	defer finish(ctx)
	// Written during the load, it sits in the second half of the first
	// batch, whose COPY then fails on it.
	if _, err := s.Put(ctx, persist.Record{ID: "e03999", Data: []byte(`{"first":true}`)}); err != nil {
		t.Fatal(err)
	}
	// Stamped records, which COPY can write; the second batch is large
	// enough for both streams to be writing at the same time on
	// connections the first one opened.
	recs := stamped(0, 45000)
	for i, batch := range [][]persist.Record{recs[:5000], recs[5000:]} {
		res, err := s.InsertMany(ctx, batch)
		if err != nil {
			t.Fatalf("InsertMany: %v", err)
		}
		if want := (persist.InsertResult{Inserted: len(batch) - 1 + i, Skipped: 1 - i}); res != want {
			t.Fatalf("InsertMany of batch %d = %+v, want %+v", i, res, want)
		}
	}
	want := []string{"e03999"}
	for _, r := range recs {
		if r.ID != "e03999" {
			want = append(want, r.ID)
		}
	}
	if got := ids(t, s.List(ctx, nil)); !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("List gives %d ids, first difference at %d; want %d ids in insertion order", len(got), i, len(want))
	}
	if r, err := s.Get(ctx, "e03999"); err != nil || string(r.Data) != `{"first": true}` {
		t.Fatalf("e03999 = %s, %v; want the record written first, unchanged", r.Data, err)
	}
}

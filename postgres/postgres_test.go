package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/postgres"
)

func mustStore(tb testing.TB, db persist.DB, name string) *postgres.Store {
	tb.Helper()
	s, err := db.Store(name)
	if err != nil {
		tb.Fatalf("Store(%q): %v", name, err)
	}
	return s.(*postgres.Store)
}

func ids(tb testing.TB, seq func(func(persist.Record, error) bool)) []string {
	tb.Helper()
	var out []string
	for rec, err := range seq {
		if err != nil {
			tb.Fatalf("iterating: %v", err)
		}
		out = append(out, rec.ID)
	}
	return out
}

func TestOpen(t *testing.T) {
	u := testURL(t)
	ctx := t.Context()
	t.Run("Schemes", func(t *testing.T) {
		rest := strings.TrimPrefix(strings.TrimPrefix(u, "postgresql://"), "postgres://")
		for _, scheme := range []string{"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg", "POSTGRESQL+psycopg2"} {
			db, err := persist.Open(ctx, scheme+"://"+rest, nil)
			if err != nil {
				t.Errorf("Open(%s://...): %v", scheme, err)
				continue
			}
			if err := db.Ping(ctx); err != nil {
				t.Errorf("Ping(%s://...): %v", scheme, err)
			}
			db.Close()
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []string{
			"postgres://user:hunter2secret@127.0.0.1:notaport/db",
			"postgres://user:hunter2secret@[::1/db",
			"mysql://user:hunter2secret@127.0.0.1/db",
		} {
			_, err := postgres.Open(ctx, bad)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("Open(%q) err=%v, want ErrInvalid", persist.Redact(bad), err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("error contains the password: %v", err)
			}
		}
		for name, edit := range map[string]func(c *postgres.Config){
			"MaxConns0":        func(c *postgres.Config) { c.Pool.MaxConns = 0 },
			"MinConnsNegative": func(c *postgres.Config) { c.Pool.MinConns = -1 },
			"MinAboveMax":      func(c *postgres.Config) { c.Pool.MinConns, c.Pool.MaxConns = 5, 2 },
			"BadSchema":        func(c *postgres.Config) { c.Schema = "Bad-Name" },
			"NoPool":           func(c *postgres.Config) { c.Pool = nil },
			"HandMadePool":     func(c *postgres.Config) { c.Pool = &pgxpool.Config{ConnConfig: c.Pool.ConnConfig, MaxConns: 2} },
		} {
			if _, err := openWith(ctx, u, edit); !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("OpenConfig(%s) err=%v, want ErrInvalid", name, err)
			}
		}
		if _, err := postgres.OpenConfig(ctx, nil); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("OpenConfig(nil) err=%v, want ErrInvalid", err)
		}
	})
	t.Run("PoolSize", func(t *testing.T) {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		db, err := postgres.Open(ctx, u+sep+"pool_max_conns=7")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if n := postgres.MaxConns(db); n != 7 {
			t.Errorf("MaxConns=%v from the URL, want 7", n)
		}
		db2, err := openWith(ctx, u+sep+"pool_max_conns=7", func(c *postgres.Config) { c.Pool.MaxConns = 3 })
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		if n := postgres.MaxConns(db2); n != 3 {
			t.Errorf("MaxConns=%v with Pool.MaxConns set to 3 after the URL said 7, want 3", n)
		}
	})
	t.Run("NewSchema", func(t *testing.T) {
		schema := newSchema(t)
		mustExec(t, u, "DROP SCHEMA "+ident.Quote(schema))
		db, err := openWith(ctx, u, func(c *postgres.Config) { c.Schema = schema })
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := mustStore(t, db, "items").Put(ctx, persist.Record{ID: "a", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUnreachable(t *testing.T) {
	port := freePort(t) // closed again: nothing listens
	for _, u := range []string{
		fmt.Sprintf("postgres://app:pw-secret-42@127.0.0.1:%d/db?connect_timeout=1", port),
		"postgres://app:pw-secret-42@host.invalid/db",
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := postgres.Open(ctx, u)
		wantConnError(t, err, "pw-secret-42")
		if !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("err=%v, want the redacted URL", err)
		}
		cancel()
	}
}

// TestLegacyLayout opens tables in the earlier portal layout, (id text
// PRIMARY KEY, data jsonb NOT NULL), and checks the additive upgrade.
func TestLegacyLayout(t *testing.T) {
	u := testURL(t)
	schema := newSchema(t)
	q := ident.Quote(schema) + "."
	mustExec(t, u,
		"CREATE TABLE "+q+"portal (id TEXT PRIMARY KEY, data JSONB NOT NULL)",
		`INSERT INTO `+q+`portal VALUES ('c', '{"n": 1}'), ('a', '{"n": 2, "tag": "x"}'), ('b', '{"n": 3}')`,
		"CREATE TABLE "+q+"other (id TEXT PRIMARY KEY, data JSONB NOT NULL)",
		"CREATE TABLE "+q+"unrelated (x int)",
	)
	var logs bytes.Buffer
	opts := func(c *postgres.Config) {
		c.Schema = schema
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}
	ctx := t.Context()
	db, err := openWith(ctx, u, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tables, ","); got != "other,portal" {
		t.Errorf("Tables()=%v, want [other portal]", tables)
	}
	s := mustStore(t, db, "portal")
	if got := strings.Join(ids(t, s.List(ctx, nil)), ","); got != "c,a,b" {
		t.Errorf("List=%v, want the old physical order c,a,b", got)
	}
	if !strings.Contains(logs.String(), "upgraded table") {
		t.Errorf("log=%q, want an info record of the upgrade", logs.String())
	}
	rec, err := s.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != 1 || rec.Created.IsZero() || rec.Updated.IsZero() {
		t.Errorf("Get(a)=%+v, want revision 1 and times set", rec)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "d", Data: []byte(`{"n": 4}`)}); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Put(ctx, persist.Record{ID: "c", Data: []byte(`{"n": 5}`), Revision: 1}); err != nil || rec.Revision != 2 {
		t.Errorf("Put(c, revision 1)=%+v, %v; want revision 2", rec, err)
	}
	if got := strings.Join(ids(t, s.List(ctx, nil)), ","); got != "c,a,b,d" {
		t.Errorf("List=%v, want c,a,b,d", got)
	}
	if got := strings.Join(ids(t, s.List(ctx, &persist.ListOptions{Order: persist.ByID})), ","); got != "a,b,c,d" {
		t.Errorf("List by id=%v, want a,b,c,d", got)
	}
	if got := strings.Join(ids(t, s.Query(ctx, []byte(`{"tag":"x"}`), nil)), ","); got != "a" {
		t.Errorf("Query=%v, want a", got)
	}
	db.Close()

	// A second open finds the table upgraded and changes nothing.
	logs.Reset()
	db2, err := openWith(ctx, u, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s2 := mustStore(t, db2, "portal")
	if got := strings.Join(ids(t, s2.List(ctx, nil)), ","); got != "c,a,b,d" {
		t.Errorf("List after reopen=%v, want c,a,b,d", got)
	}
	if strings.Contains(logs.String(), "upgraded") {
		t.Errorf("second open upgraded again: %s", logs.String())
	}
	if n, err := mustStore(t, db2, "other").Count(ctx); err != nil || n != 0 {
		t.Errorf("Count(other)=%v, %v", n, err)
	}

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, name := range []string{"unrelated"} {
			_, err := mustStore(t, db2, name).Count(ctx)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("Count(%s) err=%v, want ErrInvalid for a table that is not persist's", name, err)
			}
		}
	})
}

// TestConcurrentCreate opens several DBs on one schema at once, each
// creating the same tables, as several processes starting together would.
func TestConcurrentCreate(t *testing.T) {
	u := testURL(t)
	schema := newSchema(t)
	ctx := t.Context()
	const n = 6
	dbs := make([]*postgres.DB, n)
	var wg sync.WaitGroup
	errs := make(chan error, n*4)
	for i := range n {
		wg.Go(func() {
			db, err := openWith(ctx, u, func(c *postgres.Config) { c.Schema = schema })
			if err != nil {
				errs <- err
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	for _, db := range dbs {
		if db != nil {
			defer db.Close()
		}
	}
	for i, db := range dbs {
		if db == nil {
			continue
		}
		for _, name := range []string{"shared", "also_shared", "third"} {
			wg.Go(func() {
				s, err := db.Store(name)
				if err == nil {
					_, err = s.Put(ctx, persist.Record{ID: fmt.Sprint(i), Data: []byte(`{}`)})
				}
				if err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent create: %v", err)
	}
	if t.Failed() {
		return
	}
	if c, err := mustStore(t, dbs[0], "shared").Count(ctx); err != nil || c != n {
		t.Errorf("Count=%v, %v; want %v", c, err, n)
	}
	tables, err := dbs[0].Tables(ctx)
	if err != nil || strings.Join(tables, ",") != "also_shared,shared,third" {
		t.Errorf("Tables()=%v, %v", tables, err)
	}
}

// TestQueryUsesGINIndex checks with EXPLAIN that Query's statement is served
// by the jsonb_path_ops GIN index on a table large enough for the planner to
// care, both as a custom plan and as the generic plan a cached prepared
// statement switches to. The index is asked for in the URL, as a
// DATABASE_URL would.
func TestQueryUsesGINIndex(t *testing.T) {
	schema := newSchema(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, withSearchPath(t, schema, map[string]string{"query_index": "true"}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	s := mustStore(t, db, "events")
	recs := make([]persist.Record, 20000)
	for i := range recs {
		recs[i] = persist.Record{ID: fmt.Sprintf("e%05d", i), Data: fmt.Appendf(nil, `{"kind":"k%d","n":%d,"ok":true}`, i%1000, i)}
	}
	if _, err := s.InsertMany(ctx, recs); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// VACUUM merges the GIN pending list (fastupdate) into the index, as
	// autovacuum would; until then the planner rightly avoids the index.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+ident.Quote(schema)+".events"); err != nil {
		t.Fatal(err)
	}
	explain := func(t *testing.T, sql string, args ...any) string {
		t.Helper()
		rows, err := conn.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	want := "Bitmap Index Scan on " + ident.Quote(postgres.GINIndexName("events"))
	filter := `{"kind":"k7"}`
	t.Run("CustomPlan", func(t *testing.T) {
		// Query runs its statement unnamed, so it is planned with the
		// filter's value every time.
		plan := explain(t, postgres.QuerySQL(s), pgx.QueryExecModeCacheDescribe, int64(math.MinInt64), 500, filter)
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not use the GIN index:\n%s", plan)
		}
		t.Logf("plan:\n%s", plan)
	})
	t.Run("GenericPlan", func(t *testing.T) {
		// A prepared statement's generic plan cannot see the value; the
		// index must still be the choice.
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "PREPARE persist_query AS "+postgres.QuerySQL(s)); err != nil {
			t.Fatal(err)
		}
		plan := explain(t, "EXECUTE persist_query(-9223372036854775808, 500, '"+filter+"')")
		if !strings.Contains(plan, want) || !strings.Contains(plan, "$3") {
			t.Errorf("generic plan does not use the GIN index:\n%s", plan)
		}
		t.Logf("plan:\n%s", plan)
	})
	if got := len(ids(t, s.Query(ctx, json.RawMessage(filter), nil))); got != 20 {
		t.Errorf("Query matched %v records, want 20", got)
	}
}

// TestInsertManyBulk checks the unnest bulk path beyond the conformance
// suite: input order across batches, times truncated to microseconds, and
// use inside a transaction.
func TestInsertManyBulk(t *testing.T) {
	db, _ := mustOpen(t, nil)
	ctx := t.Context()
	s := mustStore(t, db, "items")
	if _, err := s.Put(ctx, persist.Record{ID: "r0100", Data: []byte(`{"old":true}`)}); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	var recs []persist.Record
	for i := range 2500 {
		recs = append(recs, persist.Record{ID: fmt.Sprintf("r%04d", 2499-i), Data: fmt.Appendf(nil, `{"i":%d}`, i)})
	}
	recs[5].Revision, recs[5].Created, recs[5].Updated = 7, created, created
	recs = append(recs, persist.Record{ID: recs[0].ID, Data: []byte(`{"dup":true}`)})
	res, err := s.InsertMany(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 2499 || res.Skipped != 2 {
		t.Errorf("InsertMany=%+v, want 2499 inserted, 2 skipped", res)
	}
	got := ids(t, s.List(ctx, nil))
	if len(got) != 2500 || got[0] != "r0100" || got[1] != "r2499" || got[2499] != "r0000" {
		t.Errorf("List: %d ids starting %v, want input order after r0100", len(got), got[:3])
	}
	rec, err := s.Get(ctx, recs[5].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := created.Truncate(time.Microsecond).UTC()
	if rec.Revision != 7 || !rec.Created.Equal(want) || rec.Created.Location() != time.UTC || !rec.Updated.Equal(want) {
		t.Errorf("Get=%v %v %v, want revision 7 and times %v in UTC", rec.Revision, rec.Created, rec.Updated, want)
	}
	if rec, _ := s.Get(ctx, "r0100"); string(rec.Data) != `{"old": true}` {
		t.Errorf("existing record changed: %s", rec.Data)
	}
	if rec, _ := s.Get(ctx, recs[0].ID); strings.Contains(string(rec.Data), "dup") {
		t.Errorf("later duplicate won: %s", rec.Data)
	}
	if err := db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("items")
		if err != nil {
			return err
		}
		_, err = ts.InsertMany(ctx, []persist.Record{{ID: "in-tx", Data: []byte(`{}`)}})
		return err
	}); err != nil {
		t.Errorf("InsertMany in Tx: %v", err)
	}
}

// TestTxRetriesDeadlock makes two transactions deadlock; PostgreSQL aborts
// one with 40P01 and Tx runs it again.
func TestTxRetriesDeadlock(t *testing.T) {
	var logs syncBuffer
	db, _ := mustOpen(t, func(c *postgres.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := t.Context()
	s := mustStore(t, db, "items")
	for _, id := range []string{"a", "b"} {
		if _, err := s.Put(ctx, persist.Record{ID: id, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var barrier sync.WaitGroup
	barrier.Add(2)
	run := func(first, second string) error {
		attempt := 0
		return db.Tx(ctx, func(tx persist.Tx) error {
			attempt++
			ts, err := tx.Store("items")
			if err != nil {
				return err
			}
			if _, err := ts.Put(ctx, persist.Record{ID: first, Data: []byte(`{}`)}); err != nil {
				return err
			}
			if attempt == 1 {
				barrier.Done()
				barrier.Wait()
			}
			_, err = ts.Put(ctx, persist.Record{ID: second, Data: []byte(`{}`)})
			return err
		})
	}
	var wg sync.WaitGroup
	var err1, err2 error
	wg.Go(func() { err1 = run("a", "b") })
	wg.Go(func() { err2 = run("b", "a") })
	wg.Wait()
	if err1 != nil || err2 != nil {
		t.Fatalf("Tx errors: %v, %v", err1, err2)
	}
	for _, id := range []string{"a", "b"} {
		if rec, err := s.Get(ctx, id); err != nil || rec.Revision != 3 {
			t.Errorf("Get(%s)=revision %v, %v; want 3", id, rec.Revision, err)
		}
	}
	if !strings.Contains(logs.String(), "retrying transient error") || !strings.Contains(logs.String(), "40P01") {
		t.Errorf("log=%q, want a retry of the deadlock", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestTxCreatesTablesOnItsOwnConnection: with every pooled connection held
// by a transaction that uses a new table, none may wait for another
// connection to create it.
func TestTxCreatesTablesOnItsOwnConnection(t *testing.T) {
	db, _ := mustOpen(t, func(c *postgres.Config) { c.Pool.MaxConns = 2 })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Tx(ctx, func(tx persist.Tx) error {
				s, err := tx.Store(fmt.Sprintf("fresh_%d", i%2))
				if err != nil {
					return err
				}
				_, err = s.Put(ctx, persist.Record{ID: fmt.Sprint(i), Data: []byte(`{}`)})
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Tx %d: %v", i, err)
		}
	}
	t.Run("RollbackRemovesTable", func(t *testing.T) {
		errAbort := errors.New("abort")
		err := db.Tx(ctx, func(tx persist.Tx) error {
			s, err := tx.Store("ghost")
			if err != nil {
				return err
			}
			if _, err := s.Put(ctx, persist.Record{ID: "x", Data: []byte(`{}`)}); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Tx=%v, want errAbort", err)
		}
		s := mustStore(t, db, "ghost")
		n, err := s.Count(ctx)
		if err != nil || n != 0 {
			t.Errorf("Count after rollback=%d, %v; want 0, nil (table created again, empty)", n, err)
		}
	})
}

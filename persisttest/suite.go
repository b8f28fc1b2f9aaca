// Package persisttest is the conformance suite for persist backends. It is
// the single, executable statement of the [persist.Store] and [persist.DB]
// contract: where the prose in package persist is brief, the checks here are
// precise, and every backend in this module passes them unchanged.
//
// A backend runs the suite from an ordinary test, handing [TestStore] a
// function that opens a new, empty database:
//
//	func TestConformance(t *testing.T) {
//		persisttest.TestStore(t, func(t *testing.T) persist.DB {
//			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The package imports only persist, the standard library and the module's
// reference evaluator of queries (which the differential test of Find
// compares each backend with), never a backend, so it states the contract
// independently of any implementation.
// It embeds the parsing cases of JSONTestSuite
// (https://github.com/nst/JSONTestSuite, MIT License) and uses the y_ and n_
// ones, so that it needs no files at run time.
package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// openFunc is the factory TestStore receives.
type openFunc = func(t *testing.T) persist.DB

// TestStore runs the conformance suite against the backend that open provides.
// open must return a new, empty DB each time it is called and arrange for it to be closed with t.Cleanup
// (the suite may also Close it itself, e.g. in the closed-DB tests; Close is idempotent).
//
// Every test opens its own DB, so open is called many times (about a hundred);
// it must be cheap, and DBs from different calls must not share tables.
// The suite runs its tests one after another, never in parallel with each
// other, so open need not be safe for concurrent use; the tests that check
// concurrency start their own goroutines on one DB.
//
// The checks, grouped as the subtests are named:
//
//   - CRUD: Get of a missing id is [persist.ErrNotFound]; Put creates a
//     record at revision 1 with equal, non-zero, UTC Created and Updated,
//     then replaces it at revision 2 keeping Created; Put and Insert with an
//     empty ID generate a 36-character version 7 UUID, and successive ones
//     differ and sort in creation order; Insert of an existing id is
//     [persist.ErrConflict] and leaves the stored record alone; InsertMany
//     counts inserted and skipped records, never modifies an existing one,
//     keeps a given Revision, Created and Updated, lets the first of
//     duplicate ids win, and spans several internal batches; Update merges
//     top-level keys (null stores null) and is ErrNotFound when the record is
//     missing; UpdateFunc sees the current record, stores what fn returns,
//     and writes nothing when fn fails, returning an error that matches fn's;
//     Delete reports whether the record existed; Count; Clear returns how
//     many records it removed; Tables lists the tables sorted by name; Ping;
//     two Store handles on one name see the same records; the store copies
//     data in and out, so callers may reuse their buffers; Get returns
//     exactly what the write returned. Errors are [*persist.Error] values
//     whose Op, Table and ID name the call.
//   - Revision: a non-zero Revision on Put or Update is a precondition;
//     stale revisions and revisions on missing records are ErrConflict and
//     change nothing; every kind of write adds one.
//   - List: insertion order by default, unchanged by updates, with a
//     re-created record last; pages of Limit with an After cursor reassemble
//     the full list; an After that names no record is ErrNotFound; a
//     negative Limit is [persist.ErrInvalid]; [persist.ByID] orders by the
//     bytes of the id whatever the database's collation (upper before lower
//     case, punctuation significant, U+FFEE before U+1F600), pages the same
//     way, and takes an After that need not exist; an unknown Order is
//     ErrInvalid; iterators do no work until ranged; breaking out of a loop
//     early releases whatever the iterator held, so later writes succeed.
//   - Query: filters compare by JSON type and exact value ({"n":1} matches 1,
//     1.0, 1e0 and 10E-1 but not "1", true, 1.0000000000000000000001 or a
//     nested 1; null matches null but not a missing field; integers beyond
//     float64 compare exactly); several keys are ANDed; {} matches all;
//     results come in insertion order (or id order) and obey Limit and
//     After; filters that
//     are not an object of scalars with plain keys are ErrInvalid and touch
//     nothing, whatever SQL the key tries to smuggle in.
//   - Find: [persist.Store.Find], FindPage and CountWhere over mixed types
//     state the rules of [persist.Query] by example: numbers by exact value
//     (1 == 1.0, 1.10 == 1.1, 12345678901234567890 < 12345678901234567891,
//     never through float64); strings by code point ("Z" < "z" < "é" <
//     U+FFEE < U+1F600); range operators match only the operand's type;
//     arrays and objects equal only as whole values (numbers inside by
//     value, keys in any order); != and not-in match missing fields; null
//     is not missing; nested paths, and a path through a scalar is
//     missing; the total order missing < null < false < true < numbers <
//     strings < arrays < objects with ties in insertion order, following
//     the last key's direction; newest first. FindPage pages reassemble
//     Find's answer, a cursor resumes Find too, and one from another query
//     (or garbled) is ErrInvalid. Both sides of every bound (path depth
//     and key length, conditions, in-list size, sort keys, value size,
//     page size) through Find, FindPage and CountWhere. Inside a
//     transaction Find sees its writes and the loop body may write; outside
//     one, too; breaking out releases the iterator. A differential test
//     runs 1000 random queries (200 with -short or -race; PERSIST_FIND_CASES
//     sets it) over 80 random documents of mixed types, nested objects, arrays,
//     missing fields and equal sort keys, and compares Find, CountWhere and
//     FindPage with random page sizes to the reference evaluator; then it
//     pages through random queries while inserting, updating and deleting
//     between pages: a record that stays is seen exactly once, in order.
//   - Indexer, skipped for a store that does not implement
//     [persist.Indexer]: over 3000 pipeline runs, Explain (the database's
//     own planner) reports "the 20 newest failed runs of p7" as not
//     indexed before EnsureIndex and as read through the declared index
//     after it, ascending and descending, while a query on another field
//     stays a scan; EnsureIndex is idempotent; Find gives the reference
//     evaluator's answers with and without the index; an index built
//     while three writers write loses none of their writes and serves
//     them; both sides of the bounds on index names (31 bytes) and fields
//     (8), and bad paths, directions, insertion order as a field and a
//     call inside a transaction are ErrInvalid; after Close, ErrClosed.
//   - Tx: writes to several stores commit together or roll back together
//     when fn fails (the caller's error is returned); reads inside see the
//     transaction's writes; a store used after the transaction is over is
//     [persist.ErrClosed]; a bad table name is ErrInvalid.
//   - ReplaceAll: replaces the contents in input order, generating empty
//     ids; one invalid record or a duplicate id is ErrInvalid and leaves the
//     previous contents exactly as they were.
//   - Batcher, skipped for a store that does not implement
//     [persist.Batcher]: GetMany answers in the order given, with a zero
//     Record for a missing id and each duplicate answered; PutMany creates,
//     replaces and generates ids as Put does and returns the records as
//     stored, in order; a stale revision, or one on a missing record, is
//     ErrConflict and writes nothing, for 3 records and for 100, with all or
//     some of them carrying revisions, and inside a transaction, which goes
//     on; DeleteMany reports, id by id, whether the record existed; bad ids
//     or data, duplicate ids and negative revisions are ErrInvalid and
//     change nothing; after Close all three are ErrClosed; with a cancelled
//     context they match context.Canceled and write nothing; concurrent
//     read-modify-write PutMany loops lose no successful write.
//   - BatchFallback, skipped for a store that does not implement
//     [persist.Batcher]: [persist.GetMany], [persist.GetManyForUpdate],
//     [persist.PutMany] and [persist.DeleteMany], each called inside a
//     transaction on the store's Batcher and on the fallback of one call
//     per record, return the same records and the same sentinel
//     (ErrConflict for a stale revision or one on a missing record,
//     ErrInvalid for bad ids or data, duplicate ids and negative
//     revisions), and leave the same records.
//   - Applier, skipped for a DB that does not implement [persist.Applier],
//     and ApplyFallback, the same cases for the fallback of [persist.Apply]
//     over [persist.DB.Tx] on any DB:
//     inserts, puts (with and without a revision) and deletes across two
//     tables apply together and return the records as stored, in order (a
//     zero Record for a delete or a check); checks that hold (a revision,
//     or 0 for a missing record) write nothing; a table is created on first
//     use; no writes is no error; an insert of an existing id, a stale
//     revision on a put or a check, or a check of 0 on a record that exists
//     is ErrConflict and a delete of a missing id ErrNotFound, each naming op
//     "apply", the table and the id, and nothing at all is written, wherever
//     the failing write stands; bad table names, ids, data, ops and
//     revisions, and one id twice in a table, are ErrInvalid and write
//     nothing, while one id in two tables is two records; a cancelled
//     context writes nothing; after Close it is ErrClosed; concurrent
//     read-modify-write loops that increment a counter and log each
//     increment in another table lose no increment and log none twice.
//   - ApplyAgrees, skipped for a DB that does not implement
//     [persist.Applier]: the same writes, each failing precondition and
//     each kind of invalid write, alone and mixed with a failing
//     precondition before them, give the same records and the same
//     sentinel, naming the same table and id, through the DB's Applier and
//     through the fallback, and leave the same records.
//   - BulkLoader, skipped for a store that does not implement
//     [persist.BulkLoader]: a bulk load into an empty table (and one into
//     a table that is not empty, which defers nothing) leaves the records,
//     their order and Query's answers as InsertMany without one does, also
//     while the load is open; with a cancelled context it matches
//     context.Canceled, after Close it is ErrClosed.
//   - Concurrency: 50 goroutines each making 100 UpdateFunc increments of one
//     counter end at exactly 5000 (revision 5001; with -short, 10 making 20);
//     concurrent Puts to distinct ids are all stored; of concurrent Inserts
//     of one id, or concurrent Puts with the same revision precondition,
//     exactly one wins and the others are ErrConflict; a List running during
//     writes sees a consistent prefix.
//   - JSON: Unicode (emoji, CJK, right-to-left, combining marks, escapes)
//     and 200 levels of nesting round-trip to an equal JSON value; numbers
//     are never routed through float64 (12345678901234567890 and 1.10 come
//     back spelled as written; 1e400 and 9007199254740993 keep their exact
//     value); a 1 MiB document and whitespace around the object are fine;
//     every JSONTestSuite y_ document round-trips as the value of a field,
//     except the two that contain U+0000, which are ErrInvalid (an escaped
//     backslash followed by "u0000" is not U+0000 and round-trips); every
//     n_ document is ErrInvalid, both as a whole record and as a field value.
//   - Invalid: bad table names (SQL injection attempts, empty, upper case,
//     leading digit, 64 bytes, reserved names), bad ids (longer than 2048
//     bytes, U+0000, invalid UTF-8) and bad data (not an
//     object, not JSON, empty, U+0000, unpaired surrogates, invalid UTF-8)
//     are ErrInvalid for every method that takes them, and nothing changes;
//     valid but awkward names and ids work. A generated grid calls every
//     operation (those of the optional interfaces too) with each kind of
//     bad input it takes (negative revision, bad id, bad or missing data,
//     nil fn, bad list options or filter, and several at once) on an open
//     DB, a closed one and a store of a finished transaction, each with a
//     live and a cancelled context: a closed DB or finished transaction is
//     ErrClosed, else a cancelled context is [context.Canceled], else bad
//     input is ErrInvalid, each a [*persist.Error] naming the operation and
//     no id the caller did not give (none generated for a refused call),
//     and nothing is written.
//   - Limits: both sides of every stated bound, through every write and
//     as Query filters: numbers at PostgreSQL numeric's exponent, integer
//     digit and scale bounds; nesting 1000 and 1001 levels deep; 2000
//     top-level keys, one repeated; strings at the escape and surrogate
//     edges; 128- and 129-byte filter keys; 63-byte table names that share
//     62 bytes (or 51 and a 32-bit hash) and 64-byte ones.
//   - Lifecycle: DB.Store does no I/O: a table is listed by Tables only
//     once an operation has used it (a read counts), and an operation with
//     a cancelled context on a new store fails with the context's error,
//     creating nothing. Every method called with a cancelled context returns an
//     error matching [context.Canceled] (an expired one, matching
//     [context.DeadlineExceeded]) and writes nothing; Close is idempotent,
//     and afterwards every method, including DB.Store, Tx, Ping and a
//     previously obtained iterator, is ErrClosed; operations racing with
//     Close end in ErrClosed.
//   - Typed: [persist.Typed] over a struct type round-trips through Put,
//     Insert, Get, Modify, Query, List and Delete; its Find, FindPage and
//     CountWhere name fields by their JSON tags, nested ones too.
//   - PoolStats, skipped for a DB that does not implement
//     [persist.PoolStater]: every pool has a distinct name and 0 <=
//     InUse+Idle <= Open <= MaxOpen; no connection is in use between
//     operations, nor after a listing left early; a transaction holds at
//     least one; PoolStats works after Close.
func TestStore(t *testing.T, open func(t *testing.T) persist.DB) {
	t.Run("CRUD", func(t *testing.T) { testCRUD(t, open) })
	t.Run("Revision", func(t *testing.T) { testRevision(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("Query", func(t *testing.T) { testQuery(t, open) })
	t.Run("Find", func(t *testing.T) { testFind(t, open) })
	t.Run("Indexer", func(t *testing.T) { testIndexer(t, open) })
	t.Run("Tx", func(t *testing.T) { testTx(t, open) })
	t.Run("ReplaceAll", func(t *testing.T) { testReplaceAll(t, open) })
	t.Run("Batcher", func(t *testing.T) { testBatcher(t, open) })
	t.Run("BatchFallback", func(t *testing.T) { testBatchFallback(t, open) })
	t.Run("Applier", func(t *testing.T) { testApplier(t, open, applier) })
	t.Run("ApplyFallback", func(t *testing.T) { testApplier(t, open, fallback) })
	t.Run("ApplyAgrees", func(t *testing.T) { testApplyAgrees(t, open) })
	t.Run("BulkLoader", func(t *testing.T) { testBulkLoader(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("JSON", func(t *testing.T) { testJSON(t, open) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, open) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open) })
	t.Run("Typed", func(t *testing.T) { testTyped(t, open) })
	t.Run("PoolStats", func(t *testing.T) { testPoolStats(t, open) })
}

// errBoom stands for a caller's own error, which must come back unchanged
// through the store's wrapping.
var errBoom = errors.New("persisttest: boom")

// openStore opens a fresh DB and returns it with one store in it.
func openStore(t *testing.T, open openFunc, name string) (persist.DB, persist.Store) {
	t.Helper()
	db := open(t)
	if db == nil {
		t.Fatal("open returned a nil DB")
	}
	return db, mustStore(t, db, name)
}

func mustStore(tb testing.TB, db persist.DB, name string) persist.Store {
	tb.Helper()
	s, err := db.Store(name)
	if err != nil {
		tb.Fatalf("Store(%q): %v", name, err)
	}
	if s == nil {
		tb.Fatalf("Store(%q) returned a nil Store", name)
	}
	return s
}

func mustPut(tb testing.TB, s persist.Store, id, data string) persist.Record {
	tb.Helper()
	rec, err := s.Put(tb.Context(), persist.Record{ID: id, Data: json.RawMessage(data)})
	if err != nil {
		tb.Fatalf("Put(%q): %v", id, err)
	}
	return rec
}

func mustGet(tb testing.TB, s persist.Store, id string) persist.Record {
	tb.Helper()
	rec, err := s.Get(tb.Context(), id)
	if err != nil {
		tb.Fatalf("Get(%q): %v", id, err)
	}
	return rec
}

func mustCount(tb testing.TB, s persist.Store) int64 {
	tb.Helper()
	n, err := s.Count(tb.Context())
	if err != nil {
		tb.Fatalf("Count: %v", err)
	}
	return n
}

func wantCount(tb testing.TB, s persist.Store, want int64) {
	tb.Helper()
	if n := mustCount(tb, s); n != want {
		tb.Errorf("Count()=%v, want %v", n, want)
	}
}

func wantMissing(tb testing.TB, s persist.Store, id string) {
	tb.Helper()
	rec, err := s.Get(tb.Context(), id)
	if !errors.Is(err, persist.ErrNotFound) {
		tb.Errorf("Get(%q)=%q, %v; want %v", id, rec.Data, err, persist.ErrNotFound)
	}
}

func mustTables(tb testing.TB, db persist.DB) []string {
	tb.Helper()
	names, err := db.Tables(tb.Context())
	if err != nil {
		tb.Fatalf("Tables: %v", err)
	}
	return names
}

// collect ranges over seq to the end and returns the records before the
// first error and that error. It also checks the iterator protocol: an error
// comes with a zero Record and is the last thing yielded.
func collect(tb testing.TB, seq iter.Seq2[persist.Record, error]) ([]persist.Record, error) {
	tb.Helper()
	var (
		recs    []persist.Record
		first   error
		yielded int
	)
	for rec, err := range seq {
		if first != nil {
			yielded++
			if yielded > 10 { // a misbehaving iterator may never stop
				break
			}
			continue
		}
		if err != nil {
			first = err
			if rec.ID != "" || rec.Data != nil || rec.Revision != 0 {
				tb.Errorf("iterator yielded record %q with error %v, want a zero Record", rec.ID, err)
			}
			continue
		}
		recs = append(recs, rec)
	}
	if yielded > 0 {
		tb.Errorf("iterator yielded again after error %v, want it to stop", first)
	}
	return recs, first
}

// mustList collects seq and fails on any error.
func mustList(tb testing.TB, seq iter.Seq2[persist.Record, error]) []persist.Record {
	tb.Helper()
	recs, err := collect(tb, seq)
	if err != nil {
		tb.Fatalf("iterating: %v", err)
	}
	return recs
}

func idsOf(recs []persist.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

func wantIDs(tb testing.TB, recs []persist.Record, want ...string) {
	tb.Helper()
	if got := idsOf(recs); !slices.Equal(got, want) {
		tb.Errorf("ids=%q, want %q", got, want)
	}
}

// wantErr checks that err matches target.
func wantErr(tb testing.TB, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Errorf("err=%v, want one matching %v", err, target)
	}
}

// wantOpErr checks that err matches target and is a *persist.Error naming
// op, table and id.
func wantOpErr(tb testing.TB, err, target error, op, table, id string) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Errorf("err=%v, want one matching %v", err, target)
		return
	}
	var pe *persist.Error
	if !errors.As(err, &pe) {
		tb.Errorf("err=%v (%T), want a *persist.Error", err, err)
		return
	}
	if pe.Op != op {
		tb.Errorf("Error.Op=%q, want %q (err %v)", pe.Op, op, err)
	}
	if pe.Table != table {
		tb.Errorf("Error.Table=%q, want %q (err %v)", pe.Table, table, err)
	}
	if pe.ID != id {
		tb.Errorf("Error.ID=%q, want %q (err %v)", pe.ID, id, err)
	}
}

// wantData checks that got holds the same JSON value as want.
func wantData(tb testing.TB, got json.RawMessage, want string) {
	tb.Helper()
	if d := diffJSON(got, []byte(want)); d != "" {
		tb.Errorf("Data=%.200s, want %.200s: %s", got, want, d)
	}
}

// wantRecord checks that got is the same stored record as want: same id,
// revision, times and JSON value.
func wantRecord(tb testing.TB, got, want persist.Record) {
	tb.Helper()
	if got.ID != want.ID {
		tb.Errorf("ID=%q, want %q", got.ID, want.ID)
	}
	if got.Revision != want.Revision {
		tb.Errorf("%s: Revision=%v, want %v", want.ID, got.Revision, want.Revision)
	}
	if !got.Created.Equal(want.Created) {
		tb.Errorf("%s: Created=%v, want %v", want.ID, got.Created, want.Created)
	}
	if !got.Updated.Equal(want.Updated) {
		tb.Errorf("%s: Updated=%v, want %v", want.ID, got.Updated, want.Updated)
	}
	if d := diffJSON(got.Data, want.Data); d != "" {
		tb.Errorf("%s: Data=%.200s, want %.200s: %s", want.ID, got.Data, want.Data, d)
	}
}

// wantRecords checks got against want element by element.
func wantRecords(tb testing.TB, got, want []persist.Record) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("got %d records %q, want %d %q", len(got), idsOf(got), len(want), idsOf(want))
		return
	}
	for i := range got {
		wantRecord(tb, got[i], want[i])
	}
}

// wantTimes checks the timestamps a store sets: non-zero, UTC, Updated not
// before Created, and near the local clock, which catches unit mix-ups
// (seconds stored as microseconds) without timing anything.
func wantTimes(tb testing.TB, rec persist.Record) {
	tb.Helper()
	now := time.Now()
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"Created", rec.Created}, {"Updated", rec.Updated}} {
		switch {
		case f.t.IsZero():
			tb.Errorf("%s: %s is zero", rec.ID, f.name)
		case f.t.Location() != time.UTC:
			tb.Errorf("%s: %s=%v in %v, want UTC", rec.ID, f.name, f.t, f.t.Location())
		case f.t.Sub(now).Abs() > 24*time.Hour:
			tb.Errorf("%s: %s=%v, want within a day of now (%v)", rec.ID, f.name, f.t, now)
		}
	}
	if rec.Updated.Before(rec.Created) {
		tb.Errorf("%s: Updated=%v before Created=%v", rec.ID, rec.Updated, rec.Created)
	}
}

// snapshot returns every record of s, for checking later that nothing
// changed.
func snapshot(tb testing.TB, s persist.Store) []persist.Record {
	tb.Helper()
	return mustList(tb, s.List(tb.Context(), nil))
}

// wantUnchanged checks that s still holds exactly before.
func wantUnchanged(tb testing.TB, s persist.Store, before []persist.Record) {
	tb.Helper()
	wantRecords(tb, snapshot(tb, s), before)
}

// wantGeneratedID checks that id looks like a version 7 UUID in its
// canonical 36-character form.
func wantGeneratedID(tb testing.TB, id string) {
	tb.Helper()
	if len(id) != 36 {
		tb.Errorf("generated ID=%q has %d characters, want a 36-character UUID", id, len(id))
		return
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				tb.Errorf("generated ID=%q: want '-' at %d", id, i)
				return
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				tb.Errorf("generated ID=%q: want lowercase hex at %d", id, i)
				return
			}
		}
	}
	if id[14] != '7' {
		tb.Errorf("generated ID=%q is UUID version %c, want 7 (time-ordered)", id, id[14])
	}
}

// canceled returns a context that is already cancelled.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

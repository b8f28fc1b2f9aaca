package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

var _ persist.Batcher = (*Store)(nil)

// Lock order: COLLATE "C" sorts ids by bytes, as Go compares strings, so
// the order does not depend on the database's collation and every caller,
// in any process, takes the row locks of a set of records in the same
// order.
const byID = ` ORDER BY id COLLATE "C"`

// batchSQL is the text of the Batcher statements of one table.
type batchSQL struct {
	getMany, lockMany, lockRevs, putMany, putManyRev, putManyAny, deleteMany string
}

func newBatchSQL(q string) batchSQL {
	const cols = "id, data, revision, created_at, updated_at"
	return batchSQL{
		getMany:  "SELECT " + cols + " FROM " + q + " WHERE id = ANY($1::text[])",
		lockMany: "SELECT " + cols + " FROM " + q + " WHERE id = ANY($1::text[])" + byID + " FOR UPDATE",
		lockRevs: "SELECT id FROM " + q + " WHERE id = ANY($1::text[])" + byID + " FOR UPDATE",
		// The statement writes every record or none: ok is false when a
		// revision precondition fails, and then neither the update nor
		// the upsert touches a row. The rows with preconditions were
		// locked by lockRevs in an earlier statement, so this one's
		// snapshot sees their latest revisions and nothing can change
		// them before it writes. unnest keeps the input order, so new
		// rows get seq in that order, as Put one by one would.
		// The common shapes get statements far cheaper to plan and run
		// than putMany's: all records with a revision precondition, and
		// none (one upsert). The first is one UPDATE whose guard locks the
		// rows, in id order, and counts those at the expected revision:
		// FOR UPDATE waits for a concurrent writer and then reads its
		// version, and the UPDATE rechecks each row against that same
		// version, so it writes every row or, when the count falls
		// short, none.
		putManyRev: "UPDATE " + q + " AS t" + setWrite("r.data", ts("$4")) + " " +
			"FROM unnest($1::text[], $2::jsonb[], $3::bigint[]) AS r(id, data, rev) " +
			"WHERE t.id = r.id AND t.revision = r.rev AND (SELECT count(*) FILTER (WHERE k.revision = k.rev) " +
			"FROM (SELECT c.revision, w.rev FROM " + q + " AS c JOIN unnest($1::text[], $3::bigint[]) AS w(id, rev) ON c.id = w.id" +
			` ORDER BY c.id COLLATE "C" FOR UPDATE OF c) AS k) = cardinality($1::text[])` + returnRows,
		putManyAny: insertInto(q) + "SELECT " + newRow("r.id", "r.data", ts("$3")) +
			" FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS r(id, data, ord) ORDER BY r.ord" +
			onConflictReplace + returnRows,
		putMany: "WITH r AS (SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bigint[]) WITH ORDINALITY AS r(id, data, rev, ord)), " +
			"ok AS (SELECT NOT EXISTS (SELECT 1 FROM r LEFT JOIN " + q + " AS t ON t.id = r.id " +
			"WHERE r.rev <> 0 AND t.revision IS DISTINCT FROM r.rev) AS ok), " +
			"u AS (UPDATE " + q + " AS t" + setWrite("r.data", ts("$4")) + " FROM r " +
			"WHERE t.id = r.id AND r.rev <> 0 AND t.revision = r.rev AND (SELECT ok FROM ok)" + returnRows + "), " +
			"i AS (" + insertInto(q) + "SELECT " + newRow("r.id", "r.data", ts("$4")) + " FROM r WHERE r.rev = 0 AND (SELECT ok FROM ok) ORDER BY r.ord" +
			onConflictReplace + returnRows + ") " +
			"SELECT id, revision, created_at, updated_at FROM u UNION ALL SELECT id, revision, created_at, updated_at FROM i",
		deleteMany: "DELETE FROM " + q + " WHERE id = ANY($1::text[]) RETURNING id",
	}
}

// GetMany returns the records with the given ids in the order given, a
// zero Record for a missing id, with one SELECT ... WHERE id = ANY($1).
func (s *Store) GetMany(ctx context.Context, ids []string) (_ []persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "get_many", s.t.name, len(ids))
	defer op.End(&err)
	return s.getMany(ctx, ids, false)
}

// GetManyForUpdate is GetMany with FOR UPDATE inside a transaction: the
// rows are locked in byte order of their ids whatever the order given.
// Outside a transaction there is nothing to hold the locks, and it is
// GetMany.
func (s *Store) GetManyForUpdate(ctx context.Context, ids []string) (_ []persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "get_many", s.t.name, len(ids))
	defer op.End(&err)
	return s.getMany(ctx, ids, s.tx != nil)
}

func (s *Store) getMany(ctx context.Context, ids []string, lock bool) ([]persist.Record, error) {
	if err := s.enter(ctx, "get_many", ""); err != nil {
		return nil, err
	}
	if err := s.in().IDs("get_many", ids); err != nil {
		return nil, err
	}
	q, args := s.t.batch.getMany, []any{ids}
	if lock {
		q = s.t.batch.lockMany
	}
	if len(ids) <= maxListed {
		q, args = s.t.listed("SELECT id, data, revision, created_at, updated_at", ids, lock), listArgs(ids)
	}
	found := make(map[string]persist.Record, len(ids))
	err := s.do(ctx, "get_many", "", true, func(ctx context.Context, db querier) error {
		clear(found)
		if len(ids) == 0 {
			return nil
		}
		rows, err := db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rec persist.Record
			var data []byte
			if err := rows.Scan(&rec.ID, &data, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
				return err
			}
			rec.Data = data
			found[rec.ID] = utc(rec)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]persist.Record, len(ids))
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// PutMany writes recs as [Store.Put] does, with one statement, all or
// nothing: if a non-zero Revision is not the stored one it fails with
// [persist.ErrConflict] and writes nothing, also inside a transaction,
// which stays usable. Empty IDs are generated; duplicate IDs are
// [persist.ErrInvalid]. Outside a transaction it runs in one of its own,
// retried after a lost connection only when no record has a revision
// precondition.
func (s *Store) PutMany(ctx context.Context, recs []persist.Record) (_ []persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "put_many", s.t.name, len(recs))
	defer op.End(&err)
	if err := s.enter(ctx, "put_many", ""); err != nil {
		return nil, err
	}
	own, err := s.in().Records("put_many", recs, check.Unique)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(own))
	ids := make([]string, len(own))
	data := make([][]byte, len(own))
	revs := make([]int64, len(own))
	var locked []string
	for i, r := range own {
		seen[r.ID] = i
		ids[i], data[i], revs[i] = r.ID, r.Data, r.Revision
		if r.Revision != 0 {
			locked = append(locked, r.ID)
		}
	}
	now := writeTime()
	out := make([]persist.Record, len(own))
	write := func(ctx context.Context, q querier) error {
		if len(own) == 0 {
			return nil
		}
		// One round trip: a lock needed first is pipelined with the write.
		b := &pgx.Batch{}
		mixed := len(locked) > 0 && len(locked) < len(own)
		if mixed {
			b.Queue(s.t.batch.lockRevs, locked)
		}
		switch {
		case len(own) <= maxListed && len(locked) == 0:
			b.Queue(s.t.putListed(len(own), false), rowArgs(ids, data, nil, now)...)
		case len(own) <= maxListed && len(locked) == len(own):
			b.Queue(s.t.putListed(len(own), true), rowArgs(ids, data, revs, now)...)
		case len(locked) == 0:
			b.Queue(s.t.batch.putManyAny, ids, data, now)
		case len(locked) == len(own):
			b.Queue(s.t.batch.putManyRev, ids, data, revs, now)
		default:
			b.Queue(s.t.batch.putMany, ids, data, revs, now)
		}
		res := q.SendBatch(ctx, b)
		defer res.Close()
		if mixed {
			if _, err := res.Exec(); err != nil {
				return err
			}
		}
		rows, err := res.Query()
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var rec persist.Record
			if err := rows.Scan(&rec.ID, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
				rows.Close()
				return err
			}
			i, ok := seen[rec.ID]
			if !ok {
				rows.Close()
				return fmt.Errorf("put_many: unexpected id %q returned", rec.ID)
			}
			rec.Data = own[i].Data
			out[i] = utc(rec)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n != len(own) {
			return &persist.Error{Op: "put_many", Table: s.t.name,
				Err: fmt.Errorf("%w: a revision is not the stored revision", persist.ErrConflict)}
		}
		return res.Close()
	}
	if len(locked) == 0 || len(locked) == len(own) {
		// One statement, atomic on its own; a repeat is harmless only
		// without preconditions.
		err = s.do(ctx, "put_many", "", len(locked) == 0, write)
	} else {
		// The lock and the write must share a transaction.
		err = s.inTx(ctx, "put_many", "", write)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteMany deletes the records with the given ids with one DELETE ...
// WHERE id = ANY($1) and reports, for each, whether it existed; a repeated
// id existed only at its first occurrence, as with one Delete after
// another. Like Delete it is not retried after a lost connection outside a
// transaction, since the result could no longer be told.
func (s *Store) DeleteMany(ctx context.Context, ids []string) (_ []bool, err error) {
	ctx, op := s.db.obs.Start(ctx, "delete_many", s.t.name, len(ids))
	defer op.End(&err)
	if err := s.enter(ctx, "delete_many", ""); err != nil {
		return nil, err
	}
	if err := s.in().IDs("delete_many", ids); err != nil {
		return nil, err
	}
	gone := make(map[string]bool, len(ids))
	err = s.do(ctx, "delete_many", "", false, func(ctx context.Context, q querier) error {
		clear(gone)
		if len(ids) == 0 {
			return nil
		}
		stmt, args := s.t.batch.deleteMany, []any{ids}
		if len(ids) <= maxListed {
			stmt, args = "DELETE FROM "+s.t.qname+" WHERE id IN ("+params(len(ids), "text")+") RETURNING id", listArgs(ids)
		}
		rows, err := q.Query(ctx, stmt, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			gone[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(ids))
	for i, id := range ids {
		out[i] = gone[id]
		gone[id] = false
	}
	return out, nil
}

// maxListed is the most ids a statement names one parameter each. Up to it,
// ids go in as a list of parameters rather than one array: PostgreSQL
// estimates an array parameter's length only per execution, so a prepared
// statement over an array is planned again on every run, which costs more
// than running it; with a list of n parameters the generic plan is as
// good as a custom one and is reused. Each length is its own prepared
// statement.
const maxListed = 64

// params lists n groups of parameters from $1, one per type, each cast to
// it: "$1::text, $2::text" for (2, "text"), "($1::text, $2::jsonb), ($3::text,
// $4::jsonb)" for (2, "text", "jsonb").
func params(n int, types ...string) string {
	var b strings.Builder
	w := len(types)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if w > 1 {
			b.WriteByte('(')
		}
		for j, typ := range types {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(1 + i*w + j))
			b.WriteString("::")
			b.WriteString(typ)
		}
		if w > 1 {
			b.WriteByte(')')
		}
	}
	return b.String()
}

func listArgs(ids []string) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// rowArgs flattens the columns of PutMany's rows: id, data and, if revs is
// not nil, the revision of each; then the time of the write.
func rowArgs(ids []string, data [][]byte, revs []int64, now time.Time) []any {
	w := 2
	if revs != nil {
		w = 3
	}
	args := make([]any, 0, w*len(ids)+1)
	for i := range ids {
		args = append(args, ids[i], data[i])
		if revs != nil {
			args = append(args, revs[i])
		}
	}
	return append(args, now)
}

// listed is GetMany's statement for len(ids) ids.
func (t *table) listed(sel string, ids []string, lock bool) string {
	q := sel + " FROM " + t.qname + " WHERE id IN (" + params(len(ids), "text") + ")"
	if lock {
		q += byID + " FOR UPDATE"
	}
	return q
}

// putListed is PutMany's statement for n records, with a revision
// precondition on each (the listed form of putManyRev) or on none (an
// upsert). VALUES keeps the input order, so new rows get seq in that order.
func (t *table) putListed(n int, rev bool) string {
	if !rev {
		return insertInto(t.qname) + "SELECT " + newRow("v.id", "v.data", ts("$"+strconv.Itoa(2*n+1))) +
			" FROM (VALUES " + params(n, "text", "jsonb") + ") AS v(id, data)" + onConflictReplace + returnRows
	}
	var w strings.Builder
	for i := range n {
		if i > 0 {
			w.WriteString(", ")
		}
		fmt.Fprintf(&w, "($%d::text, $%d::bigint)", 3*i+1, 3*i+3)
	}
	return "UPDATE " + t.qname + " AS t" + setWrite("v.data", ts("$"+strconv.Itoa(3*n+1))) + " " +
		"FROM (VALUES " + params(n, "text", "jsonb", "bigint") + ") AS v(id, data, rev) " +
		"WHERE t.id = v.id AND t.revision = v.rev AND (SELECT count(*) FILTER (WHERE k.revision = k.rev) " +
		"FROM (SELECT c.revision, w.rev FROM " + t.qname + " AS c JOIN (VALUES " + w.String() + ") AS w(id, rev) ON c.id = w.id" +
		` ORDER BY c.id COLLATE "C" FOR UPDATE OF c) AS k) = ` + strconv.Itoa(n) + returnRows
}

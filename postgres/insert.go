package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

// batchSize is the number of records InsertMany writes per statement and
// transaction.
const batchSize = 1000

// maxCopyBatch is the most records one COPY writes during a bulk load: a
// COPY has no per-statement round trip to amortise the way unnest does,
// so the whole of an InsertMany call up to this size is one COPY and one
// transaction (fewer commits; a migration's batches of 5000 loaded about
// 15 % faster than batches of 1000).
const maxCopyBatch = 100_000

// batch holds one batch's columns in the shape the unnest statement binds.
type batch struct {
	ids   []string
	data  [][]byte
	revs  []pgtype.Int8
	creat []pgtype.Timestamptz
	updat []pgtype.Timestamptz
}

// complete reports whether every record of b has its revision and times,
// so that COPY, which cannot fall back to column defaults per row, can
// write it.
func (b *batch) complete() bool {
	for i := range b.ids {
		if !b.revs[i].Valid || !b.creat[i].Valid || !b.updat[i].Valid {
			return false
		}
	}
	return true
}

// slice returns records lo to hi of b, sharing its arrays.
func (b *batch) slice(lo, hi int) batch {
	return batch{ids: b.ids[lo:hi], data: b.data[lo:hi], revs: b.revs[lo:hi], creat: b.creat[lo:hi], updat: b.updat[lo:hi]}
}

func (b *batch) reset() {
	b.ids, b.data, b.revs, b.creat, b.updat = b.ids[:0], b.data[:0], b.revs[:0], b.creat[:0], b.updat[:0]
}

// add appends rec; keep says whether its Revision, Created and Updated are
// written (InsertMany) or left to the defaults (ReplaceAll).
func (b *batch) add(rec *persist.Record, keep bool) {
	b.ids = append(b.ids, rec.ID)
	b.data = append(b.data, rec.Data)
	var rev pgtype.Int8
	var c, u pgtype.Timestamptz
	if keep {
		rev = pgtype.Int8{Int64: rec.Revision, Valid: rec.Revision != 0}
		c = stamp(rec.Created)
		u = stamp(rec.Updated)
	}
	b.revs = append(b.revs, rev)
	b.creat = append(b.creat, c)
	b.updat = append(b.updat, u)
}

// stamp truncates to microseconds, as both backends store times;
// PostgreSQL would round instead.
func stamp(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.Truncate(time.Microsecond), Valid: true}
}

// InsertMany creates records in order, skipping ids that exist (and later
// duplicates of an id within recs). Revision, Created and Updated are kept
// when non-zero. Every record is validated first; one bad record, or an
// empty ID, fails the call with [persist.ErrInvalid] and writes nothing.
// Each batch of 1000 records is one INSERT ... SELECT FROM unnest(...)
// statement, so one round trip and one transaction (during a bulk load,
// see [Store.BeginBulkLoad], up to 100,000 records are one COPY); batches
// already committed when an error occurs stay written and are counted.
func (s *Store) InsertMany(ctx context.Context, recs []persist.Record) (res persist.InsertResult, err error) {
	ctx, op := s.db.obs.Start(ctx, "insert_many", s.t.name, len(recs))
	defer op.End(&err)
	if err := s.enter(ctx, "insert_many", ""); err != nil {
		return res, err
	}
	recs, err = s.in().Records("insert_many", recs, check.Keep)
	if err != nil {
		return res, err
	}
	if len(recs) == 0 {
		return res, nil
	}
	seen := make(map[string]struct{}, len(recs))
	var b batch
	loading := s.tx == nil && s.t.loads.Load() > 0
	step := batchSize
	if loading {
		step = maxCopyBatch
	}
	for start := 0; start < len(recs); start += step {
		end := min(start+step, len(recs))
		b.reset()
		for i := start; i < end; i++ {
			if _, dup := seen[recs[i].ID]; dup {
				continue
			}
			seen[recs[i].ID] = struct{}{}
			b.add(&recs[i], true)
		}
		var n int64
		if len(b.ids) > 0 {
			// ON CONFLICT DO NOTHING makes a repeated batch harmless, so a
			// batch cut off by a lost connection is run again; if its commit
			// had in fact landed, its rows count as skipped.
			bulk := loading && b.complete()
			err := s.do(ctx, "insert_many", "", true, func(ctx context.Context, q querier) error {
				var err error
				if bulk {
					n, err = s.copyBatch(ctx, q, &b)
				} else {
					n, err = s.writeBatch(ctx, q, &b)
				}
				return err
			})
			if err != nil {
				return res, err
			}
		}
		res.Inserted += int(n)
		res.Skipped += end - start - int(n)
	}
	return res, nil
}

// writeBatch inserts b with one statement and returns the rows written.
// unnest was measured against COPY into a temporary staging table followed
// by INSERT ... SELECT ... ON CONFLICT DO NOTHING (BenchmarkInsertMany):
// COPY needs about five round trips against unnest's one and was slower for
// batches of 1000.
func (s *Store) writeBatch(ctx context.Context, q querier, b *batch) (int64, error) {
	tag, err := q.Exec(ctx, s.t.sqlInsertMany, b.ids, b.data, b.revs, b.creat, b.updat, writeTime())
	return tag.RowsAffected(), err
}

// copyColumns are the columns copyBatch writes; seq takes its default, in
// the order the rows arrive, unless the batch is split (see copyStreams).
var (
	copyColumns    = []string{"id", "data", "revision", "created_at", "updated_at"}
	copyColumnsSeq = []string{"id", "data", "seq", "revision", "created_at", "updated_at"}
)

// copyStreams is the number of COPY statements, on as many connections,
// that write a batch of at least copyStreams*minCopyPart records at once.
// One COPY is parsed by one server process, which bounds a load to one
// core of the server: two streams loaded a million 274-byte documents in
// 4.5 s against 7.2 s for one on a 2-core server, and cut the migration
// benchmark's wall time by about a tenth.
const (
	copyStreams = 2
	minCopyPart = 1000
)

// copier is the part of *pgxpool.Pool that copyBatch uses.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// copyBatch writes b with binary COPY during a bulk load (see
// BeginBulkLoad). A large batch is split into copyStreams parts written at
// once, each one statement and one transaction; so that the table's
// insertion order is still b's, the parts take seq values reserved in
// order first, in one round trip. A COPY cannot skip existing ids: when
// the server rejects one, for a unique violation or anything else, none of
// its part was written, and the part is written again with writeBatch,
// which skips existing ids and fails the usual way otherwise; it takes
// new seq values as it writes, so such a part lists after the rest of its
// batch. In the migration benchmark (200,000 documents of
// 274 bytes into an empty table) the copy phase took 7.4 s with one COPY
// per batch against 12.6 s with unnest.
func (s *Store) copyBatch(ctx context.Context, q querier, b *batch) (int64, error) {
	c, ok := q.(copier)
	if !ok {
		return s.writeBatch(ctx, q, b)
	}
	n := len(b.ids)
	if n < copyStreams*minCopyPart {
		return s.copyPart(ctx, c, q, b, nil)
	}
	// The sequence is looked up rather than named: a table an earlier
	// version created may have it under a legacy name (see objectName).
	var seqs []int64
	if err := q.QueryRow(ctx, "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence($1, 'seq')::regclass AS s) "+
		"SELECT array_agg(nextval(q.s)) FROM q, generate_series(1, $2)", s.t.qname, n).Scan(&seqs); err != nil {
		return 0, err
	}
	if len(seqs) != n {
		return 0, fmt.Errorf("reserved %d seq values for %d records", len(seqs), n)
	}
	var wg sync.WaitGroup
	written := make([]int64, copyStreams)
	errs := make([]error, copyStreams)
	for i := range copyStreams {
		lo, hi := i*n/copyStreams, (i+1)*n/copyStreams
		part := b.slice(lo, hi)
		wg.Go(func() { written[i], errs[i] = s.copyPart(ctx, c, q, &part, seqs[lo:hi]) })
	}
	wg.Wait()
	var total int64
	for _, w := range written {
		total += w
	}
	return total, errors.Join(errs...)
}

// copyPart writes b with one COPY, with the given seq values or, when seqs
// is nil, the column's default; see copyBatch.
func (s *Store) copyPart(ctx context.Context, c copier, q querier, b *batch, seqs []int64) (int64, error) {
	cols := copyColumns
	if seqs != nil {
		cols = copyColumnsSeq
	}
	row := make([]any, len(cols))
	src := pgx.CopyFromSlice(len(b.ids), func(i int) ([]any, error) {
		if seqs == nil {
			row[0], row[1], row[2], row[3], row[4] = b.ids[i], b.data[i], b.revs[i], b.creat[i], b.updat[i]
		} else {
			row[0], row[1], row[2], row[3], row[4], row[5] = b.ids[i], b.data[i], seqs[i], b.revs[i], b.creat[i], b.updat[i]
		}
		return row, nil
	})
	n, err := c.CopyFrom(ctx, pgx.Identifier{s.t.schema, s.t.name}, cols, src)
	if _, rejected := errors.AsType[*pgconn.PgError](err); rejected {
		return s.writeBatch(ctx, q, b)
	}
	return n, err
}

// ReplaceAll atomically replaces the table's contents with recs, in one
// transaction: DELETE, then batched inserts. Empty IDs are generated;
// duplicate IDs are [persist.ErrInvalid]. The new records start at
// revision 1.
func (s *Store) ReplaceAll(ctx context.Context, recs []persist.Record) (err error) {
	ctx, op := s.db.obs.Start(ctx, "replace_all", s.t.name, len(recs))
	defer op.End(&err)
	if err := s.enter(ctx, "replace_all", ""); err != nil {
		return err
	}
	own, err := s.in().Records("replace_all", recs, check.Unique)
	if err != nil {
		return err
	}
	var b batch
	return s.inTx(ctx, "replace_all", "", func(ctx context.Context, q querier) error {
		if _, err := q.Exec(ctx, s.t.sqlClear); err != nil {
			return err
		}
		for start := 0; start < len(own); start += batchSize {
			b.reset()
			for i := start; i < min(start+batchSize, len(own)); i++ {
				b.add(&own[i], false)
			}
			if _, err := s.writeBatch(ctx, q, &b); err != nil {
				return err
			}
		}
		return nil
	})
}

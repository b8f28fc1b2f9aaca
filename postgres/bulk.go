package postgres

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
)

var _ persist.BulkLoader = (*Store)(nil)

// BeginBulkLoad drops the table's GIN index (which serves Query, see
// [Config.QueryIndex]) if the table is empty and has one, so that a load
// maintains only the primary key and seq indexes, and returns finish, which
// creates the index again in one pass and runs ANALYZE so the planner knows
// the new rows. Building the index once is several times faster than
// maintaining it row by row. Until finish runs, every operation stays
// correct and Query scans the table. finish restores exactly what was
// dropped: on a table without the index it creates none.
//
// While the load of an empty table is open, whether or not it had an index
// to drop, [Store.InsertMany] on the table writes each batch with a binary
// COPY instead of an INSERT, and a batch of 2000 records or more with two
// COPY statements at once, on two pooled connections, on seq values
// reserved in the batch's order, so that the server parses with two
// processes and the table still lists the records in the order given. A
// COPY has no ON CONFLICT, so a part that meets an id already stored (by
// a concurrent writer, or a repeated batch) is rolled back whole and
// written again the usual way, skipping the existing ids. The outcome is
// the same; only the speed differs.
//
// Nothing is deferred, and finish does nothing, when the table has rows or
// no GIN index, when the role does not own the table, or inside a
// transaction ([DB.Tx]): the transaction's own writes would be the load,
// and DDL there would hold an exclusive lock on the table until it commits.
// If finish is never called, the first operation on the table through a
// newly opened [DB] with QueryIndex creates the index; until one does, the
// table stays without it. finish may be called more than once; after it
// has succeeded, further calls do nothing. Its context bounds the index
// build.
//
// The check, the drop, the rebuild and the table setup of every DB take
// the same advisory lock, so concurrent bulk loads and first uses of the
// table by other processes never fail on each other's DDL.
func (s *Store) BeginBulkLoad(ctx context.Context) (finish func(ctx context.Context) error, err error) {
	ctx, op := s.db.obs.Start(ctx, "bulk_load", s.t.name, 0)
	defer op.End(&err)
	noop := func(context.Context) error { return nil }
	if err := s.enter(ctx, "bulk_load", ""); err != nil {
		return nil, err
	}
	if s.tx != nil {
		return noop, nil
	}
	var empty, dropped bool
	err = s.do(ctx, "bulk_load", "", true, func(ctx context.Context, _ querier) error {
		empty, dropped = false, false
		return pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.t.schema, s.t.name)); err != nil {
				return err
			}
			// Only the owner may drop the index; for anyone else the
			// load simply runs with it. A table without the index has
			// nothing to drop, and finish must not create one.
			var owner, hasGIN bool
			err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+s.t.qname+"), "+
				"(SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = $1::regclass), "+
				"to_regclass($2) IS NOT NULL", s.t.qname, s.t.ginName).Scan(&empty, &owner, &hasGIN)
			if err != nil || !empty || !owner || !hasGIN {
				return err
			}
			if _, err := tx.Exec(ctx, s.t.sqlDropGIN); err != nil {
				return err
			}
			dropped = true
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if !empty {
		return noop, nil
	}
	s.t.loads.Add(1)
	var mu sync.Mutex
	var finished, ended bool
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			// Whatever the rebuild's outcome, the load is over.
			ended = true
			s.t.loads.Add(-1)
		}
		if finished || !dropped {
			return nil
		}
		if err := s.rebuild(ctx); err != nil {
			return err
		}
		finished = true
		return nil
	}, nil
}

// rebuild creates the GIN index a bulk load dropped, and analyzes the
// table.
func (s *Store) rebuild(ctx context.Context) error {
	return s.check(s.db.run(ctx, "bulk_load", s.t.name, "", true, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.t.schema, s.t.name)); err != nil {
				return err
			}
			// The server's maintenance_work_mem is left alone: raising it
			// from the default 64MB to 256MB built the index over a
			// million 274-byte documents 10-20% slower, not faster.
			if _, err := tx.Exec(ctx, s.t.sqlCreateGIN); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "ANALYZE "+s.t.qname)
			return err
		})
	}))
}

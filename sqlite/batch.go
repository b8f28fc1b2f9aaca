package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

var _ persist.Batcher = (*Store)(nil)

// GetMany returns the records with the given ids in the order given, a
// zero Record for a missing id, read by one statement, so from one
// snapshot.
func (s *Store) GetMany(ctx context.Context, ids []string) (_ []persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "get_many", s.t.name, len(ids))
	defer op.End(&err)
	if err := s.check(ctx, "get_many", ""); err != nil {
		return nil, err
	}
	if err := s.in().IDs("get_many", ids); err != nil {
		return nil, err
	}
	out := make([]persist.Record, len(ids))
	switch len(ids) {
	case 0:
		return out, nil
	case 1:
		// Get's point lookup: cheaper than a JSON array of one id, and
		// persist.Apply's fallback reads each check this way.
		rec, err := s.Get(ctx, ids[0])
		if err != nil && !errors.Is(err, persist.ErrNotFound) {
			return nil, err
		}
		out[0] = rec
		return out, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	found := make(map[string]persist.Record, len(ids))
	err = s.run(ctx, "get_many", "", func(ctx context.Context) error {
		clear(found)
		rows, err := s.reader().QueryContext(ctx, s.t.getMany, string(list))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rec persist.Record
			var c, u int64
			if err := rows.Scan(&rec.ID, (*[]byte)(&rec.Data), &rec.Revision, &c, &u); err != nil {
				return err
			}
			rec.Created, rec.Updated = fromMicros(c), fromMicros(u)
			found[rec.ID] = rec
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// GetManyForUpdate is GetMany. SQLite has no row locks: a transaction holds
// the writer, which excludes every other writer, so the records it reads
// stay as read until it ends.
func (s *Store) GetManyForUpdate(ctx context.Context, ids []string) ([]persist.Record, error) {
	return s.GetMany(ctx, ids)
}

// PutMany writes recs as [Store.Put] does, in one writer transaction (or
// the enclosing one), all or nothing: every revision precondition is
// checked before anything is written, so a conflict writes nothing, also
// inside a transaction. Empty IDs are generated; duplicate IDs are
// [persist.ErrInvalid].
func (s *Store) PutMany(ctx context.Context, recs []persist.Record) (_ []persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "put_many", s.t.name, len(recs))
	defer op.End(&err)
	if err := s.checkWrite(ctx, "put_many", ""); err != nil {
		return nil, err
	}
	out, err := s.in().Records("put_many", recs, check.Unique)
	if err != nil {
		return nil, err
	}
	want := make([]int64, len(out)) // revision preconditions; out's are overwritten by each attempt
	for i := range out {
		want[i] = out[i].Revision
	}
	if len(out) == 0 {
		return out, nil
	}
	err = s.run(ctx, "put_many", "", func(ctx context.Context) error {
		return s.inTx(ctx, func(x execer) error {
			for i, r := range out {
				if want[i] == 0 {
					continue
				}
				var rev int64
				err := x.QueryRowContext(ctx, s.t.getRev, r.ID).Scan(&rev)
				if errors.Is(err, sql.ErrNoRows) {
					rev = 0
				} else if err != nil {
					return err
				}
				if rev != want[i] {
					return &persist.Error{Op: "put_many", Table: s.t.name, ID: r.ID,
						Err: fmt.Errorf("%w: revision %d is not the stored revision %d", persist.ErrConflict, want[i], rev)}
				}
			}
			now := time.Now().UnixMicro()
			for i := range out {
				r := &out[i]
				var row *sql.Row
				if want[i] != 0 {
					row = x.QueryRowContext(ctx, s.t.putRev, string(r.Data), now, r.ID, want[i])
				} else {
					row = x.QueryRowContext(ctx, s.t.put, r.ID, string(r.Data), now)
				}
				var created int64
				if err := row.Scan(&r.Revision, &created); err != nil {
					return err
				}
				r.Created, r.Updated = fromMicros(created), fromMicros(now)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteMany deletes the records with the given ids in one writer
// transaction (or the enclosing one) and reports, for each, whether it
// existed; a repeated id existed only at its first occurrence.
func (s *Store) DeleteMany(ctx context.Context, ids []string) (_ []bool, err error) {
	ctx, op := s.db.obs.Start(ctx, "delete_many", s.t.name, len(ids))
	defer op.End(&err)
	if err := s.checkWrite(ctx, "delete_many", ""); err != nil {
		return nil, err
	}
	if err := s.in().IDs("delete_many", ids); err != nil {
		return nil, err
	}
	out := make([]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err = s.run(ctx, "delete_many", "", func(ctx context.Context) error {
		return s.inTx(ctx, func(x execer) error {
			for i, id := range ids {
				res, err := x.ExecContext(ctx, s.t.del, id)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				out[i] = n > 0
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

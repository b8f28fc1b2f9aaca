package sqlite

import (
	"context"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

// batchSize is the number of rows per InsertMany transaction: large enough
// to amortise the commit, small enough not to hold the writer for long.
const batchSize = 1000

// row is a validated record ready to insert.
type row struct {
	id                string
	data              string
	rev, created, upd int64
}

// InsertMany creates records in order, skipping ids that exist (and
// repeats of an id within recs, after the first), in transactions of
// 1000 rows. Every record is validated first; one bad record writes
// nothing.
func (s *Store) InsertMany(ctx context.Context, recs []persist.Record) (res persist.InsertResult, err error) {
	ctx, op := s.db.obs.Start(ctx, "insert_many", s.t.name, len(recs))
	defer op.End(&err)
	if err := s.checkWrite(ctx, "insert_many", ""); err != nil {
		return res, err
	}
	valid, err := s.in().Records("insert_many", recs, check.Keep)
	if err != nil {
		return res, err
	}
	now := time.Now().UnixMicro()
	rows := make([]row, 0, len(valid))
	seen := make(map[string]struct{}, len(valid))
	for _, r := range valid {
		if _, dup := seen[r.ID]; dup {
			res.Skipped++
			continue
		}
		seen[r.ID] = struct{}{}
		w := row{id: r.ID, data: string(r.Data), rev: max(r.Revision, 1), created: now, upd: now}
		if !r.Created.IsZero() {
			w.created = r.Created.UnixMicro()
			w.upd = w.created
		}
		if !r.Updated.IsZero() {
			w.upd = r.Updated.UnixMicro()
		}
		rows = append(rows, w)
	}
	for len(rows) > 0 {
		batch := rows[:min(batchSize, len(rows))]
		rows = rows[len(batch):]
		var n int
		err := s.run(ctx, "insert_many", "", func(ctx context.Context) error {
			return s.inTx(ctx, func(x execer) error {
				var err error
				n, err = s.insertRows(ctx, x, batch)
				return err
			})
		})
		if err != nil {
			return res, err
		}
		res.Inserted += n
		res.Skipped += len(batch) - n
	}
	return res, nil
}

// ReplaceAll replaces the table's contents with recs in one transaction.
// The new records start at revision 1.
func (s *Store) ReplaceAll(ctx context.Context, recs []persist.Record) (err error) {
	ctx, op := s.db.obs.Start(ctx, "replace_all", s.t.name, len(recs))
	defer op.End(&err)
	if err := s.checkWrite(ctx, "replace_all", ""); err != nil {
		return err
	}
	valid, err := s.in().Records("replace_all", recs, check.Unique)
	if err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	rows := make([]row, len(valid))
	for i, r := range valid {
		rows[i] = row{id: r.ID, data: string(r.Data), rev: 1, created: now, upd: now}
	}
	return s.run(ctx, "replace_all", "", func(ctx context.Context) error {
		return s.inTx(ctx, func(x execer) error {
			if _, err := x.ExecContext(ctx, s.t.clear); err != nil {
				return err
			}
			_, err := s.insertRows(ctx, x, rows)
			return err
		})
	})
}

// insertRows inserts with one prepared statement inside the caller's
// transaction and returns how many rows were new.
func (s *Store) insertRows(ctx context.Context, x execer, rows []row) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	st, err := x.PrepareContext(ctx, s.t.insertKeep)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n := 0
	for _, r := range rows {
		res, err := st.ExecContext(ctx, r.id, r.data, r.rev, r.created, r.upd)
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += int(k)
	}
	return n, nil
}

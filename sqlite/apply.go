package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

var _ persist.Applier = (*DB)(nil)

// Apply makes writes in one writer transaction. SQLite has no network
// round trips to save, so this is [DB.Tx] with the preconditions of
// [persist.Applier]: the first that fails rolls everything back.
func (db *DB) Apply(ctx context.Context, ws ...persist.Write) ([]persist.Record, error) {
	if err := db.check(ctx, "apply"); err != nil {
		return nil, err
	}
	ws, err := check.Writes(ws, db.idField)
	if err != nil {
		return nil, err
	}
	out := make([]persist.Record, len(ws))
	if len(ws) == 0 {
		return out, nil
	}
	err = db.Tx(ctx, func(tx persist.Tx) error {
		for i, w := range ws {
			s, err := tx.Store(w.Table)
			if err != nil {
				return err
			}
			switch w.Op {
			case persist.WriteInsert:
				out[i], err = s.Insert(ctx, w.Record)
			case persist.WritePut:
				out[i], err = s.Put(ctx, w.Record)
			case persist.WriteCheck:
				var cur persist.Record
				cur, err = s.Get(ctx, w.Record.ID)
				switch {
				case errors.Is(err, persist.ErrNotFound) && w.Record.Revision == 0:
					err = nil
				case errors.Is(err, persist.ErrNotFound) || err == nil && cur.Revision != w.Record.Revision:
					err = &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID,
						Err: fmt.Errorf("%w: check: revision %d is not the stored revision", persist.ErrConflict, w.Record.Revision)}
				}
				out[i] = persist.Record{}
			case persist.WriteDelete:
				var existed bool
				existed, err = s.Delete(ctx, w.Record.ID)
				if err == nil && !existed {
					err = &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID, Err: fmt.Errorf("%w: delete: no such record", persist.ErrNotFound)}
				}
				out[i] = persist.Record{}
			}
			var pe *persist.Error
			if errors.As(err, &pe) && pe.Op != "apply" && (errors.Is(err, persist.ErrConflict) || errors.Is(err, persist.ErrNotFound)) {
				return &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID, Err: fmt.Errorf("%s: %w", w.Op, pe.Err)}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

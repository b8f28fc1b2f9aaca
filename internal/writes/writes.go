// Package writes validates what persist.Applier.Apply takes, once for every
// backend, before anything is written.
package writes

import (
	"fmt"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/jsonx"
)

// Check returns an *persist.Error matching persist.ErrInvalid, naming the
// table and id, for the first write that Apply must refuse: a bad table
// name, op, id, revision or data, or an id that appears twice in one table.
func Check(ws []persist.Write) error {
	type key struct{ table, id string }
	seen := make(map[key]bool, len(ws))
	for i, w := range ws {
		bad := func(format string, args ...any) error {
			return &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID,
				Err: fmt.Errorf("%w: write %d: %s", persist.ErrInvalid, i, fmt.Sprintf(format, args...))}
		}
		if err := ident.Table(w.Table); err != nil {
			return bad("%v", err)
		}
		switch w.Op {
		case persist.WriteInsert, persist.WritePut, persist.WriteDelete, persist.WriteCheck:
		default:
			return bad("op %d is unknown", w.Op)
		}
		if w.Record.ID == "" {
			// Apply names every record it writes; it generates none.
			return bad("id is empty")
		}
		if err := ident.ID(w.Record.ID); err != nil {
			return bad("%v", err)
		}
		if w.Record.Revision < 0 {
			return bad("revision %d is negative", w.Record.Revision)
		}
		if w.Op == persist.WriteInsert || w.Op == persist.WritePut {
			if err := jsonx.ValidateObject(w.Record.Data); err != nil {
				return bad("%v", err)
			}
		}
		k := key{w.Table, w.Record.ID}
		if seen[k] {
			return bad("id %q is written twice in table %s", w.Record.ID, w.Table)
		}
		seen[k] = true
	}
	return nil
}

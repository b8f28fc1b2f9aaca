package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/sqlite"
)

// TestUpdateStoredInvalid: a table in the earlier layout may hold
// documents persist does not accept, written by another tool: U+0000,
// which PostgreSQL cannot store, an unpaired surrogate, or no object at
// all. Update cannot merge into them; it is ErrInvalid, as the write would
// be if given that document, and writes nothing. Put replaces them.
func TestUpdateStoredInvalid(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	stored := map[string]string{"nul": `{"a":"\u0000"}`, "surrogate": `{"a":"\ud800"}`, "array": `[1]`}
	sqlitetest.SeedLegacy(t, path, "sources", "nul", stored["nul"], "surrogate", stored["surrogate"], "array", stored["array"])
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := MustStore(t, db, "sources")
	for id, data := range stored {
		t.Run(id, func(t *testing.T) {
			_, err := s.Update(ctx, persist.Record{ID: id, Data: json.RawMessage(`{"b":1}`)})
			var pe *persist.Error
			if !errors.Is(err, persist.ErrInvalid) || !errors.As(err, &pe) || pe.Op != "update" || pe.ID != id {
				t.Errorf("Update=%v, want ErrInvalid for update sources/%s", err, id)
			}
			_, err = s.UpdateFunc(ctx, id, func(cur persist.Record) (json.RawMessage, error) { return cur.Data, nil })
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("UpdateFunc storing it again=%v, want ErrInvalid", err)
			}
			rec, err := s.Get(ctx, id)
			if err != nil || string(rec.Data) != data || rec.Revision != 1 {
				t.Errorf("Get=%s rev %d, %v; want %s rev 1, unchanged", rec.Data, rec.Revision, err, data)
			}
			if rec, err := s.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(`{"b":1}`), Revision: 1}); err != nil || rec.Revision != 2 {
				t.Errorf("Put replacing it=%+v, %v; want revision 2", rec, err)
			}
		})
	}
}

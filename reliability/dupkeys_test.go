package reliability_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/persistkit/persist"
)

// TestDuplicateKeysLastWins pins down what FuzzIdentifiers found: a
// document with a duplicated key means its last value (the JSON policy,
// and what PostgreSQL's jsonb keeps), so a query must match the last value
// and never the first, on every backend.
func TestDuplicateKeysLastWins(t *testing.T) {
	run := func(t *testing.T, db persist.DB) {
		ctx := context.Background()
		st := mustStore(t, db, "dupkeys")
		docs := map[string]string{
			"last_two":    `{"k":1,"k":2}`,
			"last_one":    `{"k":2,"k":1}`,
			"nested_last": `{"k":{"x":1},"k":3}`,
		}
		for id, d := range docs {
			if _, err := st.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(d)}); err != nil {
				t.Fatalf("Put(%s): %v", id, err)
			}
			got, err := st.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get(%s): %v", id, err)
			}
			mustEqualJSON(t, got.Data, []byte(d))
		}
		for filter, want := range map[string][]string{
			`{"k":1}`: {"last_one"},
			`{"k":2}`: {"last_two"},
			`{"k":3}`: {"nested_last"},
		} {
			var got []string
			for rec, err := range st.Query(ctx, json.RawMessage(filter), nil) {
				if err != nil {
					t.Fatalf("Query(%s): %v", filter, err)
				}
				got = append(got, rec.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Query(%s) = %q, want %q", filter, got, want)
			}
		}
	}
	t.Run("SQLite", func(t *testing.T) {
		run(t, mustOpen(t, sqliteURL(filepath.Join(t.TempDir(), "dup.db")), nil))
	})
	t.Run("Postgres", func(t *testing.T) {
		base := postgresBase(t)
		run(t, mustOpen(t, postgresSchemaURL(t, base, "persist_dupkeys_"+randomSuffix(t)), nil))
	})
}

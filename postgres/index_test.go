package postgres_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/persistkit/persist"
)

// TestIndexEntryLimit: a B-tree entry holds at most about 2700 bytes, so
// once a field is indexed, a write whose value there is longer (and does
// not compress) is refused with ErrInvalid and writes nothing.
func TestIndexEntryLimit(t *testing.T) {
	db, _ := mustOpen(t, nil)
	s := mustStore(t, db, "items")
	if err := persist.EnsureIndex(t.Context(), s, persist.Index{Name: "by_s", Fields: []persist.Sort{{Path: "s"}}}); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 1600) // 3200 hex digits
	rand.Read(long)
	data, _ := json.Marshal(map[string]string{"s": hex.EncodeToString(long)})
	_, err := s.Put(t.Context(), persist.Record{ID: "a", Data: data})
	if !errors.Is(err, persist.ErrInvalid) {
		t.Fatalf("Put of a 3200-byte indexed string: %v, want ErrInvalid", err)
	}
	if n, err := s.Count(t.Context()); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0", n, err)
	}
	short, _ := json.Marshal(map[string]string{"s": hex.EncodeToString(long[:1000])})
	if _, err := s.Put(t.Context(), persist.Record{ID: "b", Data: short}); err != nil {
		t.Errorf("Put of a 2000-byte indexed string: %v", err)
	}
}

package persist_test

import (
	"testing"

	"github.com/persistkit/persist"
)

// plainStore is a Store without an Indexer.
type plainStore struct{ persist.Store }

func TestIndexFallback(t *testing.T) {
	s := plainStore{}
	if err := persist.EnsureIndex(t.Context(), s, persist.Index{Name: "x"}); err != nil {
		t.Errorf("EnsureIndex without an Indexer: %v, want nil", err)
	}
	p, err := persist.Explain(t.Context(), s, persist.Where("a", "==", 1))
	if err != nil || p.Indexed {
		t.Errorf("Explain without an Indexer = %+v, %v; want not Indexed", p, err)
	}
}

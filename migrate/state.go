package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/persistkit/persist"
)

// followState is the record of StateTable for one set of tables.
type followState struct {
	Tables []string `json:"tables"`
	Cursor string   `json:"cursor"`
	Copied bool     `json:"copied"` // the copy ended; only following is left
}

// stateID names the state record of a set of tables, in any order.
func stateID(tables []string) string {
	sorted := slices.Sorted(slices.Values(tables))
	sum := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	return "follow-" + hex.EncodeToString(sum[:16])
}

func (st *followState) record(tables []string) persist.Record {
	b, _ := json.Marshal(st) // strings and a bool: cannot fail
	return persist.Record{ID: stateID(tables), Data: b}
}

// loadState reads the saved state of tables from the target, if any.
func loadState(ctx context.Context, dst persist.DB, tables []string) (*followState, error) {
	s, err := dst.Store(StateTable)
	if err != nil {
		return nil, err
	}
	rec, err := s.Get(ctx, stateID(tables))
	if errors.Is(err, persist.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st followState
	if err := json.Unmarshal(rec.Data, &st); err != nil || st.Cursor == "" {
		return nil, fmt.Errorf("migrate: %w: the follow state %s/%s on the target is not one migrate wrote", persist.ErrInvalid, StateTable, rec.ID)
	}
	return &st, nil
}

// saveState writes the state of tables to the target.
func saveState(ctx context.Context, dst persist.DB, tables []string, st *followState) error {
	s, err := dst.Store(StateTable)
	if err != nil {
		return err
	}
	_, err = s.Put(ctx, st.record(tables))
	return err
}

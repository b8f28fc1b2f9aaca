package query

import (
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

// MaxIndexName bounds an index's name, so that with the table's name it
// fits PostgreSQL's 63-byte identifiers.
const MaxIndexName = 31

// ParseIndex checks an index declaration and returns its keys, ending with
// insertion order in the direction of the last field.
func ParseIndex(op, table string, idx persist.Index) ([]SortKey, error) {
	bad := func(format string, args ...any) error { return check.Invalid(op, table, "", format, args...) }
	if idx.Name == "" || len(idx.Name) > MaxIndexName {
		return nil, bad("index name %q: must match ^[a-z_][a-z0-9_]{0,%d}$", truncate(idx.Name), MaxIndexName-1)
	}
	for i := 0; i < len(idx.Name); i++ {
		c := idx.Name[i]
		if c != '_' && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return nil, bad("index name %q: must match ^[a-z_][a-z0-9_]{0,%d}$", truncate(idx.Name), MaxIndexName-1)
		}
	}
	if len(idx.Fields) == 0 || len(idx.Fields) > MaxSorts {
		return nil, bad("index %s has %d fields, want 1 to %d", idx.Name, len(idx.Fields), MaxSorts)
	}
	var keys []SortKey
	for i, f := range idx.Fields {
		if f.Dir != persist.Asc && f.Dir != persist.Desc {
			return nil, bad("index %s field %d: direction %d is unknown", idx.Name, i, int(f.Dir))
		}
		if f.Path == persist.Inserted {
			return nil, bad("index %s field %d: insertion order is part of every index", idx.Name, i)
		}
		path, err := ParsePath(f.Path)
		if err != nil {
			return nil, bad("index %s field %d: %v", idx.Name, i, err)
		}
		keys = append(keys, SortKey{Path: path, Desc: f.Dir == persist.Desc})
	}
	return append(keys, SortKey{Desc: keys[len(keys)-1].Desc}), nil
}

// NotInTx is the error of EnsureIndex on a store of a transaction.
func NotInTx(op, table string) error {
	return check.Invalid(op, table, "", "indexes are declared outside transactions")
}

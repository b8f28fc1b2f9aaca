package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsontest"
)

// The names a fuzzed identifier is checked against are written out here
// from the documented rules, independently of internal/ident.
var (
	tableRule     = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	filterKeyRule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,127}$`)
)

const (
	sentinelTable = "sentinel"
	sentinelData  = `{"v":"sentinel","n":1}`
	idTable       = "ids"
	filterTable   = "filters"

	// maxFuzzTables bounds the schema a fuzz process grows before it starts
	// a new file: every accepted table name creates a table.
	maxFuzzTables = 300
)

func setupIdentDB(ctx context.Context, db persist.DB) ([]string, error) {
	s, err := db.Store(sentinelTable)
	if err != nil {
		return nil, err
	}
	if _, err := s.Put(ctx, persist.Record{ID: "s", Data: json.RawMessage(sentinelData)}); err != nil {
		return nil, err
	}
	for _, name := range []string{idTable, filterTable} {
		if _, err := db.Store(name); err != nil {
			return nil, err
		}
	}
	return []string{sentinelTable, idTable, filterTable}, nil
}

// validTable is the documented table-name rule.
func validTable(s string) bool {
	return tableRule.MatchString(s) && !strings.HasPrefix(s, "sqlite_") && !strings.HasPrefix(s, "pg_") && s != "persist_meta" && s != "persist_replaced"
}

// validID is the documented id rule: at most 2048 bytes of valid UTF-8
// without U+0000. The empty id is valid too, but Put generates one for it,
// so the fuzz body addresses it separately.
func validID(s string) bool {
	return len(s) <= 2048 && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// FuzzIdentifiers feeds one string to the real SQLite backend as a table
// name, a record id and a filter key. Each accepted name must work end to
// end, each rejected one must be ErrInvalid, and after every input a
// sentinel table created first must still hold its record and no table may
// appear that was not asked for: a name that escaped its quoting would
// show up as one of those.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range []string{
		"users", "_", "a", "A", "users; DROP TABLE sentinel; --", `a"b`, `sentinel"; DELETE FROM "sentinel`,
		"sqlite_master", "pg_class", "persist_meta", "x-y", "1abc", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"id with space", "é", "\x00", "\u0085", "\xff", "'; --", "$.a", "a.b", "a[0]", `"`, "\\", "max(1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ctx := context.Background()
		db := identDB.get(t)
		checkTableName(ctx, t, db, s)
		checkID(ctx, t, db, s)
		checkFilterKey(ctx, t, db, s)
		checkSentinel(ctx, t, db, s)
		identDB.mu.Lock()
		full := len(identDB.tables) > maxFuzzTables
		identDB.mu.Unlock()
		if full {
			identDB.reset()
		}
	})
}

func checkTableName(ctx context.Context, t *testing.T, db persist.DB, name string) {
	t.Helper()
	st, err := db.Store(name)
	if !validTable(name) {
		if !errors.Is(err, persist.ErrInvalid) {
			t.Fatalf("Store(%q) = %v, want ErrInvalid", name, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Store(%q) = %v, want a store", name, err)
	}
	identDB.mu.Lock()
	identDB.tables[name] = true
	identDB.mu.Unlock()
	data := json.RawMessage(fmt.Sprintf(`{"table":%q}`, name))
	if _, err := st.Put(ctx, persist.Record{ID: "k", Data: data}); err != nil {
		t.Fatalf("Put(%q/k): %v", name, err)
	}
	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	if !slices.Contains(tables, name) {
		t.Fatalf("Tables() = %q, missing %q", tables, name)
	}
	got, err := st.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get(%q/k): %v", name, err)
	}
	mustEqualJSON(t, got.Data, data)
}

func checkID(ctx context.Context, t *testing.T, db persist.DB, id string) {
	t.Helper()
	st := mustStore(t, db, idTable)
	if id == "" { // Put generates an id; the empty id is reached as an address
		if _, err := st.Get(ctx, id); !errors.Is(err, persist.ErrNotFound) {
			t.Fatalf("Get(%q) = %v, want ErrNotFound", id, err)
		}
		return
	}
	data := json.RawMessage(fmt.Sprintf(`{"len":%d}`, len(id)))
	rec, err := st.Put(ctx, persist.Record{ID: id, Data: data})
	if !validID(id) {
		if !errors.Is(err, persist.ErrInvalid) {
			t.Fatalf("Put(ids/%q) = %v, want ErrInvalid", id, err)
		}
		if _, err := st.Get(ctx, id); !errors.Is(err, persist.ErrInvalid) {
			t.Fatalf("Get(ids/%q) = %v, want ErrInvalid", id, err)
		}
		if _, err := st.Delete(ctx, id); !errors.Is(err, persist.ErrInvalid) {
			t.Fatalf("Delete(ids/%q) = %v, want ErrInvalid", id, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Put(ids/%q): %v", id, err)
	}
	if rec.ID != id {
		t.Fatalf("Put(ids/%q) stored ID %q", id, rec.ID)
	}
	got, err := st.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(ids/%q): %v", id, err)
	}
	if got.ID != id {
		t.Fatalf("Get(ids/%q) returned ID %q", id, got.ID)
	}
	mustEqualJSON(t, got.Data, data)
	existed, err := st.Delete(ctx, id)
	if err != nil || !existed {
		t.Fatalf("Delete(ids/%q) = %v, %v; want true, nil", id, existed, err)
	}
}

// filterJSON encodes key as the only key of a filter with value 1, and
// returns the key as a JSON decoder reads it back: invalid UTF-8 becomes
// U+FFFD, one per byte.
func filterJSON(key string) (filter []byte, decoded string) {
	var b, d strings.Builder
	b.WriteString(`{"`)
	for _, r := range key {
		d.WriteRune(r)
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`":1}`)
	return []byte(b.String()), d.String()
}

func checkFilterKey(ctx context.Context, t *testing.T, db persist.DB, key string) {
	t.Helper()
	st := mustStore(t, db, filterTable)
	filter, decoded := filterJSON(key)
	if !filterKeyRule.MatchString(decoded) {
		for rec, err := range st.Query(ctx, filter, nil) {
			if !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("Query(%s) yielded %q, %v; want ErrInvalid", filter, rec.ID, err)
			}
		}
		return
	}
	recs := []persist.Record{
		{ID: "one", Data: json.RawMessage(fmt.Sprintf(`{%q:1}`, decoded))},
		{ID: "one_point_zero", Data: json.RawMessage(fmt.Sprintf(`{%q:1.0}`, decoded))},
		{ID: "ten_e_minus_one", Data: json.RawMessage(fmt.Sprintf(`{%q:10e-1,"not a key":[1]}`, decoded))},
		{ID: "two", Data: json.RawMessage(fmt.Sprintf(`{%q:2}`, decoded))},
		{ID: "string", Data: json.RawMessage(fmt.Sprintf(`{%q:"1"}`, decoded))},
		{ID: "true", Data: json.RawMessage(fmt.Sprintf(`{%q:true}`, decoded))},
		{ID: "fixed", Data: json.RawMessage(`{"a":1,"b":"x"}`)},
		{ID: "other", Data: json.RawMessage(`{"Z":1}`)},
	}
	if err := st.ReplaceAll(ctx, recs); err != nil {
		t.Fatalf("ReplaceAll(filters) for key %q: %v", decoded, err)
	}
	var want []string
	for _, r := range recs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatal(err)
		}
		if v, ok := m[decoded]; ok {
			if eq, err := jsontest.EqualJSON(v, []byte("1")); err == nil && eq {
				want = append(want, r.ID)
			}
		}
	}
	var got []string
	for rec, err := range st.Query(ctx, filter, nil) {
		if err != nil {
			t.Fatalf("Query(%s): %v", filter, err)
		}
		got = append(got, rec.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Query(%s) = %q, want %q", filter, got, want)
	}
}

// checkSentinel fails if the input touched a table it did not name.
func checkSentinel(ctx context.Context, t *testing.T, db persist.DB, input string) {
	t.Helper()
	st := mustStore(t, db, sentinelTable)
	got, err := st.Get(ctx, "s")
	if err != nil {
		t.Fatalf("after input %q: sentinel record: %v", input, err)
	}
	mustEqualJSON(t, got.Data, json.RawMessage(sentinelData))
	if n, err := st.Count(ctx); err != nil || n < 1 {
		t.Fatalf("after input %q: sentinel Count = %d, %v", input, n, err)
	}
	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	identDB.mu.Lock()
	defer identDB.mu.Unlock()
	if !slices.Contains(tables, sentinelTable) {
		t.Fatalf("after input %q: Tables() = %q, sentinel missing", input, tables)
	}
	for _, name := range tables {
		if !identDB.tables[name] {
			t.Fatalf("after input %q: Tables() lists %q, which no input named", input, name)
		}
	}
}

// mustEqualJSON fails unless got and want are the same JSON value.
func mustEqualJSON(t testing.TB, got, want []byte) {
	t.Helper()
	eq, err := jsontest.EqualJSON(got, want)
	if err != nil {
		t.Fatalf("stored data %q does not decode: %v", got, err)
	}
	if !eq {
		t.Fatalf("stored data = %s, want %s", got, want)
	}
}

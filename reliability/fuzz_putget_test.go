package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
)

const (
	docTable   = "docs"
	anchorData = `{"anchor":true}`
)

func setupDocDB(ctx context.Context, db persist.DB) ([]string, error) {
	s, err := db.Store(docTable)
	if err != nil {
		return nil, err
	}
	_, err = s.Put(ctx, persist.Record{ID: "anchor", Data: json.RawMessage(anchorData)})
	return []string{docTable}, err
}

// FuzzPutGet stores arbitrary bytes as a record's data through the real
// SQLite backend. Put must either reject them with ErrInvalid, leaving the
// table as it was, or store them so that Get returns the same JSON value,
// compared by a reference decoder with exact numbers. What is accepted must
// be exactly what the JSON policy (jsonx.ValidateObject) accepts, and never
// more than encoding/json does.
func FuzzPutGet(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"n":12345678901234567890123}`, `{"n":1e400}`, `{"n":-0.0}`,
		`{"n":1E+2,"m":10e-1}`, `{"s":"\u00e9\ud83d\ude00"}`, `{"s":"\u0000"}`, `{"s":"\ud800"}`,
		"{\"s\":\"\xff\"}", `[1,2]`, `"x"`, `null`, `{"a":[{"b":{"c":[null,true,false]}}]}`, `{"a":1} `,
		` {"a":1}`, `{"a":1}{}`, `{"a":}`, `{"":""}`, `{"n":1e131072}`, `{"n":0.` + strings.Repeat("0", 16383) + `1}`,
		strings.Repeat(`{"a":`, 999) + `1` + strings.Repeat(`}`, 999),
		strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000),
		strings.Repeat(`[`, 999) + strings.Repeat(`]`, 999),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		st := mustStore(t, docDB.get(t), docTable)
		policy := jsonx.ValidateObject(data)
		rec, err := st.Put(ctx, persist.Record{ID: "x", Data: json.RawMessage(data)})
		if err != nil {
			if !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("Put(%q) = %v, want nil or ErrInvalid", data, err)
			}
			if policy == nil {
				t.Fatalf("Put(%q) = %v, but the JSON policy accepts it", data, err)
			}
			if n, err := st.Count(ctx); err != nil || n != 1 {
				t.Fatalf("after rejected Put(%q): Count = %d, %v; want 1", data, n, err)
			}
			if _, err := st.Get(ctx, "x"); !errors.Is(err, persist.ErrNotFound) {
				t.Fatalf("after rejected Put(%q): Get = %v, want ErrNotFound", data, err)
			}
			return
		}
		if policy != nil {
			t.Fatalf("Put(%q) stored data the JSON policy rejects: %v", data, policy)
		}
		if !json.Valid(data) {
			t.Fatalf("Put(%q) stored data encoding/json rejects", data)
		}
		mustEqualJSON(t, rec.Data, data)
		got, err := st.Get(ctx, "x")
		if err != nil {
			t.Fatalf("Get after Put(%q): %v", data, err)
		}
		mustEqualJSON(t, got.Data, data)
		if existed, err := st.Delete(ctx, "x"); err != nil || !existed {
			t.Fatalf("Delete(x) = %v, %v; want true, nil", existed, err)
		}
	})
}

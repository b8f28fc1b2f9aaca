package check_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

func TestEnterOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := check.Enter(ctx, true, "get", "t", "a"); !errors.Is(err, persist.ErrClosed) {
		t.Errorf("closed and cancelled: err=%v, want ErrClosed", err)
	}
	if err := check.Enter(ctx, false, "get", "t", "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err=%v, want context.Canceled", err)
	}
	if err := check.Enter(context.Background(), false, "get", "t", "a"); err != nil {
		t.Errorf("open: err=%v, want nil", err)
	}
}

func TestNew(t *testing.T) {
	tb := check.Table{Name: "t", Compact: true}
	rec, err := tb.New("put", persist.Record{Data: json.RawMessage(`{ "a" : 1, "a": 2 }`)})
	if err != nil || rec.ID == "" || string(rec.Data) != `{"a":2}` {
		t.Errorf("New=%+v, %v; want a generated id and compact data", rec, err)
	}
	// A refused record names only what the caller gave: no id is
	// generated for it.
	_, err = tb.New("put", persist.Record{Data: json.RawMessage(`[]`)})
	var pe *persist.Error
	if !errors.As(err, &pe) || !errors.Is(err, persist.ErrInvalid) || pe.ID != "" {
		t.Errorf("New(bad data)=%v, want ErrInvalid naming no id", err)
	}
	// id, then revision, then data.
	_, err = tb.New("put", persist.Record{ID: "a\x00", Revision: -1, Data: json.RawMessage(`[]`)})
	if err == nil || !strings.Contains(err.Error(), "U+0000") {
		t.Errorf("New(bad everything)=%v, want the id named first", err)
	}
	_, err = tb.New("put", persist.Record{ID: "a", Revision: -1, Data: json.RawMessage(`[]`)})
	if err == nil || !strings.Contains(err.Error(), "revision -1 is negative") {
		t.Errorf("New(bad revision and data)=%v, want the revision named first", err)
	}
}

func TestRecords(t *testing.T) {
	tb := check.Table{Name: "t"}
	in := []persist.Record{{Data: json.RawMessage(`{}`)}, {ID: "b", Data: json.RawMessage(`{}`)}}
	out, err := tb.Records("put_many", in, check.Unique)
	if err != nil || len(out) != 2 || out[0].ID == "" || in[0].ID != "" {
		t.Errorf("Records=%+v, %v; want a generated id in a copy", out, err)
	}
	_, err = tb.Records("put_many", []persist.Record{{ID: "b", Data: json.RawMessage(`{}`)}, {ID: "b", Data: json.RawMessage(`{}`)}}, check.Unique)
	if !errors.Is(err, persist.ErrInvalid) || !strings.Contains(err.Error(), "record 1:") {
		t.Errorf("Records(duplicate)=%v, want ErrInvalid naming record 1", err)
	}
	if _, err := tb.Records("insert_many", []persist.Record{{ID: "b", Data: json.RawMessage(`{}`)}, {ID: "b", Data: json.RawMessage(`{}`)}}, check.Keep); err != nil {
		t.Errorf("Records(duplicate, Keep)=%v, want nil", err)
	}
	// InsertMany keeps the empty id, which the earlier portal's writers
	// may have stored, rather than generating one.
	if got, err := tb.Records("insert_many", []persist.Record{{Data: json.RawMessage(`{}`)}}, check.Keep); err != nil || got[0].ID != "" {
		t.Errorf("Records(empty id, Keep)=%v, %v; want the empty id kept", got, err)
	}
	if _, err := tb.Records("insert_many", []persist.Record{{ID: "a\x00", Data: json.RawMessage(`{}`)}}, check.Keep); !errors.Is(err, persist.ErrInvalid) {
		t.Errorf("Records(NUL in id, Keep)=%v, want ErrInvalid", err)
	}
}

func TestList(t *testing.T) {
	tb := check.Table{Name: "t"}
	if o, err := tb.List("list", nil); err != nil || o != (persist.ListOptions{}) {
		t.Errorf("List(nil)=%+v, %v; want zero, nil", o, err)
	}
	ok := &persist.ListOptions{Limit: 5, After: "a", Order: persist.ByID}
	if o, err := tb.List("list", ok); err != nil || o != *ok {
		t.Errorf("List(%+v)=%+v, %v; want it back", *ok, o, err)
	}
	for _, bad := range []persist.ListOptions{{Limit: -1}, {Order: 7}, {After: "a\x00b"}, {After: strings.Repeat("x", 10<<10)}} {
		if _, err := tb.List("list", &bad); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("List(%+v)=%v, want ErrInvalid", bad, err)
		}
	}
}

func TestFilter(t *testing.T) {
	tb := check.Table{Name: "t"}
	fields, err := tb.Filter("query", json.RawMessage(`{"b":1,"a":"x"}`))
	if err != nil || len(fields) != 2 || fields[0].Key != "a" || fields[1].Key != "b" {
		t.Errorf("Filter=%+v, %v; want a then b", fields, err)
	}
	for _, bad := range []string{`[]`, `{"a":[1]}`, `{"a.b":1}`, `{"x\"; DROP TABLE y; --":1}`, `{`, ``} {
		if _, err := tb.Filter("query", json.RawMessage(bad)); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("Filter(%s)=%v, want ErrInvalid", bad, err)
		}
	}
}

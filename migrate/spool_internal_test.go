package migrate

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
)

func TestSpool_MergesRunsInIDOrderLastReadWins(t *testing.T) {
	ctx := context.Background()
	sp := startSpool(10)
	if sp == nil {
		t.Skip("no temporary directory")
	}
	defer sp.close()
	// 95 ids in a scrambled order over 10 runs, then ids 3 and 50 again
	// with new data, as a record moved by a concurrent delete and insert
	// would be read twice; and one document that cannot be canonicalised.
	var recs []persist.Record
	for i := range 95 {
		id := fmt.Sprintf("id%03d", (i*37)%95)
		recs = append(recs, persist.Record{ID: id, Data: fmt.Appendf(nil, `{"i":%d}`, i)})
	}
	recs = append(recs,
		persist.Record{ID: "id003", Data: []byte(`{"again":3}`)},
		persist.Record{ID: "id050", Data: []byte(`{"again":50}`)},
		persist.Record{ID: "id200", Data: []byte(`{"bad":`)})
	for b := range slices.Chunk(recs, 7) {
		if !sp.add(ctx, b) {
			t.Fatal("add failed")
		}
	}
	sp.finish()
	if len(sp.runs) != 10 || sp.err != nil {
		t.Fatalf("%d runs, err %v; want 10 runs", len(sp.runs), sp.err)
	}
	var got []entry
	if err := sp.producer()(ctx, func(e entry) bool { got = append(got, e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 96 {
		t.Fatalf("%d entries, want 96", len(got))
	}
	for i, e := range got[:95] {
		if want := fmt.Sprintf("id%03d", i); e.id != want {
			t.Fatalf("entry %d: id=%s, want %s", i, e.id, want)
		}
	}
	for _, c := range []struct {
		i   int
		doc string
	}{{3, `{"again":3}`}, {50, `{"again":50}`}, {7, fmt.Sprintf(`{"i":%d}`, slices.IndexFunc(recs, func(r persist.Record) bool { return r.ID == "id007" }))}} {
		want, _ := jsonx.Digest([]byte(c.doc))
		if got[c.i].sum != want || got[c.i].bad != nil {
			t.Errorf("id%03d: digest of another document, want that of %s", c.i, c.doc)
		}
	}
	if last := got[95]; last.id != "id200" || last.bad == nil {
		t.Errorf("last entry = %s, bad %v; want id200 with its canonicalisation error", last.id, last.bad)
	}
}

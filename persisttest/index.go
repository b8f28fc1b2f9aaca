package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/query"
)

// runIndex is the index the portal's "newest failed runs of a pipeline"
// needs.
var runIndex = persist.Index{Name: "by_pipeline", Fields: []persist.Sort{
	{Path: "pipeline"}, {Path: "status"}, {Path: "started", Dir: persist.Desc},
}}

// seedRuns writes n pipeline runs: 50 pipelines, a quarter failed.
func seedRuns(tb testing.TB, s persist.Store, n int) *model {
	tb.Helper()
	m := &model{docs: map[string]query.Doc{}}
	statuses := []string{"ok", "failed", "running", "ok"}
	var recs []persist.Record
	for i := range n {
		id := fmt.Sprintf("run%05d", i)
		data := fmt.Sprintf(`{"pipeline":"p%d","status":%q,"started":%d,"config":{"format":"f%d"}}`,
			i%50, statuses[(i/50)%4], 1_700_000_000+i*7%n, i%3)
		recs = append(recs, persist.Record{ID: id, Data: json.RawMessage(data)})
		m.put(id, data)
	}
	if _, err := s.InsertMany(tb.Context(), recs); err != nil {
		tb.Fatalf("InsertMany: %v", err)
	}
	return m
}

func testIndexer(t *testing.T, open openFunc) {
	db, s := openStore(t, open, "runs")
	x, ok := s.(persist.Indexer)
	if !ok {
		t.Skipf("%T does not implement persist.Indexer", s)
	}
	m := seedRuns(t, s, 3000)
	hot := persist.Where("pipeline", "==", "p7").Where("status", "==", "failed").
		OrderBy("started", persist.Desc).Limit(20)
	queries := []persist.Query{
		hot,
		hot.Limit(0),
		persist.Where("pipeline", "==", "p7").OrderBy("status", persist.Asc).OrderBy("started", persist.Desc),
		persist.Where("pipeline", "in", []string{"p1", "p2"}).Where("started", ">=", 1_700_001_000),
		persist.Where("pipeline", ">", "p45").OrderBy("pipeline", persist.Desc),
		persist.Where("config.format", "==", "f1").OrderBy("started", persist.Asc).Limit(5),
		persist.OrderBy(persist.Inserted, persist.Desc).Limit(3),
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, q := range queries {
			want := m.eval(t, q)
			got := idsOf(mustList(t, s.Find(t.Context(), q)))
			if !slices.Equal(got, want) {
				t.Fatalf("Find(%s)\n got %q\nwant %q", describeQuery(q), got, want)
			}
		}
	}

	t.Run("Scan", func(t *testing.T) {
		p, err := x.Explain(t.Context(), hot)
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if p.Indexed {
			t.Errorf("Explain before any index: Indexed, plan:\n%s", p.Detail)
		}
		check(t)
	})

	t.Run("Indexed", func(t *testing.T) {
		if err := x.EnsureIndex(t.Context(), runIndex); err != nil {
			t.Fatalf("EnsureIndex: %v", err)
		}
		if err := x.EnsureIndex(t.Context(), runIndex); err != nil {
			t.Fatalf("EnsureIndex again: %v", err)
		}
		for _, q := range []persist.Query{hot, persist.Where("pipeline", "==", "p7").Where("status", "==", "failed").
			OrderBy("started", persist.Asc).Limit(20)} {
			p, err := x.Explain(t.Context(), q)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if !p.Indexed || !strings.Contains(p.Index, "by_pipeline") {
				t.Errorf("Explain(%s) = Indexed %v, Index %q; want indexed by by_pipeline; plan:\n%s", describeQuery(q), p.Indexed, p.Index, p.Detail)
			}
		}
		p, err := x.Explain(t.Context(), persist.Where("config.format", "==", "f1").OrderBy("started", persist.Asc).Limit(5))
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if p.Indexed {
			t.Errorf("Explain of a query no index serves: Indexed, plan:\n%s", p.Detail)
		}
		check(t)
		got, err := persist.Explain(t.Context(), s, hot)
		if err != nil || !got.Indexed {
			t.Errorf("persist.Explain = %+v, %v; want Indexed", got, err)
		}
	})

	t.Run("WhileWriting", func(t *testing.T) {
		s := mustStore(t, db, "busy")
		x := s.(persist.Indexer)
		seedRuns(t, s, 3000)
		var wrote atomic.Int64
		var failed atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					data := fmt.Sprintf(`{"pipeline":"pw","status":"failed","started":%d}`, i)
					if _, err := s.Put(context.Background(), persist.Record{ID: fmt.Sprintf("w%d-%d", w, i), Data: json.RawMessage(data)}); err != nil {
						failed.Store(err)
						return
					}
					wrote.Add(1)
				}
			}()
		}
		idx := persist.Index{Name: "by_status", Fields: []persist.Sort{{Path: "status"}, {Path: "started"}}}
		err := x.EnsureIndex(t.Context(), idx)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("EnsureIndex while writing: %v", err)
		}
		if err, _ := failed.Load().(error); err != nil {
			t.Fatalf("a write during EnsureIndex failed: %v", err)
		}
		n, err := s.CountWhere(t.Context(), persist.Where("pipeline", "==", "pw"))
		if err != nil {
			t.Fatal(err)
		}
		if n != wrote.Load() {
			t.Errorf("CountWhere(pipeline == pw) = %d, want the %d records written", n, wrote.Load())
		}
		got := mustList(t, s.Find(t.Context(), persist.Where("status", "==", "failed").Where("started", ">=", 0).Where("pipeline", "==", "pw")))
		if int64(len(got)) != wrote.Load() {
			t.Errorf("Find through the new index = %d records, want %d", len(got), wrote.Load())
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		long := strings.Repeat("i", query.MaxIndexName)
		f := []persist.Sort{{Path: "a"}}
		nine := make([]persist.Sort, query.MaxSorts+1)
		for i := range nine {
			nine[i] = persist.Sort{Path: fmt.Sprintf("f%d", i)}
		}
		for _, tt := range []struct {
			name string
			idx  persist.Index
			ok   bool
		}{
			{"Name31", persist.Index{Name: long, Fields: f}, true},
			{"Name32", persist.Index{Name: long + "i", Fields: f}, false},
			{"Fields8", persist.Index{Name: "eight", Fields: nine[:query.MaxSorts]}, true},
			{"Fields9", persist.Index{Name: "nine", Fields: nine}, false},
			{"NoFields", persist.Index{Name: "none"}, false},
			{"EmptyName", persist.Index{Fields: f}, false},
			{"UpperName", persist.Index{Name: "Ix", Fields: f}, false},
			{"InjectionName", persist.Index{Name: `x"; DROP TABLE runs; --`, Fields: f}, false},
			{"Inserted", persist.Index{Name: "ins", Fields: []persist.Sort{{Path: persist.Inserted}}}, false},
			{"BadPath", persist.Index{Name: "bad", Fields: []persist.Sort{{Path: "a..b"}}}, false},
			{"BadDirection", persist.Index{Name: "dir", Fields: []persist.Sort{{Path: "a", Dir: 3}}}, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				err := x.EnsureIndex(t.Context(), tt.idx)
				if tt.ok {
					if err != nil {
						t.Fatalf("EnsureIndex: %v", err)
					}
					return
				}
				wantErr(t, err, persist.ErrInvalid)
			})
		}
		// The longest table name with the longest index name.
		longTable := mustStore(t, db, strings.Repeat("t", 63))
		if err := persist.EnsureIndex(t.Context(), longTable, persist.Index{Name: long, Fields: f}); err != nil {
			t.Errorf("EnsureIndex on a 63-byte table name: %v", err)
		}
		if err := persist.EnsureIndex(t.Context(), longTable, persist.Index{Name: long[1:] + "j", Fields: f}); err != nil {
			t.Errorf("EnsureIndex of a second long name: %v", err)
		}
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			ts, err := tx.Store("runs")
			if err != nil {
				return err
			}
			return ts.(persist.Indexer).EnsureIndex(t.Context(), persist.Index{Name: "in_tx", Fields: f})
		})
		wantErr(t, err, persist.ErrInvalid)
		_, err = x.Explain(t.Context(), persist.Where("a", "=", 1))
		wantErr(t, err, persist.ErrInvalid)
		check(t)
	})

	t.Run("ErrClosed", func(t *testing.T) {
		db.Close()
		err := x.EnsureIndex(t.Context(), runIndex)
		if !errors.Is(err, persist.ErrClosed) {
			t.Errorf("EnsureIndex after Close: %v, want ErrClosed", err)
		}
		_, err = x.Explain(t.Context(), hot)
		if !errors.Is(err, persist.ErrClosed) {
			t.Errorf("Explain after Close: %v, want ErrClosed", err)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every server,
// tick loop, event stream and database must be stopped by its owner.
// Run with envReplica set, the test binary is a portal process instead.
func TestMain(m *testing.M) {
	if os.Getenv(envReplica) == "1" {
		os.Exit(run(strings.Split(os.Getenv(envReplicaArgs), "\n"), os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// backend opens a fresh, empty database for one test; t.Cleanup closes it.
type backend func(tb testing.TB) persist.DB

// backends returns SQLite always, and PostgreSQL when PERSIST_TEST_POSTGRES
// names a database.
func backends(tb testing.TB) map[string]backend {
	tb.Helper()
	m := map[string]backend{"sqlite": openSQLite}
	if pg := postgresBackend(tb); pg != nil {
		m["postgres"] = pg
	}
	return m
}

func openSQLite(tb testing.TB) persist.DB {
	tb.Helper()
	url := "sqlite:///" + filepath.Join(tb.TempDir(), "portal.db")
	db, err := persist.Open(context.Background(), url, dbOptions(discard))
	if err != nil {
		tb.Fatalf("open %s: %v", url, err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

var discard = slog.New(slog.DiscardHandler)

// testPortal is a server over db with seeded stores, behind httptest.
type testPortal struct {
	db  persist.DB
	srv *server
	ts  *httptest.Server
}

func newTestPortal(tb testing.TB, db persist.DB) *testPortal {
	tb.Helper()
	events := newBroadcaster()
	srv, err := newServer(context.Background(), db, events, discard, 4096)
	if err != nil {
		tb.Fatalf("newServer: %v", err)
	}
	if _, err := seed(context.Background(), srv.stores); err != nil {
		tb.Fatalf("seed: %v", err)
	}
	ctx, stopTicks := context.WithCancel(context.Background())
	ticksDone := make(chan struct{})
	go func() {
		defer close(ticksDone)
		events.runTicks(ctx, 20*time.Millisecond)
	}()
	ts := httptest.NewServer(srv.handler())
	tb.Cleanup(func() {
		events.close()
		ts.Close()
		stopTicks()
		<-ticksDone
	})
	return &testPortal{db: db, srv: srv, ts: ts}
}

// response is an answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (p *testPortal) do(tb testing.TB, method, path, body string, header ...string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.ts.URL+path, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (r response) record(tb testing.TB) recordJSON {
	tb.Helper()
	var rec recordJSON
	if err := json.Unmarshal(r.body, &rec); err != nil {
		tb.Fatalf("decode record %s: %v", r.body, err)
	}
	return rec
}

func (r response) list(tb testing.TB) listJSON {
	tb.Helper()
	var l listJSON
	if err := json.Unmarshal(r.body, &l); err != nil {
		tb.Fatalf("decode list %s: %v", r.body, err)
	}
	return l
}

// errorText returns the "error" of a JSON error body, failing the test if
// the body is not one.
func (r response) errorText(tb testing.TB) string {
	tb.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		tb.Fatalf("body %q is not a JSON error", r.body)
	}
	return e.Error
}

func wantStatus(tb testing.TB, r response, want int) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status=%v, want %v; body %s", r.status, want, r.body)
	}
}

func ids(l listJSON) []string {
	out := make([]string, len(l.Items))
	for i, it := range l.Items {
		out[i] = it.ID
	}
	return out
}

func TestAPI(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			p := newTestPortal(t, open(t))

			t.Run("Created", func(t *testing.T) {
				r := p.do(t, "POST", "/api/v1/pipelines", `{"data":{"name":"x","n":12345678901234567890}}`)
				wantStatus(t, r, http.StatusCreated)
				rec := r.record(t)
				if rec.ID == "" || rec.Revision != 1 || rec.Created.IsZero() {
					t.Fatalf("record=%+v, want generated id, revision 1, created set", rec)
				}
				if got, want := r.header.Get("Location"), "/api/v1/pipelines/"+rec.ID; got != want {
					t.Errorf("Location=%v, want %v", got, want)
				}
				if got := string(rec.Data); !strings.Contains(got, "12345678901234567890") {
					t.Errorf("data=%s, want the number kept exactly", got)
				}
				r = p.do(t, "POST", "/api/v1/pipelines", `{"id":"pl-new","data":{"name":"y"}}`)
				wantStatus(t, r, http.StatusCreated)
				if got := r.record(t).ID; got != "pl-new" {
					t.Errorf("ID=%v, want pl-new", got)
				}
				// The earlier portal reads the id from data["id"].
				var doc struct{ ID string }
				if err := json.Unmarshal(r.record(t).Data, &doc); err != nil || doc.ID != "pl-new" {
					t.Errorf("data=%s, want the id in data.id", r.record(t).Data)
				}
				r = p.do(t, "POST", "/api/v1/pipelines", `{"id":"pl-other","data":{"id":"pl-new"}}`)
				wantStatus(t, r, http.StatusBadRequest)
			})

			t.Run("OK", func(t *testing.T) {
				r := p.do(t, "GET", "/api/v1/sources/src-lake", "")
				wantStatus(t, r, http.StatusOK)
				rec := r.record(t)
				if rec.ID != "src-lake" || rec.Revision != 1 {
					t.Fatalf("record=%+v, want src-lake at revision 1", rec)
				}
				if got := r.header.Get("ETag"); got != `"1"` {
					t.Errorf("ETag=%v, want %v", got, `"1"`)
				}
			})

			t.Run("PutWithMatchingRevision", func(t *testing.T) {
				r := p.do(t, "PUT", "/api/v1/sources/src-events", `{"data":{"name":"events","enabled":false}}`, "If-Match", `"1"`)
				wantStatus(t, r, http.StatusOK)
				if rec := r.record(t); rec.Revision != 2 {
					t.Errorf("Revision=%v, want 2", rec.Revision)
				}
			})

			t.Run("PutCreates", func(t *testing.T) {
				r := p.do(t, "PUT", "/api/v1/sources/src-new", `{"data":{"name":"new"}}`)
				wantStatus(t, r, http.StatusCreated)
			})

			t.Run("PatchMerges", func(t *testing.T) {
				r := p.do(t, "PATCH", "/api/v1/marketplace_products/mp-churn", `{"data":{"published":true}}`)
				wantStatus(t, r, http.StatusOK)
				var data map[string]any
				if err := json.Unmarshal(r.record(t).Data, &data); err != nil {
					t.Fatal(err)
				}
				if data["published"] != true || data["owner"] != "data-science" {
					t.Errorf("data=%v, want published=true and owner kept", data)
				}
			})

			t.Run("NoContent", func(t *testing.T) {
				wantStatus(t, p.do(t, "DELETE", "/api/v1/access_requests/ar-0001", ""), http.StatusNoContent)
				wantStatus(t, p.do(t, "DELETE", "/api/v1/access_requests/ar-0001", ""), http.StatusNotFound)
			})

			t.Run("ErrNotFound", func(t *testing.T) {
				for _, c := range []struct{ method, path, body string }{
					{"GET", "/api/v1/sources/missing", ""},
					{"PATCH", "/api/v1/sources/missing", `{"data":{"a":1}}`},
					{"DELETE", "/api/v1/sources/missing", ""},
					{"GET", "/api/v1/no_such_collection", ""},
				} {
					r := p.do(t, c.method, c.path, c.body)
					wantStatus(t, r, http.StatusNotFound)
					r.errorText(t)
				}
			})

			t.Run("ErrConflict", func(t *testing.T) {
				r := p.do(t, "POST", "/api/v1/sources", `{"id":"src-lake","data":{"name":"dup"}}`)
				wantStatus(t, r, http.StatusConflict)
				r.errorText(t)
				r = p.do(t, "PUT", "/api/v1/sources/src-warehouse", `{"data":{"name":"w"}}`, "If-Match", `"7"`)
				wantStatus(t, r, http.StatusConflict)
				r = p.do(t, "PATCH", "/api/v1/sources/src-warehouse", `{"data":{"name":"w"}}`, "If-Match", "7")
				wantStatus(t, r, http.StatusConflict)
			})

			t.Run("ErrInvalid", func(t *testing.T) {
				for _, c := range []struct{ name, method, path, body, ifMatch string }{
					{"BadJSON", "POST", "/api/v1/sources", `{"data":`, ""},
					{"EmptyBody", "POST", "/api/v1/sources", ``, ""},
					{"UnknownField", "POST", "/api/v1/sources", `{"data":{},"extra":1}`, ""},
					{"TrailingData", "POST", "/api/v1/sources", `{"data":{}} {}`, ""},
					{"NoData", "POST", "/api/v1/sources", `{"id":"x"}`, ""},
					{"EmptyID", "POST", "/api/v1/sources", `{"id":"","data":{}}`, ""},
					{"DataNotObject", "POST", "/api/v1/sources", `{"data":[1,2]}`, ""},
					{"DataNull", "PUT", "/api/v1/sources/x", `{"data":null}`, ""},
					{"NULInString", "POST", "/api/v1/sources", `{"data":{"s":"a\u0000b"}}`, ""},
					{"IDMismatch", "PUT", "/api/v1/sources/x", `{"id":"y","data":{}}`, ""},
					{"BadIfMatch", "PUT", "/api/v1/sources/x", `{"data":{}}`, "*"},
					{"BadLimit", "GET", "/api/v1/sources?limit=0", "", ""},
					{"BadFilterJSON", "GET", "/api/v1/sources?filter=%7Bx", "", ""},
					{"FilterNotScalar", "GET", "/api/v1/sources?filter=%7B%22a%22%3A%5B1%5D%7D", "", ""},
					{"BadFilterKey", "GET", "/api/v1/sources?a.b=1", "", ""},
					{"FilterAndFields", "GET", "/api/v1/sources?filter=%7B%7D&a=1", "", ""},
					{"RepeatedField", "GET", "/api/v1/sources?a=1&a=2", "", ""},
					{"AfterMissing", "GET", "/api/v1/sources?after=nope", "", ""},
				} {
					t.Run(c.name, func(t *testing.T) {
						var hdr []string
						if c.ifMatch != "" {
							hdr = []string{"If-Match", c.ifMatch}
						}
						r := p.do(t, c.method, c.path, c.body, hdr...)
						wantStatus(t, r, http.StatusBadRequest)
						r.errorText(t)
					})
				}
			})

			t.Run("BodyTooLarge", func(t *testing.T) {
				big := `{"data":{"s":"` + strings.Repeat("x", 5000) + `"}}`
				r := p.do(t, "POST", "/api/v1/sources", big)
				wantStatus(t, r, http.StatusRequestEntityTooLarge)
				r.errorText(t)
			})

			t.Run("MethodNotAllowed", func(t *testing.T) {
				r := p.do(t, "DELETE", "/api/v1/sources", "")
				wantStatus(t, r, http.StatusMethodNotAllowed)
				if got := r.header.Get("Allow"); !strings.Contains(got, "POST") {
					t.Errorf("Allow=%v, want it to list POST", got)
				}
				r.errorText(t)
			})
		})
	}
}

func TestList(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			p := newTestPortal(t, open(t))
			for i := range 5 {
				body := fmt.Sprintf(`{"id":"run-x%d","data":{"pipeline":"pl-x","n":%d,"ok":%t}}`, i, i, i%2 == 0)
				wantStatus(t, p.do(t, "POST", "/api/v1/pipeline_runs", body), http.StatusCreated)
			}

			t.Run("PagesInInsertionOrder", func(t *testing.T) {
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatalf("more than 10 pages")
					}
					r := p.do(t, "GET", "/api/v1/pipeline_runs?limit=3&after="+after, "")
					wantStatus(t, r, http.StatusOK)
					l := r.list(t)
					got = append(got, ids(l)...)
					if l.Next == "" {
						break
					}
					after = l.Next
				}
				want := "run-0001 run-0002 run-x0 run-x1 run-x2 run-x3 run-x4"
				if strings.Join(got, " ") != want {
					t.Errorf("ids=%v, want %v", got, want)
				}
			})

			t.Run("FieldFilterIsTyped", func(t *testing.T) {
				l := p.do(t, "GET", "/api/v1/pipeline_runs?ok=true", "").list(t)
				if got := strings.Join(ids(l), " "); got != "run-x0 run-x2 run-x4" {
					t.Errorf("ids=%v, want run-x0 run-x2 run-x4", got)
				}
				l = p.do(t, "GET", "/api/v1/pipeline_runs?n=3.0&pipeline=pl-x", "").list(t)
				if got := strings.Join(ids(l), " "); got != "run-x3" {
					t.Errorf("ids=%v, want run-x3", got)
				}
				l = p.do(t, "GET", "/api/v1/pipeline_runs?status=failed", "").list(t)
				if got := strings.Join(ids(l), " "); got != "run-0002" {
					t.Errorf("ids=%v, want run-0002", got)
				}
			})

			t.Run("FilterParam", func(t *testing.T) {
				l := p.do(t, "GET", `/api/v1/pipeline_runs?filter=`+urlQuery(`{"ok":"true"}`), "").list(t)
				if len(l.Items) != 0 {
					t.Errorf("ids=%v, want none: the string \"true\" is not the boolean", ids(l))
				}
				l = p.do(t, "GET", `/api/v1/pipeline_runs?limit=1&filter=`+urlQuery(`{"ok":false}`), "").list(t)
				if got := strings.Join(ids(l), " "); got != "run-x1" || l.Next != "run-x1" {
					t.Errorf("ids=%v next=%v, want run-x1 and next run-x1", got, l.Next)
				}
			})

			t.Run("EmptyItemsNotNull", func(t *testing.T) {
				r := p.do(t, "GET", "/api/v1/pipeline_runs?n=99", "")
				if !bytes.Contains(r.body, []byte(`"items":[]`)) {
					t.Errorf("body=%s, want an empty items array", r.body)
				}
			})
		})
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("{", "%7B", "}", "%7D", `"`, "%22", ":", "%3A").Replace(s)
}

func TestUnavailable(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			p := newTestPortal(t, db)
			if err := db.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			for _, c := range []struct{ method, path, body string }{
				{"GET", "/api/v1/sources/src-lake", ""},
				{"GET", "/api/v1/sources", ""},
				{"POST", "/api/v1/sources", `{"data":{}}`},
			} {
				r := p.do(t, c.method, c.path, c.body)
				wantStatus(t, r, http.StatusServiceUnavailable)
				r.errorText(t)
			}
		})
	}
}

// TestErrorBodies checks the answers for errors no real database produces
// on demand: a connection error and an unknown one must not echo their
// text, which can hold hosts and driver detail.
func TestErrorBodies(t *testing.T) {
	s := &server{log: discard}
	for _, c := range []struct {
		name   string
		err    error
		status int
	}{
		{"ConnErrorIsServiceUnavailable", &persist.ConnError{Op: "get", URL: "postgres://u:xxxxx@db.internal/x", Err: errors.New("dial tcp 10.0.0.7:5432: refused")}, http.StatusServiceUnavailable},
		{"UnknownIsInternal", errors.New("pq: password=hunter2 host db.internal"), http.StatusInternalServerError},
		{"DeadlineIsServiceUnavailable", fmt.Errorf("get: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.writeError(w, httptest.NewRequest("GET", "/api/v1/sources", nil), c.err)
			if w.Code != c.status {
				t.Errorf("status=%v, want %v", w.Code, c.status)
			}
			body := w.Body.String()
			for _, secret := range []string{"hunter2", "db.internal", "10.0.0.7"} {
				if strings.Contains(body, secret) {
					t.Errorf("body %q leaks %q", body, secret)
				}
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Errorf("body %q is not JSON", body)
			}
		})
	}
}

// TestEvents: the stream carries ticks and a change, with its feed cursor
// as the SSE id, for every write to the collections, through the API or
// not; a client that reconnects with Last-Event-ID receives exactly what
// it missed, and one whose Last-Event-ID the feed refuses is told to
// reload with a reset event and then follows from the present.
func TestEvents(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			p := newTestPortal(t, open(t))
			url := p.ts.URL + "/api/v1/events"
			const wait = 20 * time.Second
			s := openStream(t, p.ts.Client(), url, "")
			defer s.close()
			opened := s.next(t, "", wait)
			if opened.id == "" {
				t.Fatalf("opening message has no id: a client could not resume before its first change")
			}

			t.Run("Tick", func(t *testing.T) {
				var tick tickJSON
				if err := json.Unmarshal([]byte(s.next(t, "tick", wait).data), &tick); err != nil || tick.Seq < 1 {
					t.Errorf("tick=%+v (err %v), want seq >= 1", tick, err)
				}
			})

			var last string // id of the last change this client handled
			expect := func(t *testing.T, s *sseStream, want changeJSON) {
				t.Helper()
				ev := s.next(t, "change", wait)
				if got := ev.change(t); got != want {
					t.Fatalf("change=%+v, want %+v", got, want)
				}
				if ev.id == "" || ev.id == last {
					t.Fatalf("change id %q: want a new cursor", ev.id)
				}
				last = ev.id
			}
			t.Run("Writes", func(t *testing.T) {
				wantStatus(t, p.do(t, "POST", "/api/v1/sources", `{"id":"src-sse","data":{"name":"sse"}}`), http.StatusCreated)
				expect(t, s, changeJSON{Collection: "sources", ID: "src-sse", Op: "insert", Revision: 1})
				wantStatus(t, p.do(t, "PUT", "/api/v1/sources/src-sse", `{"data":{"name":"sse2"}}`), http.StatusOK)
				expect(t, s, changeJSON{Collection: "sources", ID: "src-sse", Op: "update", Revision: 2})
				wantStatus(t, p.do(t, "PATCH", "/api/v1/sources/src-sse", `{"data":{"x":1}}`), http.StatusOK)
				expect(t, s, changeJSON{Collection: "sources", ID: "src-sse", Op: "update", Revision: 3})
				wantStatus(t, p.do(t, "DELETE", "/api/v1/sources/src-sse", ""), http.StatusNoContent)
				expect(t, s, changeJSON{Collection: "sources", ID: "src-sse", Op: "delete", Revision: 3})
			})
			t.Run("WriteNotThroughTheAPI", func(t *testing.T) {
				// Another replica, or the earlier portal, writes to the table.
				if _, err := p.srv.stores["pipelines"].Put(context.Background(), persist.Record{ID: "pl-other", Data: json.RawMessage(`{"id":"pl-other"}`)}); err != nil {
					t.Fatal(err)
				}
				expect(t, s, changeJSON{Collection: "pipelines", ID: "pl-other", Op: "insert", Revision: 1})
			})
			t.Run("ResumeWithLastEventID", func(t *testing.T) {
				s.close()
				for i := range 3 {
					wantStatus(t, p.do(t, "POST", "/api/v1/sources", fmt.Sprintf(`{"id":"src-away-%d","data":{}}`, i)), http.StatusCreated)
				}
				s = openStream(t, p.ts.Client(), url, last)
				for i := range 3 {
					expect(t, s, changeJSON{Collection: "sources", ID: fmt.Sprintf("src-away-%d", i), Op: "insert", Revision: 1})
				}
				wantStatus(t, p.do(t, "POST", "/api/v1/sources", `{"id":"src-back","data":{}}`), http.StatusCreated)
				expect(t, s, changeJSON{Collection: "sources", ID: "src-back", Op: "insert", Revision: 1})
			})
			t.Run("ResumeBeforeAnyChange", func(t *testing.T) {
				fresh := openStream(t, p.ts.Client(), url, "")
				id := fresh.next(t, "", wait).id
				fresh.close()
				wantStatus(t, p.do(t, "POST", "/api/v1/sources", `{"id":"src-meanwhile","data":{}}`), http.StatusCreated)
				fresh = openStream(t, p.ts.Client(), url, id)
				defer fresh.close()
				if got, want := fresh.next(t, "change", wait).change(t), (changeJSON{Collection: "sources", ID: "src-meanwhile", Op: "insert", Revision: 1}); got != want {
					t.Errorf("change=%+v, want %+v", got, want)
				}
			})
			t.Run("ResetOnForeignID", func(t *testing.T) {
				bad := openStream(t, p.ts.Client(), url, "not-a-cursor")
				defer bad.close()
				reset := bad.next(t, "reset", wait)
				if reset.id == "" || !strings.Contains(reset.data, "reason") {
					t.Fatalf("reset=%+v, want a fresh id and a reason", reset)
				}
				wantStatus(t, p.do(t, "POST", "/api/v1/sources", `{"id":"src-after-reset","data":{}}`), http.StatusCreated)
				if got, want := bad.next(t, "change", wait).change(t), (changeJSON{Collection: "sources", ID: "src-after-reset", Op: "insert", Revision: 1}); got != want {
					t.Errorf("change=%+v, want %+v", got, want)
				}
			})
			s.close()
		})
	}
}

// TestBroadcasterSlowClient checks that a client that never reads costs
// the tick loop nothing: it holds only the latest tick.
func TestBroadcasterSlowClient(t *testing.T) {
	b := newBroadcaster()
	sub, ok := b.subscribe()
	if !ok {
		t.Fatal("subscribe failed")
	}
	b.publishTick(event{name: "tick", data: []byte(`1`)}) // must not block
	b.publishTick(event{name: "tick", data: []byte(`2`)})
	if ev := <-sub.ticks; string(ev.data) != "2" {
		t.Errorf("tick=%s, want the latest, 2", ev.data)
	}
	b.close()
	if _, ok := b.subscribe(); ok {
		t.Errorf("subscribe after close succeeded")
	}
}

func TestSeed(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			srv, err := newServer(context.Background(), db, newBroadcaster(), discard, 1024)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, recs := range demoRecords {
				want += len(recs)
			}
			for run, wantInserted := range []int{want, 0} {
				res, err := seed(context.Background(), srv.stores)
				if err != nil {
					t.Fatalf("seed run %d: %v", run+1, err)
				}
				inserted, skipped := 0, 0
				for _, r := range res {
					inserted, skipped = inserted+r.Inserted, skipped+r.Skipped
				}
				if inserted != wantInserted || inserted+skipped != want {
					t.Errorf("run %d: inserted=%v skipped=%v, want %v inserted of %v", run+1, inserted, skipped, wantInserted, want)
				}
			}
			n, err := srv.stores["sources"].Count(context.Background())
			if err != nil || n != int64(len(demoRecords["sources"])) {
				t.Errorf("Count=%v (err %v), want %v", n, err, len(demoRecords["sources"]))
			}
		})
	}
}

// TestShutdown starts the whole app on a loopback port with an open event
// stream, then shuts it down: the stream must end (or Shutdown would wait
// out its timeout) and the database must be closed.
func TestShutdown(t *testing.T) {
	cfg := config{
		addr:            "127.0.0.1:0",
		dbURL:           "sqlite:///" + filepath.Join(t.TempDir(), "portal.db"),
		tick:            10 * time.Millisecond,
		shutdownTimeout: 10 * time.Second,
		maxBody:         1 << 20,
		seed:            true,
	}
	a, err := startApp(context.Background(), cfg, discard)
	if err != nil {
		t.Fatalf("startApp: %v", err)
	}
	t.Cleanup(func() { _ = a.shutdown() })
	base := "http://" + a.addr
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	resp, err := client.Get(base + "/api/v1/sources/src-lake")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status=%v, want 200", resp.StatusCode)
	}
	stream, err := client.Get(base + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	streamEnded := make(chan struct{})
	go func() {
		defer close(streamEnded)
		_, _ = io.Copy(io.Discard, stream.Body)
	}()

	t.Run("OK", func(t *testing.T) {
		if err := a.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case <-streamEnded:
		case <-time.After(10 * time.Second):
			t.Errorf("event stream still open after shutdown")
		}
	})
	t.Run("ErrClosed", func(t *testing.T) {
		if err := a.db.Ping(context.Background()); !errors.Is(err, persist.ErrClosed) {
			t.Errorf("Ping after shutdown: %v, want ErrClosed", err)
		}
		if _, err := client.Get(base + "/api/v1/sources"); err == nil {
			t.Errorf("request after shutdown succeeded")
		}
	})
}

// TestLoadcheck runs a short load check to show it measures and reports;
// timings on a shared machine prove nothing, so only a very loose bound is
// checked.
func TestLoadcheck(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the load check in -short mode")
	}
	t.Setenv(persist.EnvURL, "") // a temporary SQLite file, whatever the environment says
	cfg := config{tick: 100 * time.Millisecond, shutdownTimeout: 10 * time.Second, maxBody: 1 << 20}
	rep, err := runLoadcheck(context.Background(), cfg, loadConfig{duration: time.Second, workers: 4}, discard)
	if err != nil {
		t.Fatalf("runLoadcheck: %v", err)
	}
	if rep.sse.ticks == 0 || rep.sse.changes == 0 {
		t.Errorf("sse=%+v, want ticks and changes", rep.sse)
	}
	if rep.sse.maxGap > 30*time.Second {
		t.Errorf("max gap %v: the stream stalled", rep.sse.maxGap)
	}
	for _, op := range loadOps {
		if st := rep.ops[op.name]; st == nil || len(st.latencies) == 0 {
			t.Errorf("no %s requests measured", op.name)
		}
	}
	var out strings.Builder
	rep.write(&out)
	for _, want := range []string{"GET /api/v1/sources under load: p50 ", "SSE: ", "max gap"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if s := out.String(); !strings.HasSuffix(s, "PASS\n") && !strings.HasSuffix(s, "FAIL\n") {
		t.Errorf("report does not end in PASS or FAIL:\n%s", s)
	}
	t.Logf("\n%s", out.String())
}

func TestRunFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"Help", []string{"-h"}, 0},
		{"BadTick", []string{"-tick", "0s"}, 2},
		{"BadDuration", []string{"-loadcheck", "-duration", "1h"}, 2},
		{"Extra", []string{"extra"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(c.args, &stdout, &stderr); code != c.code {
				t.Errorf("exit code=%v, want %v; stderr %s", code, c.code, stderr.String())
			}
		})
	}
}

func postgresBackend(tb testing.TB) backend {
	tb.Helper()
	url := os.Getenv("PERSIST_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("missing environment variable %v", "PERSIST_TEST_POSTGRES")
		}
		tb.Logf("Skipping postgres due to missing environment variable %v", "PERSIST_TEST_POSTGRES")
		return nil
	}
	return func(tb testing.TB) persist.DB { return openPostgres(tb, url) }
}

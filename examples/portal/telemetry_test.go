package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	_ "github.com/persistkit/persist/sqlite"
)

// With PORTAL_TRACE=stdout a request's span is printed, named for its
// route, with the store operation it made under it; the record's id is in
// neither.
func TestTracing(t *testing.T) {
	t.Setenv(traceEnv, "stdout")
	var out bytes.Buffer
	tr := startTracing(&out)
	if tr == nil {
		t.Fatal("no tracing with " + traceEnv + "=stdout")
	}
	db, err := persist.Open(t.Context(), "sqlite://:memory:", tr.options(&persist.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Store("sources")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/sources/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, err := s.Get(r.Context(), r.PathValue("id"))
		w.WriteHeader(map[bool]int{true: 404, false: 200}[err != nil])
	})
	rec := httptest.NewRecorder()
	tr.handler(mux).ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/sources/person-4711", nil))

	type span struct {
		Name        string
		SpanContext struct{ SpanID string }
		Parent      struct{ SpanID string }
	}
	var spans []span
	dec := json.NewDecoder(&out)
	for dec.More() {
		var s span
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		spans = append(spans, s)
	}
	if len(spans) != 2 || spans[0].Name != "get sources" || spans[1].Name != "GET /api/v1/sources/{id}" ||
		spans[0].Parent.SpanID != spans[1].SpanContext.SpanID {
		t.Fatalf("spans %+v, want get sources under GET /api/v1/sources/{id}", spans)
	}
	if strings.Contains(out.String(), "person-4711") {
		t.Error("a span carries the record's id")
	}
}

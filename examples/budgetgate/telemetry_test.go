package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// With -trace a request's server span is printed, named for its route, with
// the store operations of its Reserve and Commit under it; no span names
// the API key's scopes.
func TestTracing(t *testing.T) {
	var out bytes.Buffer
	tr := startTracing(&out, true)
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "t.db"), tr.options(&persist.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ledger, err := budget.New(db, tr.ledgerOptions(ledgerOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if err := setBudgets(ctx, ledger, limits{org: 1_000_000, team: 1_000_000, principal: 100_000}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	gw := &gateway{ledger: ledger, keys: demoKeyScopes(), prices: prices, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	mux.Handle("/v1/completions", gw)
	req := httptest.NewRequest(http.MethodPost, "/v1/completions", strings.NewReader(`{"model":"sim-large","prompt":"hi","max_tokens":100}`))
	req.Header.Set("Authorization", "Bearer "+demoKey(1))
	w := httptest.NewRecorder()
	tr.handler(mux).ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("request: %d %s", w.Code, w.Body)
	}

	type span struct {
		Name        string
		SpanContext struct{ TraceID, SpanID string }
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
	if len(spans) < 2 {
		t.Fatalf("spans %+v, want the request's and its store operations'", spans)
	}
	root := spans[len(spans)-1]
	if root.Name != "POST /v1/completions" {
		t.Fatalf("last span %q, want POST /v1/completions", root.Name)
	}
	for _, s := range spans[:len(spans)-1] {
		if s.SpanContext.TraceID != root.SpanContext.TraceID {
			t.Errorf("span %q is not in the request's trace", s.Name)
		}
	}
	sc := demoKeyScopes()[demoKey(1)]
	for _, scope := range []string{sc.Team, sc.Principal} {
		if strings.Contains(out.String(), scope) {
			t.Errorf("a span names the scope %q", scope)
		}
	}
}

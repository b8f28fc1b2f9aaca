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
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// TestLoadSmoke runs the load mode for a second at a low rate and checks
// that its report is sane.
func TestLoadSmoke(t *testing.T) {
	var out bytes.Buffer
	url := "sqlite:///" + filepath.Join(t.TempDir(), "smoke.db")
	err := run([]string{"-load", "-db", url, "-rps", "20", "-duration", "1s", "-model-latency", "5ms"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	report := out.String()
	for _, want := range []string{"20 requests, 20 ok, 0 denied (429), 0 unavailable (503), 0 errors", "budget path (Reserve+Commit) n=20", "whole request", "p50", "p95", "p99"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestMaxSmoke runs the throughput mode briefly.
func TestMaxSmoke(t *testing.T) {
	var out bytes.Buffer
	url := "sqlite:///" + filepath.Join(t.TempDir(), "max.db")
	if err := run([]string{"-max", "-db", url, "-workers", "4", "-duration", "300ms"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "pairs/s, 0 errors") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestHandler checks the gateway's answers: 200, 429 with the decision,
// and the client errors.
func TestHandler(t *testing.T) {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ledger, err := budget.New(db, ledgerOptions())
	if err != nil {
		t.Fatal(err)
	}
	// A key may spend 0.01 a day: one request of 1000 tokens of sim-large.
	if err := setBudgets(ctx, ledger, limits{org: 1_000_000, team: 1_000_000, principal: 10_000}); err != nil {
		t.Fatal(err)
	}
	gw := &gateway{ledger: ledger, keys: demoKeyScopes(), prices: prices, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	do := func(key, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		return w
	}
	ok := `{"model":"sim-large","prompt":"hi","max_tokens":500}`

	if w := do(demoKey(1), ok); w.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", w.Code, w.Body)
	}
	big := `{"model":"sim-large","prompt":"hi","max_tokens":999}`
	w := do(demoKey(1), big)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("over budget: %d %s, want 429", w.Code, w.Body)
	}
	var denied struct {
		Error    string          `json:"error"`
		Decision budget.Decision `json:"decision"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &denied); err != nil {
		t.Fatalf("429 body %s: %v", w.Body, err)
	}
	if denied.Error != "budget_exceeded" || denied.Decision.Allowed || denied.Decision.DeniedBy != budget.Principal || len(denied.Decision.Budgets) != 3 {
		t.Errorf("429 body=%s, want a decision denied by the principal", w.Body)
	}
	if ra := w.Header().Get("Retry-After"); ra == "" {
		t.Errorf("429 without Retry-After")
	}
	if w := do(demoKey(2), big); w.Code != http.StatusOK {
		t.Errorf("another key: %d %s, want 200", w.Code, w.Body)
	}
	for _, tt := range []struct {
		name, key, body string
		want            int
	}{
		{"UnknownKey", "nope", ok, http.StatusUnauthorized},
		{"BadJSON", demoKey(3), `{`, http.StatusBadRequest},
		{"UnknownModel", demoKey(3), `{"model":"gpt","max_tokens":5}`, http.StatusBadRequest},
		{"NoMaxTokens", demoKey(3), `{"model":"sim-large"}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if w := do(tt.key, tt.body); w.Code != tt.want {
				t.Errorf("status %d %s, want %d", w.Code, w.Body, tt.want)
			}
		})
	}
	u, err := ledger.Spend(ctx, budget.Scope{Tier: budget.Org, ID: demoOrg}, budget.Monthly, time.Time{})
	if err != nil || u.Spent <= 0 || u.Reserved != 0 {
		t.Errorf("org usage=%+v, %v, want spend and no holds left", u, err)
	}
}

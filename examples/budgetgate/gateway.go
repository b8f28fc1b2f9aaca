package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// gateway is an LLM gateway's request path: authenticate, hold the
// estimated cost, call the model, commit the real cost, record the call.
type gateway struct {
	ledger *budget.Ledger
	keys   map[string]budget.Scopes // API key -> the scopes it spends from
	prices map[string]budget.Micros // model -> price per token
	model  time.Duration            // simulated model latency
	log    *slog.Logger

	// onBudget, when set, receives the time spent in Reserve plus Commit
	// for every admitted request: the latency the budget adds.
	onBudget func(time.Duration)
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	Model     string `json:"model"`
	Prompt    string `json:"prompt"`
	MaxTokens int    `json:"max_tokens"`
}

// completionResponse is the answer to an admitted request.
type completionResponse struct {
	ID    string `json:"id"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Cost     string `json:"cost"`
	Warnings int    `json:"budget_warnings,omitempty"`
}

// deniedResponse is the 429 body: the decision, so a client can see which
// tier denied it and what remains.
type deniedResponse struct {
	Error    string          `json:"error"`
	Decision budget.Decision `json:"decision"`
}

const maxBody = 1 << 20

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	scopes, ok := g.keys[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		httpError(w, http.StatusUnauthorized, "unknown API key")
		return
	}
	var req completionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	price, ok := g.prices[req.Model]
	if !ok {
		httpError(w, http.StatusBadRequest, "unknown model "+strconv.Quote(req.Model))
		return
	}
	if req.MaxTokens <= 0 || req.MaxTokens > 100_000 {
		httpError(w, http.StatusBadRequest, "max_tokens must be between 1 and 100000")
		return
	}
	promptTokens := len(req.Prompt)/4 + 1
	estimate := price * budget.Micros(promptTokens+req.MaxTokens)

	ctx := r.Context()
	start := time.Now()
	res, err := g.ledger.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: estimate})
	inBudget := time.Since(start)
	if err != nil {
		g.reserveFailed(w, r, err)
		return
	}
	// Release is a no-op after Commit; it frees the hold if the model call
	// fails or the client goes away. It must outlive the request context.
	settle := context.WithoutCancel(ctx)
	defer res.Release(settle)

	// The model call.
	select {
	case <-time.After(g.model):
	case <-ctx.Done():
		return
	}
	completionTokens := 1 + mrand.IntN(req.MaxTokens)
	actual := price * budget.Micros(promptTokens+completionTokens)

	start = time.Now()
	err = res.Commit(settle, actual)
	inBudget += time.Since(start)
	if err != nil {
		// The model already answered: serve it, and report the lost charge.
		g.log.LogAttrs(ctx, slog.LevelError, "budgetgate: commit failed", slog.String("reservation", res.ID()), slog.String("error", err.Error()))
	} else if g.onBudget != nil {
		g.onBudget(inBudget)
	}
	id := newRequestID()
	if err := g.ledger.Record(settle, budget.Usage{
		RequestID: id, Scopes: scopes, Model: req.Model,
		TokensIn: int64(promptTokens), TokensOut: int64(completionTokens), Cost: actual,
	}); err != nil {
		g.log.LogAttrs(ctx, slog.LevelError, "budgetgate: record failed", slog.String("request", id), slog.String("error", err.Error()))
	}

	var out completionResponse
	out.ID, out.Model, out.Cost = id, req.Model, actual.String()
	out.Usage.PromptTokens, out.Usage.CompletionTokens = promptTokens, completionTokens
	out.Warnings = len(res.Decision().Warnings())
	writeJSON(w, http.StatusOK, out)
}

// reserveFailed maps a Reserve error to a status: 429 for a denial, with
// the decision; 503 when the database is unreachable; 403 when the key's
// scopes have no budget; 400 for other bad input.
func (g *gateway) reserveFailed(w http.ResponseWriter, r *http.Request, err error) {
	var exceeded *budget.ExceededError
	switch {
	case errors.As(err, &exceeded):
		d := exceeded.Decision
		for _, s := range d.Budgets {
			if s.Exceeded && s.Scope.Tier == d.DeniedBy {
				secs := int(time.Until(s.PeriodEnd).Seconds()) + 1
				w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
				break
			}
		}
		writeJSON(w, http.StatusTooManyRequests, deniedResponse{Error: "budget_exceeded", Decision: d})
	case errors.Is(err, budget.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "budget database unavailable")
	case errors.Is(err, budget.ErrNoBudget):
		httpError(w, http.StatusForbidden, "no budget for this key")
	case errors.Is(err, persist.ErrInvalid):
		httpError(w, http.StatusBadRequest, err.Error())
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		g.log.LogAttrs(r.Context(), slog.LevelError, "budgetgate: reserve failed", slog.String("error", err.Error()))
		httpError(w, http.StatusInternalServerError, "internal error")
	}
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newRequestID returns a random request id.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

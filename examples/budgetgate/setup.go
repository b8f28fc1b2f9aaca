package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
	_ "github.com/persistkit/persist/postgres" // postgres:// URLs
	_ "github.com/persistkit/persist/sqlite"   // sqlite:// URLs
)

// The demo tenant: one organization, teams, and API keys spread over them.
const (
	demoOrg   = "acme"
	demoTeams = 5
	demoKeys  = 50
)

// limits are the demo budgets.
type limits struct {
	org, team, principal budget.Micros
}

// demoKey returns the i-th demo API key.
func demoKey(i int) string { return fmt.Sprintf("key_%03d", i) }

// demoKeys maps each API key to its scopes.
func demoKeyScopes() map[string]budget.Scopes {
	keys := make(map[string]budget.Scopes, demoKeys)
	for i := range demoKeys {
		keys[demoKey(i)] = budget.Scopes{
			Org:       demoOrg,
			Team:      demoOrg + "/team-" + strconv.Itoa(i%demoTeams),
			Principal: demoKey(i),
		}
	}
	return keys
}

// prices are the simulated models' prices per token.
var prices = map[string]budget.Micros{
	"sim-small": 1,  // 1.00 per million tokens
	"sim-large": 10, // 10.00 per million tokens
}

// setBudgets gives the organization a monthly budget and every team and
// key a daily one.
func setBudgets(ctx context.Context, l *budget.Ledger, lim limits) error {
	set := func(s budget.Scope, p budget.Period, limit budget.Micros) error {
		return l.SetBudget(ctx, budget.Budget{Scope: s, Period: p, Limit: limit, Soft: limit / 10 * 8})
	}
	if err := set(budget.Scope{Tier: budget.Org, ID: demoOrg}, budget.Monthly, lim.org); err != nil {
		return err
	}
	for i := range demoTeams {
		if err := set(budget.Scope{Tier: budget.Team, ID: demoOrg + "/team-" + strconv.Itoa(i)}, budget.Daily, lim.team); err != nil {
			return err
		}
	}
	for i := range demoKeys {
		if err := set(budget.Scope{Tier: budget.Principal, ID: demoKey(i)}, budget.Daily, lim.principal); err != nil {
			return err
		}
	}
	return nil
}

// ledgerOptions keep the demo's tables apart from anything else in the
// database.
func ledgerOptions() *budget.Options {
	return &budget.Options{Prefix: "budgetgate_", RequestsTable: "budgetgate_llm_requests"}
}

// ledgerTables are the tables ledgerOptions names.
var ledgerTables = []string{"budgetgate_limits", "budgetgate_counters", "budgetgate_holds", "budgetgate_llm_requests"}

// resolveURL picks the database: the -db flag, else DATABASE_URL, else a
// SQLite file in a new temporary directory (removed by cleanup).
func resolveURL(flagURL string) (u string, cleanup func(), err error) {
	if flagURL != "" {
		return flagURL, func() {}, nil
	}
	if env := os.Getenv(persist.EnvURL); env != "" {
		return env, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "budgetgate-")
	if err != nil {
		return "", nil, err
	}
	return "sqlite:///" + filepath.Join(dir, "budgetgate.db"), func() { os.RemoveAll(dir) }, nil
}

// isPostgres reports whether u names a PostgreSQL database.
func isPostgres(u string) bool {
	scheme, _, _ := strings.Cut(u, ":")
	return strings.HasPrefix(strings.ToLower(scheme), "postgres")
}

// withPool sets pgx's pool_max_conns on a PostgreSQL URL that does not set
// it, so that n concurrent workers each get a connection.
func withPool(u string, n int) string {
	if !isPostgres(u) || n <= 0 {
		return u
	}
	p, err := url.Parse(u)
	if err != nil || p.Query().Has("pool_max_conns") {
		return u
	}
	q := p.Query()
	q.Set("pool_max_conns", strconv.Itoa(n))
	p.RawQuery = q.Encode()
	return p.String()
}

// backendName is "postgres" or "sqlite", for reports.
func backendName(u string) string {
	if isPostgres(u) {
		return "postgres"
	}
	return "sqlite"
}

// resetTables empties the demo's tables so that a run starts from zero.
func resetTables(ctx context.Context, db persist.DB) error {
	for _, name := range ledgerTables {
		s, err := db.Store(name)
		if err != nil {
			return err
		}
		if _, err := s.Clear(ctx); err != nil {
			return fmt.Errorf("clear %s: %w", name, err)
		}
	}
	return nil
}

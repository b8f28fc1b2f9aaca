package budget_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
	_ "github.com/persistkit/persist/sqlite"
)

// exampleClock pins the examples to one day so their output is stable.
func exampleClock() time.Time { return time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC) }

// A gateway holds the estimated cost before the model call and commits the
// real cost after it.
func ExampleLedger_Reserve() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ledger, err := budget.New(db, &budget.Options{Clock: exampleClock})
	if err != nil {
		log.Fatal(err)
	}
	limit, _ := budget.ParseMicros("10.00")
	err = ledger.SetBudget(ctx, budget.Budget{
		Scope:  budget.Scope{Tier: budget.Org, ID: "acme"},
		Period: budget.Daily,
		Limit:  limit,
	})
	if err != nil {
		log.Fatal(err)
	}

	estimate, _ := budget.ParseMicros("0.50")
	res, err := ledger.Reserve(ctx, budget.Request{
		Scopes:   budget.Scopes{Org: "acme", Principal: "key_123"},
		Estimate: estimate,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer res.Release(ctx) // a no-op after Commit

	// ... call the model ...
	actual, _ := budget.ParseMicros("0.42")
	if err := res.Commit(ctx, actual); err != nil {
		log.Fatal(err)
	}

	spend, err := ledger.Spend(ctx, budget.Scope{Tier: budget.Org, ID: "acme"}, budget.Daily, time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("spent", spend.Spent, "reserved", spend.Reserved, "on", spend.PeriodStart.Format(time.DateOnly))
	// Output:
	// spent 0.420000 reserved 0.000000 on 2025-03-09
}

// A request that does not fit is denied with the tier that denied it and
// what remains.
func ExampleExceededError() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ledger, err := budget.New(db, &budget.Options{Clock: exampleClock})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range []budget.Budget{
		{Scope: budget.Scope{Tier: budget.Org, ID: "acme"}, Period: budget.Monthly, Limit: 100 * budget.MicrosPerUnit},
		{Scope: budget.Scope{Tier: budget.Principal, ID: "key_123"}, Period: budget.Daily, Limit: 1 * budget.MicrosPerUnit},
	} {
		if err := ledger.SetBudget(ctx, b); err != nil {
			log.Fatal(err)
		}
	}

	_, err = ledger.Reserve(ctx, budget.Request{
		Scopes:   budget.Scopes{Org: "acme", Principal: "key_123"},
		Estimate: 2 * budget.MicrosPerUnit,
	})
	var exceeded *budget.ExceededError
	if errors.As(err, &exceeded) {
		d := exceeded.Decision
		fmt.Println("allowed:", d.Allowed)
		fmt.Println("denied by:", d.DeniedBy)
		for _, s := range d.Budgets {
			fmt.Printf("%s %s: remaining %s of %s\n", s.Scope, s.Period, s.Remaining, s.Limit)
		}
	}
	fmt.Println(errors.Is(err, budget.ErrExceeded))
	// Output:
	// allowed: false
	// denied by: principal
	// org/acme month: remaining 100.000000 of 100.000000
	// principal/key_123 day: remaining 1.000000 of 1.000000
	// true
}

// The cost ledger that Record writes is read back per UTC day, for a
// report or an invoice.
func ExampleLedger_DailyUsage() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ledger, err := budget.New(db, nil)
	if err != nil {
		log.Fatal(err)
	}
	day := time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{
		day.Add(9 * time.Hour),
		day.Add(24*time.Hour - time.Nanosecond), // the last instant of March 9
		day.Add(24 * time.Hour),                 // March 10 begins
		day.Add(30 * time.Hour),
	} {
		err := ledger.Record(ctx, budget.Usage{
			RequestID: fmt.Sprint("req-", i),
			Scopes:    budget.Scopes{Org: "acme", Principal: "key_123"},
			Model:     "gpt-4o",
			TokensIn:  1000,
			TokensOut: 250,
			Cost:      budget.MicrosPerUnit / 4,
			Time:      at,
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	days, err := ledger.DailyUsage(ctx, budget.Scope{Tier: budget.Org, ID: "acme"}, day, day.AddDate(0, 0, 7))
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range days {
		fmt.Println(d.Day.Format(time.DateOnly), d.Requests, "requests", d.TokensIn, "in", d.TokensOut, "out", d.Cost)
	}
	// Output:
	// 2025-03-09 2 requests 2000 in 500 out 0.500000
	// 2025-03-10 2 requests 2000 in 500 out 0.500000
}

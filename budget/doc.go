// Package budget enforces spending limits on LLM requests across three
// tiers — organization, team and principal (a user or API key) — on any
// [persist.DB], and records what each request cost.
//
// # Model
//
// A [Budget] limits one [Scope] over one [Period]: a calendar day, ISO week
// or month in UTC, or a fixed window ([Every]) aligned to the Unix epoch.
// It has a hard Limit, which denies, and an optional Soft threshold, which
// allows with a warning. A scope may have several budgets with different
// periods. Periods roll over by themselves: spend is counted per period
// start, so no job needs to reset anything. Money is [Micros], integer
// millionths of the currency unit; nothing uses floating point.
//
// # Request path
//
// A gateway reserves the estimated cost before the model call, and commits
// the real cost after it:
//
//	res, err := ledger.Reserve(ctx, budget.Request{
//		Scopes:   budget.Scopes{Org: "acme", Team: "acme/ml", Principal: key},
//		Estimate: estimate,
//	})
//	switch {
//	case errors.Is(err, budget.ErrExceeded):    // 429, with the Decision
//	case errors.Is(err, budget.ErrUnavailable): // 503
//	case err != nil:                            // 400 and others
//	}
//	defer res.Release(ctx) // no-op after Commit
//	... call the model ...
//	err = res.Commit(ctx, actual)
//
// [Ledger.Check] previews a decision without holding anything.
// [Ledger.Record] appends the call to the llm_requests cost ledger,
// idempotently by request id, and [Ledger.DailyUsage] reads that ledger
// back: one scope's requests, tokens and cost per UTC day.
//
// # Guarantees
//
// Reserve is all-or-nothing across every budget of every named scope, and
// correct under any concurrency, across any number of processes sharing the
// database. In one transaction it updates each budget's counter for the
// current period (spent, and holds grouped by expiry), checks that spent
// plus live holds plus the estimate fits the limit, and records the
// reservation; a denial rolls the transaction back, changing nothing. The
// backend serialises the counter updates (SQLite's single writer,
// PostgreSQL's row locks, taken in a fixed order so transactions cannot
// deadlock). Hence at any moment, summed over a budget's period,
//
//	Σ min(actual, estimate) over commits + Σ estimate over live holds ≤ limit
//
// A commit above its estimate is recorded in full, so spend can end above
// the limit by exactly that excess; further requests are then denied. No
// request is denied needlessly: a denial means spent plus holds plus the
// estimate did exceed the limit at that moment.
//
// Within one process, operations that arrive while others are running are
// combined into shared transactions and applied one after another inside
// them, with the same outcome as separate transactions; a hot budget then
// pays one row lock and one commit for many requests. A Ledger remembers
// the counters as it last committed them: the next batch starts from
// those and writes them back only if they are still at the same revision,
// in one [persist.Apply] (one statement on PostgreSQL, whose DB is a
// [persist.Applier]). A budget that another process changed in between is read
// again under lock, so that memory saves round trips and decides nothing.
//
// Commit and Release are idempotent, safe to call concurrently, and the
// first one wins. A reservation neither committed nor released expires
// after [Options.ReservationTTL]: the next write to the counter drops its
// hold, so a crashed process cannot keep budget forever. A Commit after
// expiry still records the cost.
//
// # Failures
//
// Bad input matches [persist.ErrInvalid] and changes nothing: a
// non-positive estimate, no scope, an invalid scope id or period, an
// amount out of range ([ErrOverflow]). A request none of whose scopes has
// a budget fails with [ErrNoBudget] (which also matches ErrInvalid) rather
// than spending without limit. GetBudget and DeleteBudget of a missing
// budget match [persist.ErrNotFound]. An unreachable database matches
// [ErrUnavailable]: the ledger fails closed unless [Options.FailOpen] is
// set, in which case requests are allowed and their Decision is flagged.
package budget

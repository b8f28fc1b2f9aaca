package budget

import (
	"context"
	"errors"

	"github.com/persistkit/persist"
)

// Reservations and settlements in one process are combined into shared
// transactions by a combiner (group.go). On a hot budget every operation
// must lock the same counter row, and each transaction holds that lock
// through its commit; combining the operations that queue up meanwhile
// into one transaction takes the lock and pays the commit once for all of
// them. Inside the transaction the operations apply one after another, in
// arrival order, to the counters, exactly as if each had its own
// transaction: a denied reservation changes nothing, and every decision
// sees the effect of the ones before it (decide.go). The lane of an
// operation is chosen by its first counter (the organization's, where it
// has one), so operations on one hot budget meet in one lane.
//
// A batch first runs as one [persist.Apply] on the counters as this Ledger
// last committed them (apply.go); whenever that cannot decide, it runs in
// a transaction that reads the counters under lock (locked.go), whose
// commit then seeds the remembered copies.

type opKind uint8

const (
	opReserve opKind = iota + 1
	opSettle
)

// job is one reservation or settlement.
type job struct {
	kind   opKind
	r      *Reservation
	actual Micros // opSettle

	// Results, set by the batch that ran the job.
	statuses []Status // opReserve
	denied   bool     // opReserve
	noop     bool     // opSettle: settled before
	err      error
}

// submit runs o in a batch and returns it with its results. If ctx ends
// while o is queued, o fails with the context's error and never runs.
func (l *Ledger) submit(ctx context.Context, o *job) *job {
	if err := l.group.submit(ctx, o.r.targets[0].id, o); err != nil {
		o.err = err
	}
	return o
}

// execute runs ops in one transaction and sets their results.
func (l *Ledger) execute(ctx context.Context, ops []*job) {
	l.observe(ctx, Event{Kind: EventBatch, Size: len(ops)})
	err := l.batchTx(ctx, ops)
	if err == nil {
		return
	}
	if !errors.Is(err, persist.ErrNotFound) {
		for _, o := range ops {
			o.err = err
		}
		return
	}
	// A counter is missing (its table was cleared): run each alone, so
	// each fails or recovers on its own.
	if len(ops) == 1 {
		ops[0].err = err
		return
	}
	for _, o := range ops {
		if err := l.batchTx(ctx, []*job{o}); err != nil {
			o.err = err
		}
	}
}

// batchTx runs ops in one transaction: from the remembered counters in one
// [persist.Apply] if it can (batchApply), else reading the counters under
// lock (lockedTx).
func (l *Ledger) batchTx(ctx context.Context, ops []*job) error {
	if done, err := l.batchApply(ctx, ops); done {
		return err
	}
	return l.lockedTx(ctx, ops)
}

// resetResults clears what an earlier attempt at ops set.
func resetResults(ops []*job) {
	for _, o := range ops {
		o.statuses, o.denied, o.noop, o.err = nil, false, false, nil
	}
}

// opTargets lists the targets of ops, each counter once.
func opTargets(ops []*job) []target {
	var all []target
	seen := map[string]bool{}
	for _, o := range ops {
		for _, t := range o.r.targets {
			if !seen[t.id] {
				seen[t.id] = true
				all = append(all, t)
			}
		}
	}
	return all
}

// errReplan is the result of a reservation planned from remembered budgets
// that a batch could not check (see limitcache.go): nothing was done, and
// Reserve plans it again from the stored budgets.
var errReplan = errors.New("budget: plan again")

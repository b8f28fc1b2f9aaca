package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/persistkit/persist"
)

// Reservations and settlements in one process are combined into shared
// transactions (group commit). On a hot budget every operation must lock
// the same counter row, and each transaction holds that lock through its
// commit; combining the operations that queue up meanwhile into one
// transaction takes the lock and pays the commit once for all of them.
// Inside the transaction the operations apply one after another, in arrival
// order, to the counters, exactly as if each had its own transaction: a
// denied reservation changes nothing, and every decision sees the effect of
// the ones before it.
//
// Operations are combined per lane: the lane of an operation is chosen by
// its first counter (the organization's, where it has one), so operations
// on one hot budget meet in one lane. An operation that finds its lane idle
// runs at once, in its caller's goroutine, as the lane's leader. One that
// finds it busy queues; when the leader's transaction ends, it hands the
// lane to the first operation still queued, which runs everything queued by
// then as one batch. No goroutine is started, an uncontended operation
// waits for nothing, and under load each lane has exactly one transaction
// in flight, which carries everything that arrived during the one before.

// lanes is how many lanes a Ledger has.
const lanes = 64

// maxBatch bounds the operations in one transaction.
const maxBatch = 64

// lane is where operations on the same hot counters meet.
type lane struct {
	mu    sync.Mutex
	busy  bool // a leader is running a batch
	queue []*job
}

type opKind uint8

const (
	opReserve opKind = iota + 1
	opSettle
)

// job states: queued, taken by a leader (or become one), or abandoned by
// its caller.
const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// job is one reservation or settlement waiting for, or done by, a leader.
type job struct {
	kind   opKind
	r      *Reservation
	actual Micros // opSettle

	ctx     context.Context
	state   atomic.Int32
	done    chan struct{} // closed when another leader ran the job
	promote chan struct{} // the job is to lead its lane

	// Results, written by the leader before done is closed.
	statuses []Status // opReserve
	denied   bool     // opReserve
	noop     bool     // opSettle: settled before
	err      error
}

// submit runs o, as its lane's leader or in a batch led by another, and
// returns it with its results. If ctx ends while o is queued, o is
// abandoned and fails with the context's error; once taken, o runs to
// completion and submit waits for it, so the caller always learns whether
// the operation happened.
func (l *Ledger) submit(ctx context.Context, o *job) *job {
	o.ctx, o.done, o.promote = ctx, make(chan struct{}), make(chan struct{}, 1)
	ln := &l.lanes[stripe(o.r.targets[0].id)]
	ln.mu.Lock()
	if !ln.busy {
		ln.busy = true
		o.state.Store(opTaken)
		ln.mu.Unlock()
		l.lead(ln, o)
		return o
	}
	ln.queue = append(ln.queue, o)
	ln.mu.Unlock()
	select {
	case <-o.done:
	case <-o.promote:
		l.lead(ln, o)
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			o.err = ctx.Err()
			return o
		}
		select {
		case <-o.done:
		case <-o.promote:
			l.lead(ln, o)
		}
	}
	return o
}

// lead runs o and whatever is queued in ln as one batch, then hands ln to
// the next queued operation, or leaves it idle.
func (l *Ledger) lead(ln *lane, o *job) {
	if hook := l.beforeBatch.Load(); hook != nil {
		l.gated.Add(1)
		(*hook)()
		l.gated.Add(-1)
	}
	ln.mu.Lock()
	batch := []*job{o}
	n := 0
	for n < len(ln.queue) && len(batch) < maxBatch {
		if q := ln.queue[n]; q.state.CompareAndSwap(opQueued, opTaken) {
			batch = append(batch, q)
		}
		n++
	}
	ln.queue = slices.Delete(ln.queue, 0, n)
	ln.mu.Unlock()

	ops := make([]*job, 0, len(batch))
	for _, q := range batch {
		if err := q.ctx.Err(); err != nil {
			q.err = err
			continue
		}
		ops = append(ops, q)
	}
	if len(ops) > 0 {
		ctx, release := batchContext(ops)
		l.execute(ctx, ops)
		release()
	}
	for _, q := range batch {
		close(q.done)
	}

	ln.mu.Lock()
	defer ln.mu.Unlock()
	for len(ln.queue) > 0 {
		next := ln.queue[0]
		ln.queue = slices.Delete(ln.queue, 0, 1)
		if next.state.CompareAndSwap(opQueued, opTaken) {
			next.promote <- struct{}{}
			return
		}
	}
	ln.busy = false
}

// batchContext returns a context for a batch that ends only when every
// operation's own context has ended: one impatient caller must not fail the
// others.
func batchContext(ops []*job) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ops[0].ctx))
	var left atomic.Int32
	left.Store(int32(len(ops)))
	stops := make([]func() bool, len(ops))
	for i, o := range ops {
		stops[i] = context.AfterFunc(o.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// execute runs ops in one transaction and sets their results.
func (l *Ledger) execute(ctx context.Context, ops []*job) {
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

// errPeek makes UpdateFunc lock and read a counter without writing it.
var errPeek = errors.New("budget: peek")

// batchTx runs ops in one transaction: it deletes the hold records of the
// settlements and inserts those of the reservations, locks and reads every
// counter the operations touch (at once on a [persist.Batcher], else one by
// one in lock order), applies the operations one by one in memory, deletes
// the hold records of denied reservations, and writes the counters that
// changed.
//
// On a DB that implements [persist.Applier] a batch first runs as one
// Apply on the counters as this Ledger last committed them (batchApply);
// whenever that cannot decide, and on other DBs, it runs in a transaction
// that reads the counters under lock (lockedTx), whose commit then seeds
// the remembered copies.
func (l *Ledger) batchTx(ctx context.Context, ops []*job) error {
	if ap, ok := l.db.(persist.Applier); ok {
		if done, err := l.batchApply(ctx, ap, ops); done {
			return err
		}
	}
	return l.lockedTx(ctx, ops)
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

// errUnverified ends an attempt on remembered counters that reached a
// decision only the stored counters may make; the batch runs again under
// lock.
var errUnverified = errors.New("budget: decision needs the stored counters")

// verifyPlans reads the limits records that reservations planned from
// remembered budgets depend on, and returns ops without those whose
// budgets changed since, which fail with errReplan. It reads without
// locking, as plan does: a budget changed while the transaction runs
// applies from the next Reserve. (Locking here, before the counters, would
// take locks in the opposite order to Apply's statement.)
func (l *Ledger) verifyPlans(ctx context.Context, tx persist.Tx, ops []*job) ([]*job, error) {
	var ids []string
	for _, o := range ops {
		if o.kind == opReserve {
			for _, c := range o.r.checks {
				if !slices.Contains(ids, c.id) {
					ids = append(ids, c.id)
				}
			}
		}
	}
	if len(ids) == 0 {
		return ops, nil
	}
	ls, err := tx.Store(l.cfg.limits)
	if err != nil {
		return nil, err
	}
	revs := make(map[string]int64, len(ids))
	if lb, ok := ls.(persist.Batcher); ok {
		recs, err := lb.GetMany(ctx, ids, false)
		if err != nil {
			return nil, err
		}
		for i, rec := range recs {
			revs[ids[i]] = rec.Revision // 0 for a missing record
		}
	} else {
		for _, id := range ids {
			rec, err := ls.Get(ctx, id)
			if err != nil && !errors.Is(err, persist.ErrNotFound) {
				return nil, err
			}
			revs[id] = rec.Revision
		}
	}
	kept := make([]*job, 0, len(ops))
	for _, o := range ops {
		stale := false
		if o.kind == opReserve {
			for _, c := range o.r.checks {
				stale = stale || revs[c.id] != c.rev
			}
		}
		if stale {
			o.err = errReplan
			continue
		}
		kept = append(kept, o)
	}
	return kept, nil
}

// errReplan is the result of a reservation planned from remembered budgets
// that a batch could not check (see limitcache.go): nothing was done, and
// Reserve plans it again from the stored budgets.
var errReplan = errors.New("budget: plan again")

// lockedTx runs ops in a transaction that reads their counters under lock.
func (l *Ledger) lockedTx(ctx context.Context, ops []*job) error {
	all := opTargets(ops)
	order := lockOrder(all)
	ids := counterIDs(all)
	now := l.cfg.clock().Unix()
	// The counters' stripes are taken before the transaction's connection,
	// as batchApply takes them before Apply's: waiting for a stripe while
	// holding a connection could leave the stripe's holder without one.
	unlock := l.hot.lock(ids)
	defer unlock()
	var written map[string]*locked // the counters as committed, on a Batcher
	every := ops
	err := l.db.Tx(ctx, func(tx persist.Tx) error {
		written = nil
		for _, o := range every {
			o.statuses, o.denied, o.noop, o.err = nil, false, false, nil
		}
		var err error
		if ops, err = l.verifyPlans(ctx, tx, every); err != nil {
			return err
		}
		hs, err := tx.Store(l.cfg.holds)
		if err != nil {
			return err
		}
		cs, err := tx.Store(l.cfg.counters)
		if err != nil {
			return err
		}
		// Settlements delete their hold records, and reservations insert
		// theirs, before any counter is locked: no other operation touches
		// them. A denied reservation's record is deleted again under the
		// locks, which costs a round trip only when there are denials.
		if err := deleteHolds(ctx, hs, ops); err != nil {
			return err
		}
		if err := insertHolds(ctx, hs, ops); err != nil {
			return err
		}
		cb, batched := cs.(persist.Batcher)
		if batched {
			state, err := l.lockAll(ctx, cb, ids)
			if err != nil {
				return err
			}
			for _, st := range state {
				st.c.reclaim(now)
			}
			if err := l.apply(ctx, hs, ops, state, now); err != nil {
				return err
			}
			if err := l.writeAll(ctx, cb, ids, state); err != nil {
				return err
			}
			written = state
			return nil
		}
		state := make(map[string]*locked, len(all))
		for _, i := range order {
			id := all[i].id
			st := &locked{}
			_, err := cs.UpdateFunc(ctx, id, func(cur persist.Record) (json.RawMessage, error) {
				c, err := decodeCounter(l.cfg.counters, cur)
				if err != nil {
					return nil, err
				}
				st.c, st.rev = c, cur.Revision
				return nil, errPeek
			})
			if !errors.Is(err, errPeek) {
				if err == nil {
					err = fmt.Errorf("budget: counter %s was written while being read", id)
				}
				return err
			}
			st.c.reclaim(now)
			state[id] = st
		}
		if err := l.apply(ctx, hs, ops, state, now); err != nil {
			return err
		}
		for _, i := range order {
			id := all[i].id
			st := state[id]
			if !st.changed {
				continue
			}
			_, err := cs.UpdateFunc(ctx, id, func(cur persist.Record) (json.RawMessage, error) {
				if cur.Revision != st.rev {
					return nil, fmt.Errorf("budget: counter %s changed from revision %d to %d while locked", id, st.rev, cur.Revision)
				}
				return st.c.encode()
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil && written != nil:
		l.hot.remember(written, time.Now())
	case err != nil:
		l.hot.forget(ids, false, time.Now())
	}
	return err
}

// deleteHolds deletes the hold records of the settlements among ops, and
// marks as no-ops those already settled by an earlier attempt. A missing
// record means either that an earlier attempt whose outcome was unknown did
// settle it, or that it expired long ago and was swept: the first is a
// no-op; in the second the hold is gone from the counters too, and the
// actual cost is still charged.
func deleteHolds(ctx context.Context, hs persist.Store, ops []*job) error {
	var ids []string
	var settles []*job
	for _, o := range ops {
		if o.kind == opSettle {
			ids = append(ids, o.r.id)
			settles = append(settles, o)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if hb, ok := hs.(persist.Batcher); ok {
		existed, err := hb.DeleteMany(ctx, ids)
		if err != nil {
			return err
		}
		for i, o := range settles {
			o.noop = !existed[i] && o.r.attempted
		}
		return nil
	}
	for _, o := range settles {
		existed, err := hs.Delete(ctx, o.r.id)
		if err != nil {
			return err
		}
		o.noop = !existed && o.r.attempted
	}
	return nil
}

// insertHolds inserts the hold records of the reservations among ops.
func insertHolds(ctx context.Context, hs persist.Store, ops []*job) error {
	var holds []persist.Record
	for _, o := range ops {
		if o.kind == opReserve {
			holds = append(holds, persist.Record{ID: o.r.id, Data: o.r.hold})
		}
	}
	return putBackHolds(ctx, hs, holds)
}

// putBackHolds inserts hold records, none of which may exist yet.
func putBackHolds(ctx context.Context, hs persist.Store, holds []persist.Record) error {
	if len(holds) == 0 {
		return nil
	}
	res, err := hs.InsertMany(ctx, holds)
	if err != nil {
		return err
	}
	if res.Inserted != len(holds) {
		return fmt.Errorf("budget: %d of %d hold records already existed", len(holds)-res.Inserted, len(holds))
	}
	return nil
}

// apply runs ops one after another on the locked counters in state, in
// memory; then it deletes the hold records of the denied reservations and
// puts back those of failed settlements.
func (l *Ledger) apply(ctx context.Context, hs persist.Store, ops []*job, state map[string]*locked, now int64) error {
	denied, putBack, err := decide(ops, state, now, true)
	if err != nil {
		return err
	}
	if err := deleteRecords(ctx, hs, denied); err != nil {
		return err
	}
	return putBackHolds(ctx, hs, putBack)
}

// decide runs ops one after another on the counters in state, in memory,
// and returns the ids of the denied reservations, whose hold records must
// go, and the hold records of failed settlements, which must be put back.
// Unless trusted, it fails with errUnverified instead of denying or failing
// a settlement.
func decide(ops []*job, state map[string]*locked, now int64, trusted bool) (denied []string, putBack []persist.Record, err error) {
	for _, o := range ops {
		switch o.kind {
		case opReserve:
			o.statuses = make([]Status, len(o.r.targets))
			for i, t := range o.r.targets {
				o.statuses[i] = t.status(state[t.id].c, now, o.r.estimate)
				o.denied = o.denied || o.statuses[i].Exceeded
			}
			if o.denied {
				if !trusted {
					return nil, nil, errUnverified
				}
				denied = append(denied, o.r.id)
				continue
			}
			for _, t := range o.r.targets {
				st := state[t.id]
				st.c.hold(o.r.exp, o.r.estimate, now)
				st.changed = true
			}
		case opSettle:
			if o.noop {
				continue
			}
			// All or nothing: check every counter before changing any.
			for _, t := range o.r.targets {
				if _, err := state[t.id].c.Spent.Add(o.actual); err != nil {
					o.err = err
				}
			}
			if o.err != nil {
				if !trusted {
					return nil, nil, errUnverified
				}
				putBack = append(putBack, persist.Record{ID: o.r.id, Data: o.r.hold})
				continue
			}
			for _, t := range o.r.targets {
				st := state[t.id]
				st.c.unhold(o.r.exp, o.r.estimate, now)
				st.c.Spent += o.actual
				st.changed = true
			}
		}
	}
	return denied, putBack, nil
}

// deleteRecords deletes the records ids of hs, in one round trip on a
// [persist.Batcher].
func deleteRecords(ctx context.Context, hs persist.Store, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if hb, ok := hs.(persist.Batcher); ok {
		_, err := hb.DeleteMany(ctx, ids)
		return err
	}
	for _, id := range ids {
		if _, err := hs.Delete(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

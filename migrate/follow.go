package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/persistkit/persist"
)

// StateTable is the table on the target where Copy with [Options.Follow]
// keeps its feed cursor, one record per set of tables, so that a run that
// was stopped resumes where it was. Copy never copies a source table of
// this name unless [Options.Tables] names it.
const StateTable = "persist_migrate"

// followPoll is how long following waits, once caught up, before it
// reads the feed again.
const followPoll = 200 * time.Millisecond

// online is Copy with Follow: it copies the tables (unless an earlier run
// did), follows the feed and verifies every table.
func (m *migration) online(ctx context.Context, tables []string, report *Report) ([]TableReport, error) {
	feed, err := feedOf(ctx, m.src, tables)
	if err != nil {
		return nil, err
	}
	st, err := loadState(ctx, m.dst, tables)
	if err != nil {
		return nil, err
	}
	fr := &FollowReport{}
	report.Follow = fr
	if st == nil {
		// Before the copy reads anything: every change after this is
		// applied afterwards.
		cur, err := feed.Cursor(ctx, &persist.FeedOptions{Tables: tables})
		if err != nil {
			return nil, err
		}
		st = &followState{Tables: slices.Sorted(slices.Values(tables)), Cursor: cur}
		if err := saveState(ctx, m.dst, tables, st); err != nil {
			return nil, err
		}
	}
	var trs []TableReport
	if st.Copied {
		fr.Resumed = true
		for _, name := range tables {
			trs = append(trs, TableReport{Table: name, Counts: newCounts()})
		}
	} else {
		if trs, err = m.tables(ctx, tables); err != nil {
			return trs, err
		}
		st.Copied = true
		if err := saveState(ctx, m.dst, tables, st); err != nil {
			return trs, err
		}
	}

	start := time.Now()
	f := &follower{m: m, feed: feed, tables: tables, state: *st, rep: fr}
	err = f.run(ctx)
	fr.FollowSeconds = time.Since(start).Seconds()
	f.fold(trs)
	if err != nil {
		return trs, err
	}

	// The last verification, of every table; then of the tables that did
	// not pass, as long as following finds changes it had not seen: a
	// feed holds a change back until every older transaction has ended
	// (PostgreSQL's, on the whole server), so a lag of zero does not
	// prove that every write committed before has been applied.
	vrs := make([]TableReport, len(tables))
	todo := slices.Clone(tables)
	for attempt := 0; ; attempt++ {
		if err := m.verifyAll(ctx, f, tables, todo, vrs); err != nil {
			return trs, err
		}
		todo = todo[:0]
		for i, name := range tables {
			if vr := &vrs[i]; vr.SourceChanged || vr.DigestMismatches > 0 {
				todo = append(todo, name)
			}
		}
		if len(todo) == 0 || attempt == verifyAttempts {
			break
		}
		n, err := f.settle(ctx)
		if f.fold(trs); err != nil {
			return trs, err
		}
		if n == 0 {
			break // nothing new: the mismatches stand
		}
	}
	for i := range trs {
		tr, vr := &trs[i], &vrs[i]
		tr.DigestMismatches, tr.RowsVerified, tr.ExtraTargetRows = vr.DigestMismatches, vr.RowsVerified, vr.ExtraTargetRows
		tr.Verified, tr.SourceChanged = vr.Verified, vr.SourceChanged
		tr.VerifySeconds += vr.VerifySeconds
		tr.ElapsedSeconds += vr.VerifySeconds
		for _, e := range vr.Errors {
			tr.addError(e)
		}
		tr.ErrorsOmitted += vr.ErrorsOmitted
	}
	return trs, nil
}

// verifyAttempts bounds how many times the tables that failed the final
// verification are verified again after following finds more changes.
const verifyAttempts = 3

// settleTime bounds how long following waits, after a verification that
// did not pass, for changes it had not seen.
const settleTime = 30 * time.Second

// verifyAll verifies the tables todo names, writing each one's outcome to
// its place in vrs (by its index in tables). A write during the
// verification may have made it compare the target with a source it no
// longer matches: the source's word that nothing was written spares
// looking, a change in the feed after the last one applied shows it, and
// otherwise the source is read again.
func (m *migration) verifyAll(ctx context.Context, f *follower, tables, todo []string, vrs []TableReport) error {
	written, release, err := persist.MarkWrites(ctx, m.src)
	if err != nil {
		return err
	}
	defer release()
	_, err = m.each(ctx, todo, func(ctx context.Context, _ int, name string) error {
		i := slices.Index(tables, name)
		vrs[i] = TableReport{Table: name, Counts: newCounts()}
		vr := &vrs[i]
		from, err := m.src.Store(name)
		if err != nil {
			return err
		}
		read := newFingerprint(m.seed)
		if err := m.verifyTable(ctx, name, from, vr, read); err != nil {
			return err
		}
		start := time.Now()
		defer func() { vr.VerifySeconds += time.Since(start).Seconds() }()
		moved := false
		// A cursor belongs to the set of tables it was read with.
		for ch, err := range f.feed.Changes(ctx, f.state.Cursor, &persist.FeedOptions{Tables: tables}) {
			if err != nil {
				return f.feedErr(err)
			}
			if ch.Table == name {
				moved = true
				break
			}
		}
		if !moved {
			if moved, _, err = sourceMoved(ctx, from, written, read); err != nil {
				return err
			}
		}
		if moved {
			vr.Verified, vr.SourceChanged = false, true
			vr.addError(fmt.Sprintf("%s: source changed during the final verification; pause its writers before stopping, and run again to resume", name))
		}
		return nil
	})
	return err
}

// verifyTable compares both sides of a table by id after following,
// adding the source's records to read.
func (m *migration) verifyTable(ctx context.Context, name string, from persist.Store, tr *TableReport, read *fingerprint) error {
	start := time.Now()
	defer func() { tr.VerifySeconds += time.Since(start).Seconds() }()
	to, err := m.dst.Store(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	failed := m.failed[name]
	m.mu.Unlock()
	return m.verify(ctx, name, from, to, tr.RowsRead, tr, failed, read)
}

// feedOf returns the source's feed, checking that every table has it on.
func feedOf(ctx context.Context, src persist.DB, tables []string) (persist.ChangeFeed, error) {
	cf, ok := src.(persist.ChangeFeed)
	if !ok {
		return nil, &NoFeedError{Tables: tables, NotChangeFeed: true}
	}
	var off []string
	for _, t := range tables {
		_, err := cf.Cursor(ctx, &persist.FeedOptions{Tables: []string{t}})
		switch {
		case errors.Is(err, persist.ErrInvalid):
			off = append(off, t)
		case err != nil:
			return nil, err
		}
	}
	if len(off) > 0 {
		return nil, &NoFeedError{Tables: off}
	}
	return cf, nil
}

// follower applies the source's changes to the target.
type follower struct {
	m      *migration
	feed   persist.ChangeFeed
	tables []string
	state  followState
	rep    *FollowReport
	done   int64 // changes read, for Progress

	rejected []rejection // records the target rejected, for the tables' reports
}

// run applies the changes after the saved cursor until the lag is zero
// after opts.StopFollow is closed (at once when it is nil), saving the
// cursor with every batch it applies.
func (f *follower) run(ctx context.Context) error {
	stop := f.m.opts.StopFollow
	stopping := stop == nil
	for {
		n, err := f.round(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		f.m.progress(Progress{Phase: PhaseFollow, Done: f.done})
		if stopping {
			return nil
		}
		t := time.NewTimer(followPoll)
		select {
		case <-stop:
			stopping = true // read once more: what came meanwhile
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// round reads the changes committed after the cursor, counting them
// first, so that Progress can say how many are left, then applies them in
// batches. It returns how many it read.
func (f *follower) round(ctx context.Context) (int64, error) {
	opts := &persist.FeedOptions{Tables: f.tables}
	var pending int64
	var oldest time.Time
	for ch, err := range f.feed.Changes(ctx, f.state.Cursor, opts) {
		if err != nil {
			return 0, f.feedErr(err)
		}
		if pending++; pending == 1 {
			oldest = ch.Time
		}
	}
	if pending == 0 {
		return 0, nil
	}
	f.m.progress(Progress{Phase: PhaseFollow, Done: f.done, LagRecords: pending, LagSeconds: max(time.Since(oldest).Seconds(), 0)})
	var n int64
	batch := make([]persist.Change, 0, min(f.m.opts.BatchSize, int(pending)))
	bytes := 0
	apply := func() error {
		if err := f.apply(ctx, batch); err != nil {
			return err
		}
		n += int64(len(batch))
		f.done += int64(len(batch))
		last := batch[len(batch)-1]
		lag := max(pending-n, 0)
		p := Progress{Phase: PhaseFollow, Done: f.done, LagRecords: lag}
		if lag > 0 {
			p.LagSeconds = max(time.Since(last.Time).Seconds(), 0)
		}
		f.m.progress(p)
		batch, bytes = batch[:0], 0
		return nil
	}
	for ch, err := range f.feed.Changes(ctx, f.state.Cursor, opts) {
		if err != nil {
			return n, f.feedErr(err)
		}
		batch = append(batch, ch)
		bytes += len(ch.Data)
		if len(batch) == f.m.opts.BatchSize || bytes >= MaxBatchBytes {
			if err := apply(); err != nil {
				return n, err
			}
		}
	}
	if len(batch) > 0 {
		if err := apply(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// feedErr explains an expired cursor.
func (f *follower) feedErr(err error) error {
	if errors.Is(err, persist.ErrCursorExpired) {
		return fmt.Errorf("migrate: the source's feed no longer holds the changes after the cursor saved in %s on the target (pruned): start again into an empty target: %w", StateTable, err)
	}
	return err
}

// fold moves the records the target rejected while following into the
// tables' reports, and into the ids the verification does not count as
// mismatches.
func (f *follower) fold(trs []TableReport) {
	m := f.m
	for _, r := range f.rejected {
		i := slices.Index(f.tables, r.table)
		trs[i].RowsFailed++
		trs[i].addError(fmt.Sprintf("%s/%s: rejected by target while following: %v", r.table, r.id, r.err))
		m.mu.Lock()
		if m.failed[r.table] == nil {
			m.failed[r.table] = map[string]bool{}
		}
		m.failed[r.table][r.id] = true
		m.mu.Unlock()
	}
	f.rejected = f.rejected[:0]
}

// settle waits up to settleTime for changes following had not seen,
// reading the feed every followPoll, and applies them and what comes
// meanwhile; it returns how many it applied.
func (f *follower) settle(ctx context.Context) (int64, error) {
	deadline := time.Now().Add(settleTime)
	var total int64
	for {
		n, err := f.round(ctx)
		total += n
		switch {
		case err != nil:
			return total, err
		case n > 0:
			continue
		case total > 0 || time.Now().After(deadline):
			return total, nil
		}
		t := time.NewTimer(followPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return total, ctx.Err()
		}
	}
}

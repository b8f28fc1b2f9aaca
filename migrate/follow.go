package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// FollowReport is what following the source's change feed did (see
// [Options.Follow]).
type FollowReport struct {
	// Resumed is true when an earlier run had finished the copy, so this
	// one resumed following from the cursor that run saved, without
	// copying.
	Resumed bool `json:"resumed"`

	// ChangesRead is the number of changes read from the feed.
	ChangesRead int64 `json:"changes_read"`

	// ChangesSkipped is the number of changes the target already held, at
	// their revision or a later one: changes the copy had read, or read
	// twice around the cursor taken before the copy.
	ChangesSkipped int64 `json:"changes_skipped"`

	// RecordsInserted, RecordsUpdated and RecordsDeleted count the
	// records the changes inserted into the target, replaced on it and
	// deleted from it. Several changes to one record read together are
	// applied as one write.
	RecordsInserted int64 `json:"records_inserted"`
	RecordsUpdated  int64 `json:"records_updated"`
	RecordsDeleted  int64 `json:"records_deleted"`

	// RecordsFailed is the number of source records the target rejected
	// as invalid ([persist.ErrInvalid]) while following; the target lacks
	// them, and the tables' rows_failed and errors count and name them.
	RecordsFailed int64 `json:"records_failed"`

	// FollowSeconds is the time spent following, from the end of the copy
	// to the start of the final verification.
	FollowSeconds float64 `json:"follow_seconds"`
}

// NoFeedError reports that [Options.Follow] was asked of a source without
// the change feed it needs: a database that is not a [persist.ChangeFeed],
// or tables whose feed is off. It matches [persist.ErrInvalid]. Open the
// source with persist and call EnableFeed on those tables first (the
// earlier portal's writers may keep writing meanwhile: the feed records
// their writes too).
type NoFeedError struct {
	// Tables names the tables without the feed, or every table when the
	// database has none.
	Tables []string

	// NotChangeFeed is true when the source database offers no change
	// feed at all.
	NotChangeFeed bool
}

// Error names what the source lacks.
func (e *NoFeedError) Error() string {
	if e.NotChangeFeed {
		return "migrate: following needs a source with a change feed (persist.ChangeFeed); this source database has none"
	}
	return fmt.Sprintf("migrate: following needs the change feed on every table copied; it is off on %s (open the source with persist and call EnableFeed(%s) first)",
		strings.Join(e.Tables, ", "), strings.Join(e.Tables, ", "))
}

// Is reports whether target is [persist.ErrInvalid].
func (e *NoFeedError) Is(target error) bool { return target == persist.ErrInvalid }

// followState is the record of StateTable for one set of tables.
type followState struct {
	Tables []string `json:"tables"`
	Cursor string   `json:"cursor"`
	Copied bool     `json:"copied"` // the copy ended; only following is left
}

// stateID names the state record of a set of tables, in any order.
func stateID(tables []string) string {
	sorted := slices.Sorted(slices.Values(tables))
	sum := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	return "follow-" + hex.EncodeToString(sum[:16])
}

func (st *followState) record(tables []string) persist.Record {
	b, _ := json.Marshal(st) // strings and a bool: cannot fail
	return persist.Record{ID: stateID(tables), Data: b}
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

// loadState reads the saved state of tables from the target, if any.
func loadState(ctx context.Context, dst persist.DB, tables []string) (*followState, error) {
	s, err := dst.Store(StateTable)
	if err != nil {
		return nil, err
	}
	rec, err := s.Get(ctx, stateID(tables))
	if errors.Is(err, persist.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st followState
	if err := json.Unmarshal(rec.Data, &st); err != nil || st.Cursor == "" {
		return nil, fmt.Errorf("migrate: %w: the follow state %s/%s on the target is not one migrate wrote", persist.ErrInvalid, StateTable, rec.ID)
	}
	return &st, nil
}

// saveState writes the state of tables to the target.
func saveState(ctx context.Context, dst persist.DB, tables []string, st *followState) error {
	s, err := dst.Store(StateTable)
	if err != nil {
		return err
	}
	_, err = s.Put(ctx, st.record(tables))
	return err
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

// apply writes one batch of changes to the target in one transaction,
// with the cursor after it, and moves the cursor on.
//
// A record's changes are applied in commit order, each only when it is
// newer than what the target holds: an insert or update when its revision
// is above the target record's (or the record is missing), a delete when
// the target record's revision is not above the deleted one. Replaying
// changes the target already reflects (the copy read them, or the feed
// yields a change committed just before the cursor taken ahead of the copy)
// then changes nothing, and the target ends as the source is. The result
// for each record is written once: a record that changed is deleted and
// inserted again with the source's revision and update time (and its
// creation time), which InsertMany keeps; it then lists last in the
// target's insertion order.
func (f *follower) apply(ctx context.Context, batch []persist.Change) error {
	next := followState{Tables: f.state.Tables, Cursor: batch[len(batch)-1].Cursor, Copied: true}
	byTable := make(map[string][]persist.Change, len(f.tables))
	now := make(map[string]map[string]*persist.Record, len(f.tables))
	for _, ch := range batch {
		byTable[ch.Table] = append(byTable[ch.Table], ch)
	}
	for table, changes := range byTable {
		var err error
		if now[table], err = f.sourceNow(ctx, table, changes); err != nil {
			return err
		}
	}
	var rep applied
	err := f.m.dst.Tx(ctx, func(tx persist.Tx) error {
		rep = applied{}
		for _, table := range f.tables {
			changes := byTable[table]
			if len(changes) == 0 {
				continue
			}
			s, err := tx.Store(table)
			if err != nil {
				return err
			}
			if err := applyTable(ctx, s, changes, now[table], &rep); err != nil {
				return err
			}
		}
		st, err := tx.Store(StateTable)
		if err != nil {
			return err
		}
		_, err = st.Put(ctx, next.record(f.tables))
		return err
	})
	if err != nil {
		return err
	}
	f.state = next
	f.rep.ChangesRead += int64(len(batch))
	f.rep.ChangesSkipped += rep.ChangesSkipped
	f.rep.RecordsInserted += rep.RecordsInserted
	f.rep.RecordsUpdated += rep.RecordsUpdated
	f.rep.RecordsDeleted += rep.RecordsDeleted
	f.rep.RecordsFailed += int64(len(rep.rejected))
	f.rejected = append(f.rejected, rep.rejected...)
	return nil
}

// applied is what applying one batch did.
type applied struct {
	FollowReport // the counts
	rejected     []rejection
}

// rejection is a record the target rejected as invalid while following.
type rejection struct {
	table, id string
	err       error
}

// sourceNow reads the source's records that changes insert or update, as
// they are now, by id; a missing one is left out.
func (f *follower) sourceNow(ctx context.Context, table string, changes []persist.Change) (map[string]*persist.Record, error) {
	var ids []string
	seen := map[string]bool{}
	for _, ch := range changes {
		if ch.Op != persist.ChangeDelete && !seen[ch.ID] {
			seen[ch.ID] = true
			ids = append(ids, ch.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	s, err := f.m.src.Store(table)
	if err != nil {
		return nil, err
	}
	got, err := persist.GetMany(ctx, s, ids)
	if err != nil {
		return nil, err
	}
	now := make(map[string]*persist.Record, len(got))
	for i := range got {
		if got[i].Revision != 0 {
			now[ids[i]] = &got[i]
		}
	}
	return now, nil
}

// applyTable applies one table's changes of a batch (see apply). now
// holds the source's records as they were read after the changes: where
// one is at the revision a change leaves, or a later one, it is written
// instead of the change's document, so the target gets the source's
// exact bytes and times (a change's Time is not the record's update
// time to the microsecond); a later revision is harmless, since the
// changes that lead to it are then skipped by revision.
func applyTable(ctx context.Context, s persist.Store, changes []persist.Change, now map[string]*persist.Record, rep *applied) error {
	var ids []string
	seen := map[string]bool{}
	for _, ch := range changes {
		if !seen[ch.ID] {
			seen[ch.ID] = true
			ids = append(ids, ch.ID)
		}
	}
	got, err := persist.GetMany(ctx, s, ids)
	if err != nil {
		return err
	}
	type entry struct {
		orig, cur *persist.Record
	}
	recs := make(map[string]*entry, len(ids))
	for i, id := range ids {
		e := &entry{}
		if got[i].Revision != 0 { // a zero Record: missing
			e.orig = &got[i]
			e.cur = e.orig
		}
		recs[id] = e
	}
	for _, ch := range changes {
		e := recs[ch.ID]
		switch ch.Op {
		case persist.ChangeInsert, persist.ChangeUpdate:
			if e.cur != nil && e.cur.Revision >= ch.Revision {
				rep.ChangesSkipped++
				continue
			}
			created := ch.Time
			if e.cur != nil {
				created = e.cur.Created
			}
			e.cur = &persist.Record{ID: ch.ID, Data: ch.Data, Revision: ch.Revision, Created: created, Updated: ch.Time}
		case persist.ChangeDelete:
			if e.cur == nil || e.cur.Revision > ch.Revision {
				rep.ChangesSkipped++
				continue
			}
			e.cur = nil
		}
	}
	var del []string
	var ins []persist.Record
	for _, id := range ids {
		e := recs[id]
		if e.cur == e.orig {
			continue
		}
		if e.orig != nil {
			del = append(del, id)
		}
		if e.cur == nil {
			rep.RecordsDeleted++
			continue
		}
		rec := *e.cur
		if src := now[id]; src != nil && src.Revision >= rec.Revision {
			rec = *src
		}
		ins = append(ins, rec)
	}
	if len(del) > 0 {
		if _, err := persist.DeleteMany(ctx, s, del); err != nil {
			return err
		}
	}
	if len(ins) == 0 {
		return nil
	}
	res, err := s.InsertMany(ctx, ins)
	if errors.Is(err, persist.ErrInvalid) && ctx.Err() == nil {
		// InsertMany validates before writing, so nothing was written:
		// find the records the target cannot store, as the copy does.
		res, err = persist.InsertResult{}, nil
		kept := ins[:0]
		for _, rec := range ins {
			r, err := s.InsertMany(ctx, []persist.Record{rec})
			switch {
			case errors.Is(err, persist.ErrInvalid) && ctx.Err() == nil:
				rep.rejected = append(rep.rejected, rejection{s.Name(), rec.ID, err})
				continue
			case err != nil:
				return err
			}
			res.Inserted += r.Inserted
			kept = append(kept, rec)
		}
		ins = kept
	}
	if err != nil {
		return err
	}
	if res.Inserted != len(ins) {
		return fmt.Errorf("migrate: applying changes to %s: %d of %d records inserted; another writer is writing to the target", s.Name(), res.Inserted, len(ins))
	}
	for _, rec := range ins {
		if recs[rec.ID].orig == nil {
			rep.RecordsInserted++
		} else {
			rep.RecordsUpdated++
		}
	}
	return nil
}

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
	for _, r := range f.rejected {
		i := slices.Index(tables, r.table)
		trs[i].RowsFailed++
		trs[i].addError(fmt.Sprintf("%s/%s: rejected by target while following: %v", r.table, r.id, r.err))
		m.mu.Lock()
		if m.failed[r.table] == nil {
			m.failed[r.table] = map[string]bool{}
		}
		m.failed[r.table][r.id] = true
		m.mu.Unlock()
	}
	if err != nil {
		return trs, err
	}

	_, err = m.each(ctx, tables, func(ctx context.Context, i int, name string) error {
		return m.verifyTable(ctx, name, &trs[i])
	})
	if err != nil {
		return trs, err
	}
	// A write during the verification may have made it compare the
	// target with a source it no longer matches, either way.
	moved := map[string]bool{}
	for ch, err := range feed.Changes(ctx, f.state.Cursor, &persist.FeedOptions{Tables: tables}) {
		if err != nil {
			return trs, f.feedErr(err)
		}
		moved[ch.Table] = true
	}
	for i := range trs {
		if tr := &trs[i]; moved[tr.Table] {
			tr.Verified, tr.SourceChanged = false, true
			tr.addError(fmt.Sprintf("%s: source changed during the final verification; pause its writers before stopping, and run again to resume", tr.Table))
		}
	}
	return trs, nil
}

// verifyTable compares both sides of a table by id after following.
func (m *migration) verifyTable(ctx context.Context, name string, tr *TableReport) error {
	start := time.Now()
	defer func() {
		tr.VerifySeconds += time.Since(start).Seconds()
		tr.ElapsedSeconds += time.Since(start).Seconds()
	}()
	from, err := m.src.Store(name)
	if err != nil {
		return err
	}
	to, err := m.dst.Store(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	failed := m.failed[name]
	m.mu.Unlock()
	return m.verify(ctx, name, from, to, tr.RowsRead, tr, failed)
}

package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/persistkit/persist"
)

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

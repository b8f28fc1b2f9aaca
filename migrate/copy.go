package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/persistkit/persist"
)

// Copy copies the tables opts names (every source table by default) from
// src to dst, verifies every copied table by digest, and reports what it
// did. It never writes to src and never modifies or deletes a record of dst.
// The report is never nil; on error it covers the tables attempted so far.
// The package documentation lists the errors and what each means.
func Copy(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{})
}

// hooks change how Copy works inside, for tests.
type hooks struct {
	noSpool    bool // list the source again to verify
	runEntries int  // entries per sorted spool run; 0 means runEntries
}

func copyDB(ctx context.Context, src, dst persist.DB, opts *Options, h hooks) (*Report, error) {
	start := time.Now()
	var o Options
	if opts != nil {
		o = *opts
	}
	report := &Report{DryRun: o.DryRun, Tables: []TableReport{}, Totals: newCounts()}
	defer func() { report.Totals.ElapsedSeconds = time.Since(start).Seconds() }()

	if src == nil || dst == nil {
		return report, fmt.Errorf("migrate: %w: source and target databases must not be nil", persist.ErrInvalid)
	}
	switch {
	case o.BatchSize == 0:
		o.BatchSize = DefaultBatchSize
	case o.BatchSize < 0 || o.BatchSize > MaxBatchSize:
		return report, fmt.Errorf("migrate: %w: batch size %d is outside 1..%d", persist.ErrInvalid, o.BatchSize, MaxBatchSize)
	}
	srcTables, err := src.Tables(ctx)
	if err != nil {
		return report, err
	}
	tables := srcTables
	if len(o.Tables) > 0 {
		tables = o.Tables
		seen := make(map[string]bool, len(tables))
		for _, name := range tables {
			if seen[name] {
				return report, fmt.Errorf("migrate: %w: table %q is listed twice", persist.ErrInvalid, name)
			}
			seen[name] = true
			// Opening a table the source lacks would create it there.
			if !slices.Contains(srcTables, name) {
				return report, fmt.Errorf("migrate: %w: table %q does not exist in the source", persist.ErrInvalid, name)
			}
		}
	}
	m := &migration{src: src, dst: dst, opts: o, hooks: h}
	if o.DryRun {
		// Opening a missing table on the target would create it, so a dry
		// run compares only with the tables that already exist there.
		dstTables, err := dst.Tables(ctx)
		if err != nil {
			return report, err
		}
		m.dstHas = make(map[string]bool, len(dstTables))
		for _, name := range dstTables {
			m.dstHas[name] = true
		}
	}

	var mismatched, failed []string
	for _, name := range tables {
		tr, err := m.table(ctx, name)
		report.Tables = append(report.Tables, tr)
		report.Totals.add(&tr.Counts)
		if err != nil {
			return report, err
		}
		if tr.DigestMismatches > 0 {
			mismatched = append(mismatched, name)
		}
		if tr.RowsFailed > 0 {
			failed = append(failed, name)
		}
	}
	var errs []error
	if len(mismatched) > 0 {
		errs = append(errs, &DigestMismatchError{Mismatches: report.Totals.DigestMismatches, Tables: mismatched})
	}
	if len(failed) > 0 {
		errs = append(errs, &PartialFailureError{Failed: report.Totals.RowsFailed, Tables: failed})
	}
	if len(errs) == 1 {
		return report, errs[0]
	}
	return report, errors.Join(errs...)
}

// migration is one call of Copy.
type migration struct {
	src, dst persist.DB
	opts     Options
	dstHas   map[string]bool // dry run only: tables that exist on the target
	hooks
}

func (m *migration) progress(p Progress) {
	if m.opts.Progress != nil {
		m.opts.Progress(p)
	}
}

// table copies and verifies one table.
func (m *migration) table(ctx context.Context, name string) (tr TableReport, err error) {
	start := time.Now()
	tr = TableReport{Table: name, Counts: newCounts()}
	defer func() { tr.ElapsedSeconds = time.Since(start).Seconds() }()

	from, err := m.src.Store(name)
	if err != nil {
		return tr, err
	}
	total, err := from.Count(ctx)
	if err != nil {
		return tr, err
	}
	var to persist.Store
	if !m.opts.DryRun || m.dstHas[name] {
		if to, err = m.dst.Store(name); err != nil {
			return tr, err
		}
	}
	// finish is set while a bulk load is open; every return below goes
	// through endBulkLoad, so an interrupted copy restores the target's
	// indexes too.
	var finish func(context.Context) error
	if bl, ok := to.(persist.BulkLoader); ok && !m.opts.DryRun {
		if finish, err = bl.BeginBulkLoad(ctx); err != nil {
			return tr, err
		}
		defer func() {
			if finish != nil {
				err = joinErrors(err, endBulkLoad(ctx, finish, &tr))
			}
		}()
	}

	tr.PrepareSeconds = time.Since(start).Seconds()

	var failed map[string]bool
	var sp *spool
	if !m.opts.DryRun {
		// The source side of verification is hashed from the records
		// the copy reads, while it runs (see spool).
		if !m.noSpool {
			if sp = startSpool(cmp.Or(m.runEntries, runEntries)); sp != nil {
				defer sp.close()
			}
		}
		failed = map[string]bool{}
		copyStart := time.Now()
		err = m.copyRows(ctx, name, from, to, total, &tr, failed, sp)
		if sp != nil {
			sp.finish()
		}
		tr.CopySeconds = time.Since(copyStart).Seconds()
		if err != nil {
			return tr, err // the deferred endBulkLoad restores the indexes
		}
	}
	// The deferred indexes are built while verification reads the target
	// in insertion order, which needs none of them (the build blocks
	// writes, not reads); Copy returns only once both are done, so the
	// table is whole again.
	var indexed chan indexResult
	if finish != nil {
		f := finish
		finish = nil
		m.progress(Progress{Table: name, Phase: PhaseIndex})
		indexed = make(chan indexResult, 1)
		go func() {
			var r TableReport
			err := endBulkLoad(ctx, f, &r)
			indexed <- indexResult{r.IndexSeconds, err}
		}()
	}
	verifyStart := time.Now()
	before := tr
	before.Errors = slices.Clone(tr.Errors)
	err = m.verify(ctx, name, from, to, sp, !m.noSpool, total, &tr, failed)
	if _, ok := errors.AsType[*spoolError](err); ok && ctx.Err() == nil {
		tr = before // start over, listing both sides by id now
		err = m.verify(ctx, name, from, to, nil, false, total, &tr, failed)
	}
	tr.VerifySeconds = time.Since(verifyStart).Seconds()
	if indexed != nil {
		r := <-indexed
		tr.IndexSeconds = r.seconds
		err = joinErrors(err, r.err)
	}
	return tr, err
}

// indexResult is the outcome of building the deferred indexes.
type indexResult struct {
	seconds float64
	err     error
}

// finishTimeout bounds restoring the target's indexes after ctx was
// cancelled. If it runs out, the backend restores them when the table is
// next opened.
const finishTimeout = 2 * time.Minute

// endBulkLoad calls a bulk load's finish and records how long it took. A
// cancelled ctx must not leave the target's indexes missing, so finish
// then runs under a context of its own, bounded by finishTimeout.
func endBulkLoad(ctx context.Context, finish func(context.Context) error, tr *TableReport) error {
	start := time.Now()
	defer func() { tr.IndexSeconds = time.Since(start).Seconds() }()
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
	}
	return finish(ctx)
}

// joinErrors returns a and b joined, or the one that is not nil unchanged.
func joinErrors(a, b error) error {
	switch {
	case b == nil:
		return a
	case a == nil:
		return b
	}
	return errors.Join(a, b)
}

// copyRows streams the table from one goroutine reading batches while this
// one writes the previous batch, so the two databases work at the same
// time, and hands each batch to sp (when not nil), which hashes it
// meanwhile. The channels hold one batch each: at most five are in memory.
func (m *migration) copyRows(ctx context.Context, name string, from, to persist.Store, total int64, tr *TableReport, failed map[string]bool, sp *spool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []persist.Record, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, from, nil, m.opts.BatchSize, batches)
	}()

	m.progress(Progress{Table: name, Phase: PhaseCopy, Total: total})
	var done int64
	var werr error
	for batch := range batches {
		if werr != nil {
			continue // drain, so the reader can see the cancellation and exit
		}
		tr.RowsRead += int64(len(batch))
		if sp != nil && !sp.add(ctx, batch) {
			werr = ctx.Err()
			cancel()
			continue
		}
		if werr = m.writeBatch(ctx, name, to, batch, tr, failed); werr != nil {
			cancel()
			continue
		}
		done += int64(len(batch))
		m.progress(Progress{Table: name, Phase: PhaseCopy, Done: done, Total: total})
	}
	rerr := <-readErr
	if werr != nil {
		return werr
	}
	return rerr
}

// readBatches lists the table (in insertion order for the copy, so the
// target assigns the same order) and sends it on in batches of size
// records.
func readBatches(ctx context.Context, from persist.Store, opts *persist.ListOptions, size int, out chan<- []persist.Record) error {
	batch := make([]persist.Record, 0, size)
	send := func() bool {
		select {
		case out <- batch:
			batch = make([]persist.Record, 0, size)
			return true
		case <-ctx.Done():
			return false
		}
	}
	for rec, err := range from.List(ctx, opts) {
		if err != nil {
			return err
		}
		batch = append(batch, rec)
		if len(batch) == size && !send() {
			return ctx.Err()
		}
	}
	if len(batch) > 0 && !send() {
		return ctx.Err()
	}
	return nil
}

// writeBatch inserts one batch. When the target rejects the batch as
// invalid, it inserts the records one by one to find the bad ones, counts
// and names them, and goes on with the rest.
func (m *migration) writeBatch(ctx context.Context, name string, to persist.Store, batch []persist.Record, tr *TableReport, failed map[string]bool) error {
	res, err := to.InsertMany(ctx, batch)
	tr.RowsInserted += int64(res.Inserted)
	if err == nil {
		tr.RowsSkippedDuplicate += int64(res.Skipped)
		return nil
	}
	if !errors.Is(err, persist.ErrInvalid) || ctx.Err() != nil {
		tr.RowsSkippedDuplicate += int64(res.Skipped)
		return err
	}
	// InsertMany validates before writing, so normally nothing of the
	// batch was written; if some was, those records come back as skipped
	// below and must not be counted twice.
	skipped := -int64(res.Inserted)
	for i := range batch {
		r, err := to.InsertMany(ctx, batch[i:i+1])
		switch {
		case err == nil:
			tr.RowsInserted += int64(r.Inserted)
			skipped += int64(r.Skipped)
		case errors.Is(err, persist.ErrInvalid) && ctx.Err() == nil:
			tr.RowsFailed++
			failed[batch[i].ID] = true
			tr.addError(fmt.Sprintf("%s/%s: rejected by target: %v", name, batch[i].ID, err))
		default:
			return err
		}
	}
	tr.RowsSkippedDuplicate += max(skipped, 0)
	return nil
}

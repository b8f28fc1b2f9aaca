package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/persistkit/persist"
)

// Copy copies the tables opts names (every source table by default) from
// src to dst, verifies every copied table by digest, and reports what it
// did. It never writes to src, and never modifies or deletes a record of
// dst except, with [Options.Follow], to apply the source's later writes to
// it. The report is never nil; on error it covers the tables attempted so far.
// The package documentation lists the errors and what each means.
func Copy(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{})
}

// hooks change how Copy works inside, for tests.
type hooks struct {
	noLookup bool // verify by listing both sides after the copy, instead of batch by batch
	noTail   bool // look every batch up by id, as when the target was not empty

	// started, when set, is called as each table's migration starts, on
	// the goroutine migrating it.
	started func(table string)
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
	switch {
	case o.Parallel == 0:
		o.Parallel = 1
	case o.Parallel < 0 || o.Parallel > MaxParallel:
		return report, fmt.Errorf("migrate: %w: parallel %d is outside 1..%d", persist.ErrInvalid, o.Parallel, MaxParallel)
	}
	srcTables, err := src.Tables(ctx)
	if err != nil {
		return report, err
	}
	tables := slices.DeleteFunc(slices.Clone(srcTables), func(t string) bool { return t == StateTable })
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
	if o.Follow && o.DryRun {
		return report, fmt.Errorf("migrate: %w: a dry run cannot follow the source", persist.ErrInvalid)
	}
	m := &migration{src: src, dst: dst, opts: o, hooks: h, seed: maphash.MakeSeed(), failed: map[string]map[string]bool{}}
	if !o.DryRun && !o.Follow {
		// Before any table is read: the source's own word that nothing
		// was written since spares reading it again (see sourceMoved).
		changed, release, err := persist.MarkWrites(ctx, src)
		if err != nil {
			return report, err
		}
		defer release()
		m.srcWritten = changed
	}
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

	var trs []TableReport
	if o.Follow {
		trs, err = m.online(ctx, tables, report)
	} else {
		trs, err = m.tables(ctx, tables)
	}
	for i := range trs {
		report.Tables = append(report.Tables, trs[i])
		report.Totals.add(&trs[i].Counts)
	}
	if err != nil {
		return report, err
	}
	var mismatched, failed, moved []string
	for _, tr := range trs {
		name := tr.Table
		if tr.DigestMismatches > 0 {
			mismatched = append(mismatched, name)
		}
		if tr.RowsFailed > 0 {
			failed = append(failed, name)
		}
		if tr.SourceChanged {
			moved = append(moved, name)
		}
	}
	var errs []error
	if len(moved) > 0 {
		report.SourceChanged = true
		errs = append(errs, &SourceChangedError{Tables: moved})
	}
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

// tables migrates the tables, up to opts.Parallel at once, started in
// order. It returns the reports of the tables it started, in order, and
// the first error; after an error it starts no more tables, and cancels
// those under way.
func (m *migration) tables(ctx context.Context, names []string) ([]TableReport, error) {
	trs := make([]TableReport, len(names))
	started, err := m.each(ctx, names, func(ctx context.Context, i int, name string) error {
		var err error
		trs[i], err = m.table(ctx, name)
		return err
	})
	return trs[:started], err
}

// each calls fn for each name, up to opts.Parallel at once, started in
// order (one at a time on this goroutine when Parallel is 1). It returns
// how many it started and the first error; after an error it starts no
// more, and cancels the context of those under way.
func (m *migration) each(ctx context.Context, names []string, fn func(ctx context.Context, i int, name string) error) (int, error) {
	if m.opts.Parallel == 1 {
		for i, name := range names {
			if err := fn(ctx, i, name); err != nil {
				return i + 1, err
			}
		}
		return len(names), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, m.opts.Parallel)
	started := 0
	for i, name := range names {
		slots <- struct{}{}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		started++
		wg.Go(func() {
			defer func() { <-slots }()
			if err := fn(ctx, i, name); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel() // the others stop too
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return started, firstErr
}

// migration is one call of Copy.
type migration struct {
	src, dst persist.DB
	opts     Options
	dstHas   map[string]bool // dry run only: tables that exist on the target
	seed     maphash.Seed    // of the fingerprints of the source's records

	// srcWritten reports whether a write may have been committed to the
	// source since the copy began (persist.MarkWrites).
	srcWritten func(context.Context) (bool, error)
	progMu     sync.Mutex // Progress is called once at a time

	mu     sync.Mutex
	failed map[string]map[string]bool // by table, the ids the target rejected
	hooks
}

func (m *migration) progress(p Progress) {
	if m.opts.Progress != nil {
		m.progMu.Lock()
		defer m.progMu.Unlock()
		m.opts.Progress(p)
	}
}

// table copies and verifies one table.
func (m *migration) table(ctx context.Context, name string) (tr TableReport, err error) {
	if m.started != nil {
		m.started(name)
	}
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
	if !m.opts.DryRun {
		if finish, err = persist.BeginBulkLoad(ctx, to); err != nil {
			return tr, err
		}
		defer func() {
			if finish != nil {
				err = joinErrors(err, endBulkLoad(ctx, finish, &tr))
			}
		}()
	}

	tr.PrepareSeconds = time.Since(start).Seconds()

	if m.opts.DryRun {
		verifyStart := time.Now()
		err = m.verify(ctx, name, from, to, total, &tr, nil, nil)
		tr.VerifySeconds = time.Since(verifyStart).Seconds()
		return tr, err
	}
	failed := map[string]bool{}
	m.mu.Lock()
	m.failed[name] = failed
	m.mu.Unlock()
	read := newFingerprint(m.seed)
	if err = m.copyRows(ctx, name, from, to, total, &tr, failed, read); err != nil {
		return tr, err // the deferred endBulkLoad restores the indexes
	}
	if m.opts.Follow {
		// The verification comes after following the feed.
		return tr, m.endBulk(ctx, name, &finish, &tr)
	}
	// The copy verified what it wrote, unless the target cannot look
	// records up by id; that one is compared by listing both sides.
	verifyStart := time.Now()
	if !tr.Verified {
		err = m.verify(ctx, name, from, to, total, &tr, failed, nil)
	}
	if err == nil && tr.Verified {
		var moved bool
		var now int64
		if moved, now, err = sourceMoved(ctx, from, m.srcWritten, read); moved {
			tr.Verified, tr.SourceChanged = false, true
			tr.addError(fmt.Sprintf("%s: source changed during the copy: the copy read %d records, the source holds %d, not all of them as read",
				name, read.n, now))
		}
	}
	tr.VerifySeconds += time.Since(verifyStart).Seconds()
	return tr, joinErrors(err, m.endBulk(ctx, name, &finish, &tr))
}

// endBulk ends the bulk load *finish began, if any, and clears it.
func (m *migration) endBulk(ctx context.Context, name string, finish *func(context.Context) error, tr *TableReport) error {
	if *finish == nil {
		return nil
	}
	f := *finish
	*finish = nil
	m.progress(Progress{Table: name, Phase: PhaseIndex})
	return endBulkLoad(ctx, f, tr)
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
// time, and hands each written batch to a checker, which verifies it
// meanwhile. The channels hold one
// batch each: at most six are in memory (one being read, one queued for
// the writer, one being written, one queued for the checker and, at most,
// two being checked). The ids the target rejected are added to failed.
func (m *migration) copyRows(ctx context.Context, name string, from, to persist.Store, total int64, tr *TableReport, failed map[string]bool, read *fingerprint) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var chk *checker
	if !m.noLookup && !m.opts.Follow {
		empty, err := isEmpty(ctx, to)
		if err != nil {
			return err
		}
		chk = startChecker(ctx, name, to, empty && !m.noTail, cancel)
	}
	batches := make(chan []persist.Record, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, from, nil, m.opts.BatchSize, batches)
	}()

	m.progress(Progress{Table: name, Phase: PhaseCopy, Total: total})
	copyStart := time.Now()
	var done int64
	var werr error
	for batch := range batches {
		if werr != nil {
			continue // drain, so the reader can see the cancellation and exit
		}
		tr.RowsRead += int64(len(batch))
		for i := range batch {
			read.add(&batch[i])
		}
		rejected, err := m.writeBatch(ctx, name, to, batch, tr)
		maps.Copy(failed, rejected)
		if werr = err; werr != nil {
			cancel()
			continue
		}
		if chk != nil && !chk.add(ctx, checkBatch{batch, rejected}) {
			werr = ctx.Err()
			continue
		}
		done += int64(len(batch))
		m.progress(Progress{Table: name, Phase: PhaseCopy, Done: done, Total: total})
	}
	rerr := <-readErr
	tr.CopySeconds = time.Since(copyStart).Seconds()
	if chk == nil {
		return cmp.Or(werr, rerr)
	}
	verifyStart := time.Now()
	chk.finish()
	// A failed checker cancelled ctx, which is how the copy stopped.
	if err := cmp.Or(chk.err, werr, rerr); err != nil {
		return err
	}
	m.progress(Progress{Table: name, Phase: PhaseVerify, Total: done})
	// Every source id was looked up; whatever else the target holds is
	// extra. Counted now, after the last write.
	n, err := to.Count(ctx)
	if err != nil {
		return err
	}
	tr.DigestMismatches += chk.counts.DigestMismatches
	tr.RowsVerified += chk.counts.RowsVerified
	for _, e := range chk.counts.Errors {
		tr.addError(e)
	}
	tr.ErrorsOmitted += chk.counts.ErrorsOmitted
	tr.ExtraTargetRows = max(n-chk.found, 0)
	tr.Verified = true
	tr.VerifySeconds = time.Since(verifyStart).Seconds()
	m.progress(Progress{Table: name, Phase: PhaseVerify, Done: done, Total: done})
	return nil
}

// isEmpty reports whether s has no records.
func isEmpty(ctx context.Context, s persist.Store) (bool, error) {
	for _, err := range s.List(ctx, &persist.ListOptions{Limit: 1}) {
		return false, err
	}
	return true, nil
}

// readBatches lists the table (in insertion order for the copy, so the
// target assigns the same order) and sends it on in batches of size
// records, or fewer whose documents reach MaxBatchBytes.
func readBatches(ctx context.Context, from persist.Store, opts *persist.ListOptions, size int, out chan<- []persist.Record) error {
	batch := make([]persist.Record, 0, size)
	bytes := 0
	send := func() bool {
		select {
		case out <- batch:
			batch, bytes = make([]persist.Record, 0, size), 0
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
		bytes += len(rec.Data)
		if (len(batch) == size || bytes >= MaxBatchBytes) && !send() {
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
// and names them, and goes on with the rest; it returns their ids.
func (m *migration) writeBatch(ctx context.Context, name string, to persist.Store, batch []persist.Record, tr *TableReport) (failed map[string]bool, err error) {
	res, err := to.InsertMany(ctx, batch)
	tr.RowsInserted += int64(res.Inserted)
	if err == nil {
		tr.RowsSkippedDuplicate += int64(res.Skipped)
		return nil, nil
	}
	if !errors.Is(err, persist.ErrInvalid) || ctx.Err() != nil {
		tr.RowsSkippedDuplicate += int64(res.Skipped)
		return nil, err
	}
	// InsertMany validates before writing, so normally nothing of the
	// batch was written; if some was, those records come back as skipped
	// below and must not be counted twice.
	skipped := -int64(res.Inserted)
	failed = map[string]bool{}
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
			return failed, err
		}
	}
	tr.RowsSkippedDuplicate += max(skipped, 0)
	return failed, nil
}

package migrate

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
)

// checker verifies a copy batch by batch: once a batch is written, it reads
// the same records back from the target and compares each one with its
// source record (see same). It runs on goroutines of its own, so batches
// are verified while the next ones are written, and the target is read
// once, never sorted.
//
// A target table that was empty before the copy holds the batches in the
// order they were written, so each batch is read back as the next page in
// insertion order, which the database serves from consecutive rows. As
// soon as that page is not the batch (another writer, say), batches are
// looked up by id instead, which any target order allows but costs the
// database an index probe per record: 2.5 times the time per batch of
// 5000 on PostgreSQL.
type checker struct {
	table string
	to    persist.Store
	in    chan checkBatch
	wg    sync.WaitGroup

	// jsonbText is cleared once a batch had no record whose target bytes
	// were its source's jsonb text.
	jsonbText atomic.Bool

	// In order, on the one goroutine that reads pages; tail is false
	// once the target's order was found to differ, and then for good.
	tail   bool
	cursor string // the last id read back (ListOptions.After)

	mu     sync.Mutex
	counts Counts // DigestMismatches, RowsVerified and Errors
	found  int64  // source records present on the target, equal or not
	err    error  // the first failure to read the target
}

// checkers is the number of batches verified at once. A batch's lookup
// waits on the target and its digests on the CPU, so two overlap the one
// with the other; in the migration benchmark one checker held the copy
// back.
const checkers = 2

// checkBatch is one written batch and the ids the target rejected from it,
// which are counted in rows_failed and not looked up.
type checkBatch struct {
	recs   []persist.Record
	failed map[string]bool
}

// startChecker starts verifying the batches handed to add; tail says that
// the target table was empty before the copy. cancel is called when the
// target cannot be read, so that the copy stops too.
func startChecker(ctx context.Context, table string, to persist.Store, tail bool, cancel context.CancelFunc) *checker {
	c := &checker{table: table, to: to, tail: tail, in: make(chan checkBatch, 1), counts: newCounts()}
	c.jsonbText.Store(true)
	n := checkers
	if tail {
		n = 1 // pages are read in order
	}
	for range n {
		c.wg.Go(func() {
			for b := range c.in {
				if ctx.Err() != nil {
					continue // drain: the copy is stopping
				}
				if err := c.check(ctx, b); err != nil {
					c.mu.Lock()
					c.err = cmp.Or(c.err, err)
					c.mu.Unlock()
					cancel() // the copy stops; add returns false
				}
			}
		})
	}
	return c
}

// add hands over a written batch, waiting while the checker is a batch
// behind. It returns false when ctx is done first.
func (c *checker) add(ctx context.Context, b checkBatch) bool {
	select {
	case c.in <- b:
		return true
	case <-ctx.Done():
		return false
	}
}

// finish waits until every batch handed over is verified.
func (c *checker) finish() {
	close(c.in)
	c.wg.Wait()
}

// check verifies one batch: it reads the batch back, then compares each
// pair of records (see same), and counts.
func (c *checker) check(ctx context.Context, b checkBatch) error {
	src := make([]*persist.Record, 0, len(b.recs))
	ids := make([]string, 0, len(b.recs))
	for i := range b.recs {
		if rec := &b.recs[i]; !b.failed[rec.ID] {
			src = append(src, rec)
			ids = append(ids, rec.ID)
		}
	}
	got, err := c.fetch(ctx, ids)
	if err != nil {
		return err
	}
	if len(got) != len(src) {
		return fmt.Errorf("migrate: target table %s returned %d records for %d ids", c.table, len(got), len(src))
	}
	var problems []string
	var verified, found int64
	var by pairCounts
	var text []byte
	for i, s := range src {
		t := &got[i]
		if t.Revision == 0 { // a zero Record: the empty id is an id
			problems = append(problems, fmt.Sprintf("%s/%s: missing on target", c.table, s.ID))
			continue
		}
		found++
		var problem string
		text, problem = c.same(text, s.Data, t.Data, &by)
		if problem != "" {
			problems = append(problems, fmt.Sprintf("%s/%s: digest mismatch: %s", c.table, s.ID, problem))
			continue
		}
		verified++
	}
	if by.text == 0 && by.digest > 0 {
		// The target does not store jsonb's text (SQLite compacts what
		// it is given): stop rendering it.
		c.jsonbText.Store(false)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.found += found
	c.counts.RowsVerified += verified
	c.counts.DigestMismatches += int64(len(problems))
	for _, p := range problems {
		c.counts.addError(p)
	}
	return nil
}

// pairCounts counts how the pairs of a batch that differ in bytes were
// compared.
type pairCounts struct{ text, digest int }

// same compares a source record's data with its target record's and says
// how they differ, or "" when they are equal. Equal bytes are equal; so
// are target bytes equal to the source's jsonb text (what a PostgreSQL
// target stores), which spares canonicalising and hashing both; any other
// pair is equal when their digests are. text is scratch space, returned
// for reuse.
func (c *checker) same(text, src, dst []byte, by *pairCounts) ([]byte, string) {
	if bytes.Equal(src, dst) {
		return text, ""
	}
	if c.jsonbText.Load() {
		var ok bool
		if text, ok = jsonx.JSONBText(text[:0], src); ok && bytes.Equal(text, dst) {
			by.text++
			return text, ""
		}
	}
	by.digest++
	s, sbad := jsonx.Digest(src)
	d, dbad := jsonx.Digest(dst)
	switch {
	case sbad != nil:
		return text, fmt.Sprintf("source data: %v", sbad)
	case dbad != nil:
		return text, fmt.Sprintf("target data: %v", dbad)
	case s != d:
		return text, "target record differs from source (left unchanged)"
	}
	return text, ""
}

// fetch reads the target's records with the given ids, in that order; a
// missing one is a zero Record.
func (c *checker) fetch(ctx context.Context, ids []string) ([]persist.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if c.tail {
		got, ok, err := c.next(ctx, ids)
		if ok || err != nil {
			return got, err
		}
		c.tail = false
	}
	return persist.GetMany(ctx, c.to, ids)
}

// next reads the page after the cursor in insertion order. ok is false
// when the page is not ids in order (or the cursor record was deleted).
func (c *checker) next(ctx context.Context, ids []string) (got []persist.Record, ok bool, err error) {
	got = make([]persist.Record, 0, len(ids))
	for rec, err := range c.to.List(ctx, &persist.ListOptions{After: c.cursor, Limit: len(ids)}) {
		switch {
		case errors.Is(err, persist.ErrNotFound):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		case rec.ID != ids[len(got)]:
			return nil, false, nil
		}
		got = append(got, rec)
	}
	if len(got) < len(ids) {
		return nil, false, nil
	}
	c.cursor = ids[len(ids)-1]
	return got, true, nil
}

package migrate

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
)

// checker verifies a copy batch by batch: once a batch is written, it reads
// the same ids back from the target in one round trip and compares each
// record's digest with its source record's. It runs on goroutines of its
// own, so batches are verified while the next ones are written, and the
// target is never read a second time or sorted: the ids it asks for are
// the ones the copy just wrote. Memory is a few batches.
type checker struct {
	table string
	to    persist.Batcher
	in    chan checkBatch
	wg    sync.WaitGroup

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

// startChecker starts verifying the batches handed to add. cancel is called
// when the target cannot be read, so that the copy stops too.
func startChecker(ctx context.Context, table string, to persist.Batcher, cancel context.CancelFunc) *checker {
	c := &checker{table: table, to: to, in: make(chan checkBatch, 1), counts: newCounts()}
	for range checkers {
		c.wg.Go(func() {
			for b := range c.in {
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

// check verifies one batch. The source digests are computed while the
// target answers.
func (c *checker) check(ctx context.Context, b checkBatch) error {
	ids := make([]string, 0, len(b.recs))
	src := make([]entry, 0, len(b.recs))
	for i := range b.recs {
		if id := b.recs[i].ID; !b.failed[id] {
			ids = append(ids, id)
		}
	}
	var got []persist.Record
	var err error
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		got, err = c.to.GetMany(ctx, ids, false)
	}()
	for i := range b.recs {
		rec := &b.recs[i]
		if !b.failed[rec.ID] {
			e := entry{id: rec.ID}
			e.sum, e.bad = jsonx.Digest(rec.Data)
			src = append(src, e)
		}
	}
	<-fetched
	if err != nil {
		return err
	}
	if len(got) != len(src) {
		return fmt.Errorf("migrate: target table %s returned %d records for %d ids", c.table, len(got), len(src))
	}
	sums := make([][32]byte, len(got))
	bads := make([]error, len(got))
	for i := range got {
		if got[i].ID != "" {
			sums[i], bads[i] = jsonx.Digest(got[i].Data)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range src {
		s, t := &src[i], &got[i]
		if t.ID == "" {
			c.counts.DigestMismatches++
			c.counts.addError(fmt.Sprintf("%s/%s: missing on target", c.table, s.id))
			continue
		}
		c.found++
		sum, bad := sums[i], bads[i]
		switch {
		case s.bad != nil:
			c.counts.DigestMismatches++
			c.counts.addError(fmt.Sprintf("%s/%s: digest mismatch: source data: %v", c.table, s.id, s.bad))
		case bad != nil:
			c.counts.DigestMismatches++
			c.counts.addError(fmt.Sprintf("%s/%s: digest mismatch: target data: %v", c.table, s.id, bad))
		case !bytes.Equal(s.sum[:], sum[:]):
			c.counts.DigestMismatches++
			c.counts.addError(fmt.Sprintf("%s/%s: digest mismatch: target record differs from source (left unchanged)", c.table, s.id))
		default:
			c.counts.RowsVerified++
		}
	}
	return nil
}

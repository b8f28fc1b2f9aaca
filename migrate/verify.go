package migrate

import (
	"bytes"
	"context"
	"fmt"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
)

// entry is what the comparison keeps of a record: its id and the digest of
// its canonical data, never the data itself, so memory stays bounded.
type entry struct {
	id  string
	sum [32]byte
	bad error // the data could not be canonicalised; never equal
}

// producer emits one side's entries in id order until emit returns false
// (the context is done: it then returns the context's error) or the side
// is exhausted.
type producer func(ctx context.Context, emit func(entry) bool) error

// listProducer lists s in id order, hashing each record, and adding it
// to fp unless that is nil. The listing runs
// on a goroutine of its own, a batch ahead of the hashing, so the database
// produces the next rows while this one hashes.
func listProducer(s persist.Store, side, table string, fp *fingerprint) producer {
	return func(ctx context.Context, emit func(entry) bool) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		batches := make(chan []persist.Record, 1)
		listErr := make(chan error, 1)
		go func() {
			defer close(batches)
			listErr <- readBatches(ctx, s, &persist.ListOptions{Order: persist.ByID}, listBatch, batches)
		}()
		err := func() error {
			prev, first := "", true
			for batch := range batches {
				for i := range batch {
					rec := &batch[i]
					// The merge is only correct on strictly ascending ids;
					// a backend that orders otherwise would show up as
					// false mismatches, so stop and say so instead.
					if !first && rec.ID <= prev {
						return fmt.Errorf("migrate: %s table %s listed by id out of byte order: %q after %q", side, table, rec.ID, prev)
					}
					prev, first = rec.ID, false
					if fp != nil {
						fp.add(rec)
					}
					e := entry{id: rec.ID}
					e.sum, e.bad = jsonx.Digest(rec.Data)
					if !emit(e) {
						return ctx.Err()
					}
				}
			}
			return nil
		}()
		cancel()
		for range batches {
			// drain, so the lister sees the cancellation and ends
		}
		if lerr := <-listErr; err == nil {
			err = lerr
		}
		return err
	}
}

// listBatch is the number of records a verification listing reads ahead.
const listBatch = 500

// scan runs a producer on its own goroutine, handing entries over in
// batches, so both sides are read and hashed in parallel while the caller
// merges.
type scan struct {
	ch   chan []entry
	err  error // set before ch is closed
	cur  []entry
	pos  int
	done bool
}

// startScan starts p; a nil p is an empty side (a dry run against a table
// the target does not have).
func startScan(ctx context.Context, size int, p producer) *scan {
	sc := &scan{ch: make(chan []entry, 2)}
	if p == nil {
		close(sc.ch)
		return sc
	}
	go func() {
		defer close(sc.ch)
		batch := make([]entry, 0, size)
		send := func() bool {
			select {
			case sc.ch <- batch:
				batch = make([]entry, 0, size)
				return true
			case <-ctx.Done():
				return false
			}
		}
		err := p(ctx, func(e entry) bool {
			batch = append(batch, e)
			return len(batch) < size || send()
		})
		if err == nil && len(batch) > 0 && !send() {
			err = ctx.Err()
		}
		sc.err = err
	}()
	return sc
}

// peek returns the next entry without consuming it; ok is false at the end
// of the listing or on error (see sc.err).
func (sc *scan) peek() (e *entry, ok bool) {
	for !sc.done && sc.pos == len(sc.cur) {
		batch, open := <-sc.ch
		if !open {
			sc.done = true
			break
		}
		sc.cur, sc.pos = batch, 0
	}
	if sc.done {
		return nil, false
	}
	return &sc.cur[sc.pos], true
}

func (sc *scan) advance() { sc.pos++ }

// drain waits for the goroutine to finish after the context is cancelled.
func (sc *scan) drain() {
	for range sc.ch {
	}
}

// verify merges the two sides listed in id order. In a real run (for a
// target that cannot look records up by id) a source record missing from
// the target or differing from it is a mismatch; in a dry run the missing
// ones are what a copy would insert. The source's records are added to
// srcRead unless it is nil.
func (m *migration) verify(ctx context.Context, name string, from, to persist.Store, total int64, tr *TableReport, failed map[string]bool, srcRead *fingerprint) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := m.opts.BatchSize
	var dstP producer
	if to != nil {
		dstP = listProducer(to, "target", name, nil)
	}
	src := startScan(ctx, size, listProducer(from, "source", name, srcRead))
	dst := startScan(ctx, size, dstP)
	defer func() {
		cancel()
		src.drain()
		dst.drain()
	}()

	m.progress(Progress{Table: name, Phase: PhaseVerify, Total: total})
	dry := m.opts.DryRun
	var done int64
	for {
		s, sok := src.peek()
		if !sok {
			break
		}
		d, dok := dst.peek()
		for dok && d.id < s.id {
			tr.ExtraTargetRows++
			dst.advance()
			d, dok = dst.peek()
		}
		if !dok && dst.err != nil {
			return dst.err
		}
		switch {
		case !dok || d.id != s.id: // missing on the target
			switch {
			case dry:
				tr.RowsInserted++
			case failed[s.id]:
				// already counted and named in rows_failed
			default:
				tr.DigestMismatches++
				tr.addError(fmt.Sprintf("%s/%s: missing on target", name, s.id))
			}
		case s.bad != nil || d.bad != nil:
			side, bad := "source", s.bad
			if bad == nil {
				side, bad = "target", d.bad
			}
			tr.DigestMismatches++
			if dry {
				tr.RowsSkippedDuplicate++
			}
			tr.addError(fmt.Sprintf("%s/%s: digest mismatch: %s data: %v", name, s.id, side, bad))
			dst.advance()
		case !bytes.Equal(s.sum[:], d.sum[:]):
			tr.DigestMismatches++
			if dry {
				tr.RowsSkippedDuplicate++
				tr.addError(fmt.Sprintf("%s/%s: digest mismatch: target record differs from source (a copy would leave it)", name, s.id))
			} else {
				tr.addError(fmt.Sprintf("%s/%s: digest mismatch: target record differs from source (left unchanged)", name, s.id))
			}
			dst.advance()
		default:
			tr.RowsVerified++
			if dry {
				tr.RowsSkippedDuplicate++
			}
			dst.advance()
		}
		src.advance()
		done++
		if dry {
			tr.RowsRead++
		}
		if done%int64(size) == 0 {
			m.progress(Progress{Table: name, Phase: PhaseVerify, Done: done, Total: total})
		}
	}
	if src.err != nil {
		return src.err
	}
	for {
		if _, ok := dst.peek(); !ok {
			break
		}
		tr.ExtraTargetRows++
		dst.advance()
	}
	if dst.err != nil {
		return dst.err
	}
	if done%int64(size) != 0 || done == 0 {
		m.progress(Progress{Table: name, Phase: PhaseVerify, Done: done, Total: total})
	}
	tr.Verified = true
	return nil
}

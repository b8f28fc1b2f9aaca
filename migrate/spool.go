package migrate

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
)

// spool holds the source side of a table's verification: the (id, digest)
// entries of the records the copy read, hashed on a goroutine of its own
// while the copy runs, so the source is read once and its hashing
// overlaps with the writes. The copy reads in insertion order and the
// merge needs id order, so the entries are sorted in runs of at most
// runEntries and each run is written to an unlinked temporary file;
// verification merges the runs. Memory stays bounded by one run; the
// file, about 70 bytes a record, disappears when closed.
type spool struct {
	f    *os.File
	in   chan []persist.Record
	exit chan struct{} // closed when the goroutine returns
	once sync.Once     // closes in

	runSize int // entries per run

	// Set by the goroutine before exit is closed.
	runs []section
	err  error // a failure of the file itself (*spoolError)
}

// section is one sorted run in the spool file.
type section struct{ off, n int64 }

// runEntries bounds a run: with ids of about 36 bytes, a run takes about
// 12 MB while it is sorted.
const runEntries = 128 << 10

// startSpool creates the spool file and starts its goroutine. It returns
// nil when no temporary file can be made; the caller then lists the source
// again during verification.
func startSpool(runSize int) *spool {
	f, err := os.CreateTemp("", "persist-migrate-*.digests")
	if err != nil {
		return nil
	}
	// Unlink at once where the system allows it, so nothing is left behind
	// even if the process is killed.
	_ = os.Remove(f.Name())
	sp := &spool{f: f, in: make(chan []persist.Record, 1), exit: make(chan struct{}), runSize: runSize}
	go sp.run()
	return sp
}

// add hands a batch the copy read to the spool, waiting while the spool
// is a batch behind. It returns false when ctx is done first.
func (sp *spool) add(ctx context.Context, batch []persist.Record) bool {
	select {
	case sp.in <- batch:
		return true
	case <-ctx.Done():
		return false
	}
}

// finish tells the spool that the copy read everything and waits until
// every run is written. Calls after the first do nothing.
func (sp *spool) finish() {
	sp.once.Do(func() { close(sp.in) })
	<-sp.exit
}

// close finishes the spool and releases the file.
func (sp *spool) close() {
	sp.finish()
	sp.f.Close()
	_ = os.Remove(sp.f.Name()) // where the early unlink was refused
}

func (sp *spool) run() {
	defer close(sp.exit)
	w := bufio.NewWriterSize(sp.f, 64<<10)
	var off int64
	buf := make([]entry, 0, sp.runSize)
	idx := make([]sortKey, 0, sp.runSize)
	var b []byte
	flush := func() {
		if len(buf) == 0 || sp.err != nil {
			return
		}
		// Positions are sorted rather than the entries themselves,
		// which moves far less; equal ids stay in the order read, and
		// the last is kept: a record read twice (moved by a concurrent
		// delete and insert) counts as last read.
		// Each carries the id's first 8 bytes as a number, which
		// decides most comparisons without reaching for the strings.
		idx = idx[:0]
		for i := range buf {
			idx = append(idx, sortKey{prefix(buf[i].id), int32(i)})
		}
		slices.SortFunc(idx, func(x, y sortKey) int {
			if x.k != y.k {
				return cmp.Compare(x.k, y.k)
			}
			if c := strings.Compare(buf[x.i].id, buf[y.i].id); c != 0 {
				return c
			}
			return cmp.Compare(x.i, y.i)
		})
		start := off
		for k, x := range idx {
			if k+1 < len(idx) && buf[idx[k+1].i].id == buf[x.i].id {
				continue
			}
			b = appendEntry(b[:0], &buf[x.i])
			if _, err := w.Write(b); err != nil {
				sp.err = &spoolError{err}
				return
			}
			off += int64(len(b))
		}
		if err := w.Flush(); err != nil {
			sp.err = &spoolError{err}
			return
		}
		sp.runs = append(sp.runs, section{start, off - start})
		clear(buf) // drop the ids
		buf = buf[:0]
	}
	for batch := range sp.in {
		if sp.err != nil {
			continue // drain, so the copy never waits on a failed spool
		}
		for i := range batch {
			e := entry{id: batch[i].ID}
			e.sum, e.bad = jsonx.Digest(batch[i].Data)
			buf = append(buf, e)
			if len(buf) == sp.runSize {
				flush()
			}
		}
	}
	flush()
}

// listing fills the spool with s listed in insertion order, then merges
// it: a producer of s's entries in id order.
func (sp *spool) listing(s persist.Store) producer {
	return func(ctx context.Context, emit func(entry) bool) error {
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		batches := make(chan []persist.Record, 1)
		listErr := make(chan error, 1)
		go func() {
			defer close(batches)
			listErr <- readBatches(lctx, s, nil, listBatch, batches)
		}()
		for batch := range batches {
			if !sp.add(lctx, batch) {
				cancel()
			}
		}
		sp.finish()
		if err := <-listErr; err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return sp.producer()(ctx, emit)
	}
}

// sortKey is an entry's place in a run being sorted.
type sortKey struct {
	k uint64 // prefix of the id
	i int32  // position in the run's buffer
}

// prefix returns id's first 8 bytes (zero-padded) as a big-endian number,
// so that comparing prefixes orders ids as comparing the strings does,
// ties aside.
func prefix(id string) uint64 {
	var b [8]byte
	copy(b[:], id)
	return binary.BigEndian.Uint64(b[:])
}

// producer merges the runs into one listing in strictly ascending id
// order. Of equal ids in several runs, the one from the latest run wins.
func (sp *spool) producer() producer {
	return func(ctx context.Context, emit func(entry) bool) error {
		if sp.err != nil {
			return sp.err
		}
		type head struct {
			r  *bufio.Reader
			e  entry
			ok bool
		}
		heads := make([]head, len(sp.runs))
		next := func(h *head) error {
			e, err := readEntry(h.r)
			if err == io.EOF {
				h.ok = false
				return nil
			}
			h.e, h.ok = e, err == nil
			return err
		}
		for i, s := range sp.runs {
			heads[i].r = bufio.NewReaderSize(io.NewSectionReader(sp.f, s.off, s.n), 32<<10)
			if err := next(&heads[i]); err != nil {
				return err
			}
		}
		for {
			lo := -1
			for i := range heads {
				if heads[i].ok && (lo < 0 || heads[i].e.id <= heads[lo].e.id) {
					lo = i // <=: the latest run wins a tie
				}
			}
			if lo < 0 {
				return nil
			}
			e := heads[lo].e
			for i := range heads {
				if heads[i].ok && heads[i].e.id == e.id {
					if err := next(&heads[i]); err != nil {
						return err
					}
				}
			}
			if !emit(e) {
				return ctx.Err()
			}
		}
	}
}

// spoolError is a failure of the spool file itself (a full disk), as
// opposed to one of the source listing; verification then lists the
// source again.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "migrate: spooling source digests: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// An entry is spooled as: uvarint id length, id, one flag byte, then the
// 32-byte digest (flag 0) or a uvarint length and the canonicalisation
// error's text (flag 1).
func appendEntry(b []byte, e *entry) []byte {
	b = binary.AppendUvarint(b, uint64(len(e.id)))
	b = append(b, e.id...)
	if e.bad != nil {
		msg := e.bad.Error()
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(msg)))
		return append(b, msg...)
	}
	b = append(b, 0)
	return append(b, e.sum[:]...)
}

// maxSpooledString bounds a length read back from the spool, so a damaged
// file fails cleanly instead of allocating without limit.
const maxSpooledString = 1 << 20

func readEntry(r *bufio.Reader) (entry, error) {
	var e entry
	id, err := readString(r)
	if err != nil {
		return e, err // io.EOF only here, at an entry boundary
	}
	e.id = id
	flag, err := r.ReadByte()
	if err != nil {
		return e, errSpoolTruncated(err)
	}
	if flag == 1 {
		msg, err := readString(r)
		if err != nil {
			return e, errSpoolTruncated(err)
		}
		e.bad = errors.New(msg)
		return e, nil
	}
	if _, err := io.ReadFull(r, e.sum[:]); err != nil {
		return e, errSpoolTruncated(err)
	}
	return e, nil
}

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err == io.ErrUnexpectedEOF {
		return "", errSpoolTruncated(err)
	}
	if err == io.EOF {
		return "", err // at an entry boundary
	}
	if err != nil {
		return "", &spoolError{err}
	}
	if n > maxSpooledString {
		return "", &spoolError{fmt.Errorf("spool damaged: length %d", n)}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", errSpoolTruncated(err)
	}
	return string(b), nil
}

// errSpoolTruncated reports an entry cut short, or the file failing to be
// read back.
func errSpoolTruncated(err error) error {
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		return &spoolError{err}
	}
	return &spoolError{fmt.Errorf("spool damaged: %w", io.ErrUnexpectedEOF)}
}

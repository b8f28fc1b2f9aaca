package migrate

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/persistkit/persist"
)

// spool holds the source side of a table's verification: the (id, digest)
// entries of a source listing in id order, written to an unlinked
// temporary file while the copy runs, and read back by the merge. Reading
// and hashing the source this way overlaps with the copy, which waits on
// the target, instead of adding to the verification's time; memory stays
// bounded and the file, about 70 bytes a record, disappears when closed.
//
// The merge may start before the listing is complete: its reader follows
// the file as it grows.
type spool struct {
	f    *os.File
	mu   sync.Mutex
	cond *sync.Cond
	size int64 // bytes written and flushed, safe to read
	done bool  // the writer has finished, with err
	err  error
	stop context.CancelFunc
	exit chan struct{} // closed when the writer goroutine returns
}

// publishEvery is how many entries the writer buffers before making them
// readable.
const publishEvery = 1024

// startSpool lists from in id order on a new goroutine and spools it. It
// returns nil when no temporary file can be made; the caller then lists
// the source again during verification, as without a spool.
func startSpool(ctx context.Context, from persist.Store, table string) *spool {
	f, err := os.CreateTemp("", "persist-migrate-*.digests")
	if err != nil {
		return nil
	}
	// Unlink at once where the system allows it, so nothing is left behind
	// even if the process is killed.
	_ = os.Remove(f.Name())
	ctx, stop := context.WithCancel(ctx)
	sp := &spool{f: f, stop: stop, exit: make(chan struct{})}
	sp.cond = sync.NewCond(&sp.mu)
	go sp.write(ctx, listProducer(from, "source", table))
	return sp
}

func (sp *spool) write(ctx context.Context, produce producer) {
	defer close(sp.exit)
	w := bufio.NewWriterSize(sp.f, 64<<10)
	var written int64
	var werr error
	n := 0
	publish := func() bool {
		if werr = w.Flush(); werr != nil {
			return false
		}
		sp.mu.Lock()
		sp.size = written
		sp.cond.Broadcast()
		sp.mu.Unlock()
		return true
	}
	var buf []byte
	err := produce(ctx, func(e entry) bool {
		buf = appendEntry(buf[:0], &e)
		if _, werr = w.Write(buf); werr != nil {
			return false
		}
		written += int64(len(buf))
		if n++; n%publishEvery == 0 {
			return publish()
		}
		return true
	})
	if err == nil && werr == nil {
		publish()
	}
	if werr != nil {
		err = &spoolError{werr}
	}
	sp.mu.Lock()
	sp.done, sp.err = true, err
	sp.cond.Broadcast()
	sp.mu.Unlock()
}

// close stops the writer if it still runs, waits for it and releases the
// file.
func (sp *spool) close() {
	sp.stop()
	<-sp.exit
	sp.f.Close()
	_ = os.Remove(sp.f.Name()) // where the early unlink was refused
}

// producer replays the spool, following the writer.
func (sp *spool) producer() producer {
	return func(ctx context.Context, emit func(entry) bool) error {
		stop := context.AfterFunc(ctx, func() {
			sp.mu.Lock()
			sp.cond.Broadcast()
			sp.mu.Unlock()
		})
		defer stop()
		r := bufio.NewReaderSize(&follower{sp: sp, ctx: ctx}, 64<<10)
		for {
			e, err := readEntry(r)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if !emit(e) {
				return ctx.Err()
			}
		}
	}
}

// follower reads the spool file up to what the writer has published,
// waiting for more until the writer is done.
type follower struct {
	sp  *spool
	ctx context.Context
	off int64
}

func (fl *follower) Read(p []byte) (int, error) {
	sp := fl.sp
	sp.mu.Lock()
	for fl.off == sp.size && !sp.done && fl.ctx.Err() == nil {
		sp.cond.Wait()
	}
	size, done, err := sp.size, sp.done, sp.err
	sp.mu.Unlock()
	if fl.off == size {
		switch {
		case fl.ctx.Err() != nil:
			return 0, fl.ctx.Err()
		case err != nil:
			return 0, err
		case done:
			return 0, io.EOF
		}
	}
	n, rerr := sp.f.ReadAt(p[:min(int64(len(p)), size-fl.off)], fl.off)
	fl.off += int64(n)
	if rerr == io.EOF && n > 0 {
		rerr = nil
	}
	return n, rerr
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
	if err != nil {
		return "", err // io.EOF at an entry boundary, or the follower's error
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

// errSpoolTruncated reports an entry cut short. Other errors come from the
// follower (the source listing's error, or the context's) and pass
// through as they are.
func errSpoolTruncated(err error) error {
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		return err
	}
	return &spoolError{fmt.Errorf("spool damaged: %w", io.ErrUnexpectedEOF)}
}

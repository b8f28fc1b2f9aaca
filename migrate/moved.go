package migrate

import (
	"context"
	"encoding/binary"
	"hash/maphash"

	"github.com/persistkit/persist"
)

// A copy is verified against the records it read. A source that takes
// writes meanwhile (an update after a record was read, an insert after the
// table was read, a delete) leaves the target behind while every digest
// still matches, so after a table's verification Copy checks that the
// source still holds exactly what the copy read.
//
// The check compares a fingerprint of the copy's reads with one of the
// source at the end: the count and a sum of hashes of each record's id,
// revision, update time and document. Every write changes the revision
// (and the time) of the record it writes, or at least its document, and
// the sum is insensitive to order, so the two are equal only if the
// source still holds the same set of record versions. Taking the end's
// fingerprint reads the source again, unless the source says that nothing
// at all was written to it since the migration began ([persist.MarkWrites]:
// SQLite's data_version, PostgreSQL's snapshot, which a write anywhere on
// the server changes). A change feed cannot say as much: a read of the
// feed that finds nothing does not prove that nothing committed, since
// PostgreSQL's holds back changes behind an older transaction still open.

// fingerprint sums the identity of record versions, in any order.
type fingerprint struct {
	seed maphash.Seed
	buf  []byte
	n    int64
	sum  uint64
}

func newFingerprint(seed maphash.Seed) *fingerprint {
	return &fingerprint{seed: seed}
}

// add counts rec's version: its id, revision, update time and document.
// The document is needed too: a table in the earlier portal's layout read
// without being upgraded (a read-only source) has no revisions or times
// of its own, so its writers' updates change only the document.
func (f *fingerprint) add(rec *persist.Record) {
	f.buf = binary.LittleEndian.AppendUint64(f.buf[:0], uint64(len(rec.ID)))
	f.buf = append(f.buf, rec.ID...)
	f.buf = binary.LittleEndian.AppendUint64(f.buf, uint64(rec.Revision))
	f.buf = binary.LittleEndian.AppendUint64(f.buf, uint64(rec.Updated.UnixNano()))
	f.buf = append(f.buf, rec.Data...)
	f.n++
	f.sum += maphash.Bytes(f.seed, f.buf)
}

// sourceMoved reports whether the source table no longer holds what was
// read of it (read), and how many records it holds now. It reads the
// table again unless the source says nothing was written to it since
// the mark written was taken.
func sourceMoved(ctx context.Context, from persist.Store, written func(context.Context) (bool, error), read *fingerprint) (moved bool, n int64, err error) {
	if w, err := written(ctx); err != nil || !w {
		return false, read.n, err
	}
	now := newFingerprint(read.seed)
	for rec, err := range from.List(ctx, nil) {
		if err != nil {
			return false, 0, err
		}
		now.add(&rec)
	}
	return now.n != read.n || now.sum != read.sum, now.n, nil
}

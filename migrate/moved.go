package migrate

import (
	"context"
	"encoding/binary"
	"errors"
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
// source still holds the same set of record versions. Taking the end's fingerprint reads the source again. A source
// whose table has the change feed on ([persist.ChangeFeed]) spares that
// read when its feed recorded nothing since a cursor taken before the
// copy: the feed records every committed write, whoever makes it.

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

// feedMark returns a cursor of the source's change feed for table, taken
// before the copy reads it, or "" when the table has no feed.
func feedMark(ctx context.Context, src persist.DB, table string) (string, error) {
	cf, ok := src.(persist.ChangeFeed)
	if !ok {
		return "", nil
	}
	cur, err := cf.Cursor(ctx, &persist.FeedOptions{Tables: []string{table}})
	if errors.Is(err, persist.ErrInvalid) {
		return "", nil // no feed on this table (or a read-only database without one)
	}
	return cur, err
}

// feedQuiet reports whether the feed recorded no change to table after
// mark.
func feedQuiet(ctx context.Context, src persist.DB, table, mark string) (bool, error) {
	cf := src.(persist.ChangeFeed)
	for _, err := range cf.Changes(ctx, mark, &persist.FeedOptions{Tables: []string{table}}) {
		if errors.Is(err, persist.ErrCursorExpired) {
			return false, nil // pruned meanwhile: read the source instead
		}
		return false, err
	}
	return true, nil
}

// sourceMoved reports whether the source table no longer holds what the
// copy read (read), checking the feed first when mark is a cursor of it,
// and how many records the source holds now.
func (m *migration) sourceMoved(ctx context.Context, table string, from persist.Store, mark string, read *fingerprint) (moved bool, n int64, err error) {
	if mark != "" {
		quiet, err := feedQuiet(ctx, m.src, table, mark)
		if err != nil || quiet {
			return false, read.n, err
		}
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

package persist

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// ChangeFeed is an optional interface of a [DB] that records the writes to
// chosen tables in a log and lets any number of consumers, in this process
// or another, read them in commit order and resume where they stopped.
//
// Every write is recorded, whoever makes it: a [Store] method, [DB.Tx],
// [Applier.Apply], [Store.Clear] and [Store.ReplaceAll] (as the deletes and
// inserts they make), and the earlier portal's own statements on a shared
// table, which name only id and data. The database records them, with
// triggers, in the transaction that writes, so a change is in the log if
// and only if its write committed.
//
// A consumer that starts without a cursor takes one with [ChangeFeed.Cursor],
// loads what it needs in full, and then follows [ChangeFeed.Changes] from
// that cursor, saving the cursor of each change it has handled. A change
// committed just before the cursor was taken may also be yielded after it;
// applying changes by [Change.Revision] makes that harmless. After a
// restart it resumes from the saved cursor and receives every change
// committed after it, each once. If the log no longer holds what follows
// the cursor (see [ChangeFeed.Prune]), Changes fails with
// [ErrCursorExpired] and the consumer loads in full again.
//
// The feed is off until [ChangeFeed.EnableFeed] turns it on for a table, so
// tables nobody follows pay nothing for it.
type ChangeFeed interface {
	// EnableFeed starts recording every write to the named tables,
	// creating them when missing, as [DB.Store] does. It is idempotent and
	// cheap when the feed is already on, so a service may call it on every
	// start. Writes committed before it are not in the feed. An invalid
	// name is [ErrInvalid]; a database opened read-only refuses it with
	// [ErrInvalid].
	EnableFeed(ctx context.Context, tables ...string) error

	// Cursor returns the cursor of the present position of the feed of
	// opts.Tables: Changes from it yields what commits afterwards. It
	// writes nothing. Tables without the feed are [ErrInvalid].
	Cursor(ctx context.Context, opts *FeedOptions) (string, error)

	// Changes yields the changes to opts.Tables committed after the
	// position cursor names, in commit order, each once. The empty cursor
	// is the beginning of the log: every change ever recorded, which
	// fails with [ErrCursorExpired] once the log has been pruned.
	//
	// Without opts.Follow the iterator stops when it has yielded what is
	// committed and readable; with it, it waits for more until ctx ends
	// or the loop stops. Nothing is read until the iterator is ranged
	// over. On failure it yields one error and stops: [ErrInvalid] for a
	// malformed cursor, a cursor of another database or of another set of
	// tables, or tables without the feed; [ErrCursorExpired] when changes
	// after cursor have been pruned; the context's error when ctx ends
	// while following.
	Changes(ctx context.Context, cursor string, opts *FeedOptions) iter.Seq2[Change, error]

	// Prune deletes the changes that keep allows to go, oldest first, and
	// returns how many it deleted. A cursor positioned before the newest
	// change it deleted then fails with [ErrCursorExpired]. A negative
	// MaxAge or MaxRows is [ErrInvalid]; the zero Retention deletes
	// nothing.
	Prune(ctx context.Context, keep Retention) (int64, error)
}

// FeedOptions choose the tables a feed covers and how it is read. A nil
// *FeedOptions means every table with the feed on, read without following.
type FeedOptions struct {
	// Tables are the tables whose changes are yielded; nil or empty means
	// every table. Each must have the feed enabled. A cursor belongs to
	// the set of tables it was read with, in any order.
	Tables []string

	// Follow keeps [ChangeFeed.Changes] waiting for new changes instead
	// of stopping at the last one committed. Cursor ignores it.
	Follow bool
}

// Retention bounds the log of a [ChangeFeed]; [ChangeFeed.Prune] deletes
// a change when either bound allows it. A zero field sets no bound. Prune
// deletes changes only in log order, so it may keep a change the bounds
// allow to go (one older than MaxAge written after a younger one), never
// the reverse; SQLite also keeps the newest change, whose position the
// log needs.
type Retention struct {
	// MaxAge lets a change go once it is older than this.
	MaxAge time.Duration

	// MaxRows keeps at most this many changes: the newest.
	MaxRows int64
}

// ChangeOp is the kind of a [Change].
type ChangeOp uint8

// The kinds of [Change].
const (
	// ChangeInsert: the record did not exist before the write.
	ChangeInsert ChangeOp = iota + 1
	// ChangeUpdate: the record existed and was replaced or patched.
	ChangeUpdate
	// ChangeDelete: the record was deleted, by [Store.Delete],
	// [Store.Clear], [Store.ReplaceAll] or another writer.
	ChangeDelete
)

// String returns "insert", "update" or "delete".
func (op ChangeOp) String() string {
	switch op {
	case ChangeInsert:
		return "insert"
	case ChangeUpdate:
		return "update"
	case ChangeDelete:
		return "delete"
	}
	return "unknown"
}

// Change is one committed write in a [ChangeFeed].
type Change struct {
	// Table and ID name the record.
	Table string
	ID    string

	// Op says whether the record was inserted, updated or deleted.
	Op ChangeOp

	// Revision is the record's revision after the write; for a delete,
	// the revision it had when it was deleted.
	Revision int64

	// Data is the document as the write stored it; nil for a delete.
	Data json.RawMessage

	// Time is when the write was made, in UTC: the statement's time on
	// SQLite, the start of its transaction on PostgreSQL. It is not the
	// commit time, and changes are not ordered by it.
	Time time.Time

	// Cursor is where a consumer that has handled this change resumes:
	// pass it to [ChangeFeed.Changes]. It is opaque, printable ASCII, and
	// valid only for the database and set of tables it came from.
	Cursor string
}

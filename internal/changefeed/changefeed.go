// Package changefeed holds what both backends' change feeds share: the
// cursor format, the rules for the options and the fan-out that wakes
// waiting consumers.
package changefeed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// Position is a place in a log: after every change at or before it. On
// SQLite XID is 0 and ID is the change's row id; on PostgreSQL XID is the
// writing transaction's id and ID the change's row id within the log.
type Position struct {
	XID uint64
	ID  int64
}

// Less orders positions as the log is read: by XID, then ID.
func (p Position) Less(q Position) bool {
	return p.XID < q.XID || p.XID == q.XID && p.ID < q.ID
}

// cursorPrefix versions the format, so a later one can be told apart.
const cursorPrefix = "c1."

// NewDBID returns a random database identity, stored with the log so a
// cursor can be checked against the database it came from.
func NewDBID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Tables validates opts.Tables for op and returns them sorted and
// deduplicated, with a digest of the set that cursors carry.
func Tables(op string, opts *persist.FeedOptions) ([]string, uint64, error) {
	var tables []string
	if opts != nil {
		tables = slices.Clone(opts.Tables)
	}
	for _, t := range tables {
		if err := ident.Table(t); err != nil {
			return nil, 0, &persist.Error{Op: op, Err: fmt.Errorf("%w: %w", persist.ErrInvalid, err)}
		}
	}
	slices.Sort(tables)
	tables = slices.Compact(tables)
	h := fnv.New64a()
	if len(tables) == 0 {
		h.Write([]byte{0xff}) // every table: distinct from any list
	}
	for _, t := range tables {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	return tables, h.Sum64(), nil
}

// Encode makes the opaque cursor for pos in the database dbID (hex) and the
// set of tables whose digest is set.
func Encode(dbID string, set uint64, pos Position) string {
	id, _ := hex.DecodeString(dbID)
	b := make([]byte, 0, len(id)+24)
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, set)
	b = binary.BigEndian.AppendUint64(b, pos.XID)
	b = binary.BigEndian.AppendUint64(b, uint64(pos.ID))
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a cursor and checks it belongs to dbID and the set of
// tables. The empty cursor is the beginning of the log.
func Decode(cursor, dbID string, set uint64) (Position, error) {
	if cursor == "" {
		return Position{}, nil
	}
	bad := func(why string) (Position, error) {
		return Position{}, &persist.Error{Op: "changes", Err: fmt.Errorf("%w: cursor %s", persist.ErrInvalid, why)}
	}
	rest, ok := bytes.CutPrefix([]byte(cursor), []byte(cursorPrefix))
	if !ok {
		return bad("is not a change feed cursor")
	}
	b, err := base64.RawURLEncoding.DecodeString(string(rest))
	if err != nil || len(b) != 16+24 {
		return bad("is malformed")
	}
	id, _ := hex.DecodeString(dbID)
	if !bytes.Equal(b[:16], id) {
		return bad("belongs to another database")
	}
	if binary.BigEndian.Uint64(b[16:]) != set {
		return bad("belongs to another set of tables")
	}
	pos := Position{XID: binary.BigEndian.Uint64(b[24:]), ID: int64(binary.BigEndian.Uint64(b[32:]))}
	if pos.ID < 0 {
		return bad("is malformed")
	}
	return pos, nil
}

// Expired is the error for a cursor before the log's low-water mark.
func Expired() error {
	return &persist.Error{Op: "changes", Err: persist.ErrCursorExpired}
}

// CheckRetention rejects negative bounds.
func CheckRetention(keep persist.Retention) error {
	if keep.MaxAge < 0 || keep.MaxRows < 0 {
		return &persist.Error{Op: "prune", Err: fmt.Errorf("%w: retention bounds must not be negative (MaxAge %v, MaxRows %d)",
			persist.ErrInvalid, keep.MaxAge, keep.MaxRows)}
	}
	return nil
}

// Hub wakes the iterators that wait for new changes. The first
// subscriber starts watch, which calls Broadcast whenever the database
// may hold new changes; the last one to leave stops it. Waiters take the
// channel before they read, so a broadcast between their read and their
// wait is not lost.
type Hub struct {
	mu     sync.Mutex
	ch     chan struct{}
	subs   int
	cancel context.CancelFunc
	done   chan struct{}
}

// Wait returns a channel closed at the next Broadcast.
func (h *Hub) Wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = make(chan struct{})
	}
	return h.ch
}

// Broadcast wakes every waiter.
func (h *Hub) Broadcast() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// Subscribe registers a waiter, starting watch for the first, and returns
// the function that unregisters it; the last unregistration stops watch
// and waits for it to return.
func (h *Hub) Subscribe(watch func(ctx context.Context)) (release func()) {
	h.mu.Lock()
	h.subs++
	if h.subs == 1 {
		// A previous watcher may still be stopping; it owns nothing the
		// new one needs.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		h.cancel, h.done = cancel, done
		go func() {
			defer close(done)
			watch(ctx)
		}()
	}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.subs--
			var cancel context.CancelFunc
			var done chan struct{}
			if h.subs == 0 {
				cancel, done = h.cancel, h.done
				h.cancel, h.done = nil, nil
			}
			h.mu.Unlock()
			if cancel != nil {
				cancel()
				<-done
			}
		})
	}
}

// Sleep waits for d or until ctx ends, and reports whether ctx is alive.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ErrNoFeed builds the error for a table, or a database, without the feed.
func ErrNoFeed(op, table string) error {
	if table == "" {
		return &persist.Error{Op: op, Err: fmt.Errorf("%w: the change feed is not enabled in this database (see EnableFeed)", persist.ErrInvalid)}
	}
	return &persist.Error{Op: op, Table: table, Err: fmt.Errorf("%w: the change feed is not enabled on table %s (see EnableFeed)", persist.ErrInvalid, table)}
}

// IsCtx reports whether err is the end of ctx.
func IsCtx(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// Read is what a Changes call reads with once its input has passed.
type Read struct {
	Tables []string // nil: every table with the feed
	DBID   string
	Set    uint64
	Pos    Position
}

// Begin checks a Changes call's input, after the entry check, in the
// order every backend uses: the options, then the tables' feed state
// (state, which reads the database and returns its feed id), then the
// cursor.
func Begin(op, cursor string, opts *persist.FeedOptions, state func(tables []string) (dbID string, err error)) (Read, error) {
	tables, set, err := Tables(op, opts)
	if err != nil {
		return Read{}, err
	}
	dbID, err := state(tables)
	if err != nil {
		return Read{}, err
	}
	pos, err := Decode(cursor, dbID, set)
	if err != nil {
		return Read{}, err
	}
	return Read{Tables: tables, DBID: dbID, Set: set, Pos: pos}, nil
}

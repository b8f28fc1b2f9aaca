package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/changefeed"
	"github.com/persistkit/persist/internal/ident"
)

// The change feed. Triggers on each table with the feed on append every
// committed write to persist_changes, in the writing transaction. SQLite
// has one writer at a time, so the log's row ids are handed out in commit
// order and a reader that has seen id n has seen everything before it.
// A new row id is one more than the largest in the table, so Prune always
// keeps the newest change: were it deleted, its id would be handed out
// again, below the low-water mark. (AUTOINCREMENT would avoid that too,
// but it writes sqlite_sequence on every insert: a page more per commit,
// about a quarter of the feed's cost to Put in BenchmarkPutFeed.)
//
// Waiting consumers are woken by one goroutine per DB, running while
// anyone follows, that asks a reader connection for PRAGMA data_version
// every pollInterval: the number changes when another connection, in
// this process or another, commits, and asking reads no table. Each ask
// takes and drops the database's shared locks, a few system calls, so a
// quiet database is asked less often: after idleAfter without a change
// the interval doubles up to idlePoll, and the next change brings it
// back to pollInterval.

var _ persist.ChangeFeed = (*DB)(nil)

const (
	// pollInterval is how often a followed DB checks data_version while
	// it changes; idlePoll is how often once it has been quiet for
	// idleAfter, which bounds the delay of the first change after a
	// quiet spell.
	pollInterval = 10 * time.Millisecond
	idlePoll     = 50 * time.Millisecond
	idleAfter    = time.Second
	// slowPoll re-reads the log even without a wake-up, so that nothing
	// can stall a follower for longer.
	slowPoll = time.Second
	// feedPage is the number of changes one query reads.
	feedPage = 500
)

const createFeed = `CREATE TABLE IF NOT EXISTS persist_changes (
	id INTEGER PRIMARY KEY,
	table_name TEXT NOT NULL,
	record_id TEXT NOT NULL,
	op INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	data TEXT,
	at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS persist_feed (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	db_id TEXT NOT NULL,
	low_water INTEGER NOT NULL
)`

var feedTriggers = []string{"feed_insert", "feed_update", "feed_delete"}

// feedTriggerSQL creates the three triggers that record name's writes.
//
// A write of the earlier portal's (id and data only) reaches the table
// with a NULL seq, and the after-insert trigger in shared.go numbers it
// with an UPDATE; the insert trigger leaves such a row to that update,
// which is recorded with its final revision: an insert at revision 1, an
// update when INSERT OR REPLACE replaced a row. Their UPDATE ... SET data
// is followed by the shared trigger's revision bump; only the bump, which
// changes the revision, is recorded. Persist's own writes always set seq
// and change the revision.
func feedTriggerSQL(name string) []string {
	q := ident.Quote(name)
	lit := "'" + strings.ReplaceAll(name, "'", "''") + "'"
	ins := `INSERT INTO persist_changes (table_name, record_id, op, revision, data, at) VALUES (` + lit + `, `
	return []string{
		`CREATE TRIGGER IF NOT EXISTS ` + triggerName(name, feedTriggers[0]) + ` AFTER INSERT ON ` + q + ` WHEN NEW.seq IS NOT NULL
BEGIN
	` + ins + `NEW.id, 1, NEW.revision, NEW.data, ` + nowMicros + `);
END`,
		`CREATE TRIGGER IF NOT EXISTS ` + triggerName(name, feedTriggers[1]) + ` AFTER UPDATE ON ` + q + `
WHEN NEW.seq IS NOT NULL AND (OLD.seq IS NULL OR NEW.revision IS NOT OLD.revision)
BEGIN
	` + ins + `NEW.id, CASE WHEN OLD.seq IS NULL AND NEW.revision = 1 THEN 1 ELSE 2 END, NEW.revision, NEW.data, ` + nowMicros + `);
END`,
		`CREATE TRIGGER IF NOT EXISTS ` + triggerName(name, feedTriggers[2]) + ` AFTER DELETE ON ` + q + `
BEGIN
	` + ins + `OLD.id, 3, OLD.revision, NULL, ` + nowMicros + `);
END`,
	}
}

// renewFeedTriggers creates name's feed triggers again when they hold a
// stale time expression (see staleTrigger).
func renewFeedTriggers(ctx context.Context, x execer, name string) error {
	var stale int
	err := x.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? AND name IN (?, ?, ?) AND sql LIKE ?`,
		name, name+":"+feedTriggers[0], name+":"+feedTriggers[1], name+":"+feedTriggers[2], staleTrigger).Scan(&stale)
	if err != nil || stale == 0 {
		return err
	}
	for _, kind := range feedTriggers {
		if _, err := x.ExecContext(ctx, `DROP TRIGGER IF EXISTS `+triggerName(name, kind)); err != nil {
			return err
		}
	}
	for _, s := range feedTriggerSQL(name) {
		if _, err := x.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// EnableFeed starts recording the writes to tables (see
// [persist.ChangeFeed]). It creates the tables when missing and is cheap
// when the feed is already on.
func (db *DB) EnableFeed(ctx context.Context, tables ...string) error {
	if err := db.check(ctx, "enable_feed"); err != nil {
		return err
	}
	if db.readOnly {
		return errReadOnly("enable_feed", "", "")
	}
	for _, name := range tables {
		if err := ident.Table(name); err != nil {
			return errInvalid("enable_feed", "", "", "%v", err)
		}
	}
	for _, name := range tables {
		st, err := db.store(name)
		if err != nil {
			return err
		}
		if err := db.ensure(ctx, "enable_feed", st); err != nil {
			return err
		}
		on, err := db.feedOn(ctx, db.readers, name)
		if err != nil {
			return db.wrap(ctx, "enable_feed", name, "", err)
		}
		if on {
			continue
		}
		err = db.retry(ctx, "enable_feed", func(ctx context.Context) error {
			tx, err := db.writer.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
			if _, err := tx.ExecContext(ctx, createFeed); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO persist_feed (id, db_id, low_water) VALUES (1, ?, 0)`, changefeed.NewDBID()); err != nil {
				return err
			}
			for _, s := range feedTriggerSQL(name) {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
		if err != nil {
			return db.wrap(ctx, "enable_feed", name, "", err)
		}
	}
	return nil
}

// feedOn reports whether every feed trigger of name exists.
func (db *DB) feedOn(ctx context.Context, x interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, name string) (bool, error) {
	var n int
	err := x.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 AND name IN (?2, ?3, ?4)`,
		name, name+":"+feedTriggers[0], name+":"+feedTriggers[1], name+":"+feedTriggers[2]).Scan(&n)
	return n == len(feedTriggers), err
}

// feedState reads the database's identity, checking that the feed is on
// for tables.
func (db *DB) feedState(ctx context.Context, op string, tables []string) (string, error) {
	var dbID string
	err := db.retry(ctx, op, func(ctx context.Context) error {
		var n int
		if err := db.readers.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'persist_feed'`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return changefeed.ErrNoFeed(op, "")
		}
		err := db.readers.QueryRowContext(ctx, `SELECT db_id FROM persist_feed WHERE id = 1`).Scan(&dbID)
		if errors.Is(err, sql.ErrNoRows) {
			return changefeed.ErrNoFeed(op, "")
		}
		return err
	})
	if err != nil {
		return "", db.wrap(ctx, op, "", "", err)
	}
	for _, t := range tables {
		on, err := db.feedOn(ctx, db.readers, t)
		if err != nil {
			return "", db.wrap(ctx, op, t, "", err)
		}
		if !on {
			return "", changefeed.ErrNoFeed(op, t)
		}
	}
	return dbID, nil
}

// Cursor returns the cursor of the present end of the feed of
// opts.Tables (see [persist.ChangeFeed]).
func (db *DB) Cursor(ctx context.Context, opts *persist.FeedOptions) (string, error) {
	if err := db.check(ctx, "cursor"); err != nil {
		return "", err
	}
	tables, set, err := changefeed.Tables("cursor", opts)
	if err != nil {
		return "", err
	}
	dbID, err := db.feedState(ctx, "cursor", tables)
	if err != nil {
		return "", err
	}
	var head int64
	err = db.retry(ctx, "cursor", func(ctx context.Context) error {
		return db.readers.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(id) FROM persist_changes), 0), low_water) FROM persist_feed WHERE id = 1`).Scan(&head)
	})
	if err != nil {
		return "", db.wrap(ctx, "cursor", "", "", err)
	}
	return changefeed.Encode(dbID, set, changefeed.Position{ID: head}), nil
}

// Changes yields the changes after cursor in commit order (see
// [persist.ChangeFeed]).
func (db *DB) Changes(ctx context.Context, cursor string, opts *persist.FeedOptions) iter.Seq2[persist.Change, error] {
	return func(yield func(persist.Change, error) bool) {
		if err := db.check(ctx, "changes"); err != nil {
			yield(persist.Change{}, err)
			return
		}
		r, err := changefeed.Begin("changes", cursor, opts, func(tables []string) (string, error) {
			return db.feedState(ctx, "changes", tables)
		})
		if err != nil {
			yield(persist.Change{}, err)
			return
		}
		tables, dbID, set, pos := r.Tables, r.DBID, r.Set, r.Pos
		follow := opts != nil && opts.Follow
		if follow {
			defer db.feedHub.Subscribe(db.watchDataVersion)()
		}
		var filter any // NULL: every table
		if len(tables) > 0 {
			b, _ := json.Marshal(tables)
			filter = string(b)
		}
		for {
			wake := db.feedHub.Wait()
			n, err := db.readChanges(ctx, dbID, set, filter, &pos, yield)
			if err != nil {
				if err != errStop {
					yield(persist.Change{}, err)
				}
				return
			}
			if n == feedPage {
				continue
			}
			if !follow {
				return
			}
			t := time.NewTimer(slowPoll)
			select {
			case <-wake:
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				yield(persist.Change{}, &persist.Error{Op: "changes", Err: ctx.Err()})
				return
			}
			t.Stop()
		}
	}
}

// errStop reports that the consumer stopped the loop.
var errStop = errors.New("stopped")

// readChanges reads one page after pos, yields the changes of the tables
// filter names, advances pos past the page and returns its length. The
// low-water mark is read in the same statement, so a concurrent prune
// cannot remove rows between the check and the read.
func (db *DB) readChanges(ctx context.Context, dbID string, set uint64, filter any, pos *changefeed.Position,
	yield func(persist.Change, error) bool) (int, error) {
	if db.closed.Load() {
		return 0, errClosed("changes", "", "")
	}
	var page []persist.Change
	var last int64
	var scanned int
	err := db.retry(ctx, "changes", func(ctx context.Context) error {
		page, scanned = page[:0], 0
		// Changes of other tables are read too, without their
		// documents, so that the position moves past them: filtering in
		// the scan would read them again on every poll of a quiet table.
		rows, err := db.readers.QueryContext(ctx, `SELECT f.low_water, c.id, c.m, c.table_name, c.record_id, c.op, c.revision,
	CASE WHEN c.m THEN c.data END, c.at
FROM persist_feed f LEFT JOIN (
	SELECT id, ?2 IS NULL OR table_name IN (SELECT value FROM json_each(?2)) AS m,
		table_name, record_id, op, revision, data, at
	FROM persist_changes WHERE id > ?1 ORDER BY id LIMIT ?3
) c ON 1 WHERE f.id = 1 ORDER BY c.id`, pos.ID, filter, feedPage)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var low int64
			var id, op, rev, at sql.NullInt64
			var match sql.NullBool
			var table, rid, data sql.NullString
			if err := rows.Scan(&low, &id, &match, &table, &rid, &op, &rev, &data, &at); err != nil {
				return err
			}
			if pos.ID < low {
				return changefeed.Expired()
			}
			if !id.Valid {
				continue
			}
			scanned++
			last = id.Int64
			if !match.Bool {
				continue
			}
			c := persist.Change{
				Table: table.String, ID: rid.String, Op: persist.ChangeOp(op.Int64), Revision: rev.Int64,
				Time: time.UnixMicro(at.Int64).UTC(),
			}
			if data.Valid {
				c.Data = json.RawMessage(data.String)
			}
			c.Cursor = changefeed.Encode(dbID, set, changefeed.Position{ID: last})
			page = append(page, c)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, db.wrap(ctx, "changes", "", "", err)
	}
	for _, c := range page {
		if !yield(c, nil) {
			return 0, errStop
		}
	}
	if scanned > 0 {
		pos.ID = last
	}
	return scanned, nil
}

// watchDataVersion broadcasts whenever the database's data_version
// changes, until ctx ends.
func (db *DB) watchDataVersion(ctx context.Context) {
	var conn *sql.Conn
	var stmt *sql.Stmt
	drop := func() {
		if stmt != nil {
			stmt.Close()
		}
		if conn != nil {
			conn.Close()
		}
		stmt, conn = nil, nil
	}
	defer drop()
	var last int64 = -1
	interval, quietSince := pollInterval, time.Now()
	for ctx.Err() == nil && !db.closed.Load() {
		if conn == nil {
			c, err := db.readers.Conn(ctx)
			if err != nil {
				changefeed.Sleep(ctx, slowPoll)
				continue
			}
			conn = c
			if stmt, err = conn.PrepareContext(ctx, `PRAGMA data_version`); err != nil {
				drop()
				changefeed.Sleep(ctx, slowPoll)
				continue
			}
		}
		var v int64
		if err := stmt.QueryRowContext(ctx).Scan(&v); err != nil {
			drop()
			db.feedHub.Broadcast()
			changefeed.Sleep(ctx, pollInterval)
			continue
		}
		if v != last {
			// The first reading also wakes the waiters: a commit between
			// their last read and this one would otherwise go unnoticed.
			db.feedHub.Broadcast()
			last = v
			interval, quietSince = pollInterval, time.Now()
		} else if interval < idlePoll && time.Since(quietSince) >= idleAfter {
			interval = min(2*interval, idlePoll)
		}
		changefeed.Sleep(ctx, interval)
	}
}

// Prune deletes the changes keep lets go (see [persist.ChangeFeed]).
func (db *DB) Prune(ctx context.Context, keep persist.Retention) (int64, error) {
	if err := db.check(ctx, "prune"); err != nil {
		return 0, err
	}
	if err := changefeed.CheckRetention(keep); err != nil {
		return 0, err
	}
	if db.readOnly {
		return 0, errReadOnly("prune", "", "")
	}
	if _, err := db.feedState(ctx, "prune", nil); err != nil {
		return 0, err
	}
	if keep.MaxAge == 0 && keep.MaxRows == 0 {
		return 0, nil
	}
	var deleted int64
	err := db.retry(ctx, "prune", func(ctx context.Context) error {
		tx, err := db.writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		// cut is the last change to delete: every change up to it goes.
		var cut int64
		if keep.MaxRows > 0 {
			err := tx.QueryRowContext(ctx, `SELECT id FROM persist_changes ORDER BY id DESC LIMIT 1 OFFSET ?`, keep.MaxRows).Scan(&cut)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if keep.MaxAge > 0 {
			// Everything before the first change young enough to keep.
			var byAge int64
			err := tx.QueryRowContext(ctx, `SELECT coalesce(
				(SELECT min(id) - 1 FROM persist_changes WHERE at >= ?1),
				(SELECT max(id) FROM persist_changes), 0)`,
				time.Now().Add(-keep.MaxAge).UnixMicro()).Scan(&byAge)
			if err != nil {
				return err
			}
			cut = max(cut, byAge)
		}
		// The newest change stays: its id must not be handed out again.
		var newest int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM persist_changes`).Scan(&newest); err != nil {
			return err
		}
		cut = min(cut, newest-1)
		if cut <= 0 {
			deleted = 0
			return nil
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM persist_changes WHERE id <= ?`, cut)
		if err != nil {
			return err
		}
		deleted, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE persist_feed SET low_water = max(low_water, ?) WHERE id = 1`, cut); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, db.wrap(ctx, "prune", "", "", err)
	}
	return deleted, nil
}

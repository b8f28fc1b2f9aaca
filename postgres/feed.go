package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/changefeed"
	"github.com/persistkit/persist/internal/check"
	"github.com/persistkit/persist/internal/ident"
)

// The change feed. A row trigger on each table with the feed on appends
// every write to persist_changes, in the writing transaction, with that
// transaction's id (pg_current_xact_id(), a 64-bit xid8) and a row id
// from an identity column.
//
// Row ids are taken when a row is written, not when its transaction
// commits, so a long transaction can commit a lower id after a higher one
// has been read. Readers therefore read only the rows of transactions
// older than the snapshot's xmin, pg_snapshot_xmin(pg_current_snapshot()):
// every transaction below it has ended, so no row can appear below it
// later. They read in (xid, id) order and the cursor holds the last
// (xid, id) read. A transaction that commits after a reader has passed
// another had an xid at or above the xmin of that read, hence above the
// cursor: nothing is missed, and nothing is read twice. Changes come
// grouped by transaction, in the order of the transactions' ids, which
// for transactions that overlap is not always their commit order; each
// consumer sees the same order.
//
// The cost: a change is delivered only once every transaction that
// started writing before it, in any database of the server, has ended.
//
// The trigger also calls pg_notify; one connection per DB listens while
// anyone follows and wakes the followers, which otherwise poll every
// slowPoll so that a lost notification only delays. When a read finds
// changes committed but held back by an older transaction, it polls again
// soon, with a growing interval up to heldBackMax.

var _ persist.ChangeFeed = (*DB)(nil)

const (
	// slowPoll re-reads the log even without a notification.
	slowPoll = time.Second
	// heldBackPoll is the first interval of the polls that wait for an
	// older transaction to end; it doubles up to heldBackMax, which
	// bounds both the delay after that transaction ends and the queries
	// spent waiting for it (20 a second).
	heldBackPoll = 2 * time.Millisecond
	heldBackMax  = 50 * time.Millisecond
	// feedPage is the number of changes one query reads.
	feedPage = 500
	// feedTrigger names the trigger on each table; trigger names are
	// per table.
	feedTrigger = "persist_feed"
	// feedFunc is the trigger function, one per schema.
	feedFunc = "persist_feed_capture"
)

// feedNames are the qualified names of the schema's feed objects.
type feedNames struct {
	log, state, fn, channel string
}

func (db *DB) feedNames() feedNames {
	s := ident.Quote(db.schema)
	h := fnv.New64a()
	h.Write([]byte(db.schema))
	return feedNames{
		log:   s + ".persist_changes",
		state: s + ".persist_feed",
		fn:    s + "." + ident.Quote(feedFunc),
		// Channels are per database; the hash keeps schemas apart
		// within the 63 bytes of an identifier.
		channel: fmt.Sprintf("persist_feed_%016x", h.Sum64()),
	}
}

// createFeed creates the log, its state and the trigger function.
func (n feedNames) createFeed() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + n.log + ` (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	table_name text NOT NULL,
	record_id text COLLATE "C" NOT NULL,
	op smallint NOT NULL,
	revision bigint NOT NULL,
	data jsonb,
	at timestamptz NOT NULL DEFAULT now())`,
		`CREATE INDEX IF NOT EXISTS "persist_changes$xid" ON ` + n.log + ` (xid, id)`,
		`CREATE TABLE IF NOT EXISTS ` + n.state + ` (
	id smallint PRIMARY KEY CHECK (id = 1),
	db_id text NOT NULL,
	low_xid xid8 NOT NULL DEFAULT '0',
	low_id bigint NOT NULL DEFAULT 0)`,
		`CREATE OR REPLACE FUNCTION ` + n.fn + `() RETURNS trigger LANGUAGE plpgsql AS $persist$
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO ` + n.log + ` (table_name, record_id, op, revision) VALUES (TG_TABLE_NAME, OLD.id, 3, OLD.revision);
	ELSE
		INSERT INTO ` + n.log + ` (table_name, record_id, op, revision, data)
		VALUES (TG_TABLE_NAME, NEW.id, CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE 2 END, NEW.revision, NEW.data);
	END IF;
	PERFORM pg_notify('` + n.channel + `', '');
	RETURN NULL;
END
$persist$`,
	}
}

// EnableFeed starts recording the writes to tables (see
// [persist.ChangeFeed]). It creates the tables when missing and is one
// query when the feed is already on.
func (db *DB) EnableFeed(ctx context.Context, tables ...string) error {
	if err := check.Enter(ctx, db.closed.Load(), "enable_feed", "", ""); err != nil {
		return err
	}
	for _, name := range tables {
		if err := ident.Table(name); err != nil {
			return &persist.Error{Op: "enable_feed", Err: fmt.Errorf("%w: %w", persist.ErrInvalid, err)}
		}
	}
	n := db.feedNames()
	for _, name := range tables {
		s, err := db.store(name, nil)
		if err != nil {
			return err
		}
		if err := db.ensure(ctx, "enable_feed", s.t); err != nil {
			return err
		}
		err = db.run(ctx, "enable_feed", name, "", true, func(ctx context.Context) error {
			var on bool
			if err := db.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND EXISTS (
				SELECT 1 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace s ON s.oid = c.relnamespace
				WHERE s.nspname = $2 AND c.relname = $3 AND g.tgname = $4)`, n.state, db.schema, name, feedTrigger).Scan(&on); err != nil {
				return err
			}
			if on {
				return nil
			}
			return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(db.schema, "persist_changes")); err != nil {
					return err
				}
				for _, q := range n.createFeed() {
					if _, err := tx.Exec(ctx, q); err != nil {
						return err
					}
				}
				if _, err := tx.Exec(ctx, `INSERT INTO `+n.state+` (id, db_id) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, changefeed.NewDBID()); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(db.schema, name)); err != nil {
					return err
				}
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = $2)`,
					s.t.qname, feedTrigger).Scan(&exists); err != nil || exists {
					return err
				}
				_, err := tx.Exec(ctx, "CREATE TRIGGER "+ident.Quote(feedTrigger)+" AFTER INSERT OR UPDATE OR DELETE ON "+s.t.qname+
					" FOR EACH ROW EXECUTE FUNCTION "+n.fn+"()")
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// feedState reads the database's identity, checking that the feed is on
// for tables.
func (db *DB) feedState(ctx context.Context, op string, tables []string) (string, error) {
	n := db.feedNames()
	var dbID string
	err := db.run(ctx, op, "", "", true, func(ctx context.Context) error {
		var exists bool
		if err := db.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, n.state).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return changefeed.ErrNoFeed(op, "")
		}
		if err := db.pool.QueryRow(ctx, `SELECT db_id FROM `+n.state+` WHERE id = 1`).Scan(&dbID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return changefeed.ErrNoFeed(op, "")
			}
			return err
		}
		if len(tables) == 0 {
			return nil
		}
		rows, err := db.pool.Query(ctx, `SELECT c.relname::text FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
			JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND g.tgname = $2 AND c.relname = ANY($3)`,
			db.schema, feedTrigger, tables)
		if err != nil {
			return err
		}
		on, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, t := range tables {
			found := false
			for _, o := range on {
				found = found || o == t
			}
			if !found {
				return changefeed.ErrNoFeed(op, t)
			}
		}
		return nil
	})
	return dbID, err
}

// Cursor returns the cursor of the present position of the feed of
// opts.Tables (see [persist.ChangeFeed]): after every transaction that
// has ended.
func (db *DB) Cursor(ctx context.Context, opts *persist.FeedOptions) (string, error) {
	if err := check.Enter(ctx, db.closed.Load(), "cursor", "", ""); err != nil {
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
	var xmin string
	err = db.run(ctx, "cursor", "", "", true, func(ctx context.Context) error {
		return db.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin)
	})
	if err != nil {
		return "", err
	}
	x, err := strconv.ParseUint(xmin, 10, 64)
	if err != nil {
		return "", &persist.Error{Op: "cursor", Err: err}
	}
	return changefeed.Encode(dbID, set, changefeed.Position{XID: x - 1, ID: math.MaxInt64}), nil
}

// Changes yields the changes after cursor, transaction by transaction
// (see [persist.ChangeFeed] and the notes at the top of this file).
func (db *DB) Changes(ctx context.Context, cursor string, opts *persist.FeedOptions) iter.Seq2[persist.Change, error] {
	return func(yield func(persist.Change, error) bool) {
		if err := check.Enter(ctx, db.closed.Load(), "changes", "", ""); err != nil {
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
			defer db.feedHub.Subscribe(db.listen)()
		}
		var filter []string // nil: every table
		if len(tables) > 0 {
			filter = tables
		}
		backoff := heldBackPoll
		for {
			wake := db.feedHub.Wait()
			n, heldBack, err := db.readChanges(ctx, dbID, set, filter, &pos, yield)
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
			delay := slowPoll
			if heldBack && n == 0 {
				delay, backoff = backoff, min(2*backoff, heldBackMax)
			} else {
				backoff = heldBackPoll
			}
			t := time.NewTimer(delay)
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
// filter names, advances pos past the page and returns its length. It
// reports whether committed changes are held back by an older
// transaction. The low-water mark is read in the same statement, under
// the same snapshot, so a concurrent prune cannot remove rows between the
// check and the read.
func (db *DB) readChanges(ctx context.Context, dbID string, set uint64, filter []string, pos *changefeed.Position,
	yield func(persist.Change, error) bool) (int, bool, error) {
	n := db.feedNames()
	var page []persist.Change
	var heldBack bool
	var next changefeed.Position
	var scanned int
	err := db.run(ctx, "changes", "", "", true, func(ctx context.Context) error {
		page, scanned = page[:0], 0
		// Changes of other tables are read too, without their
		// documents, so that the position moves past them: filtering in
		// the scan would read them again on every poll of a quiet table.
		rows, err := db.pool.Query(ctx, `SELECT f.low_xid::text, f.low_id,
	EXISTS (SELECT 1 FROM `+n.log+` p WHERE p.xid >= pg_snapshot_xmin(pg_current_snapshot())),
	c.xid::text, c.id, c.m, c.table_name, c.record_id, c.op, c.revision, CASE WHEN c.m THEN c.data END, c.at
FROM `+n.state+` f LEFT JOIN LATERAL (
	SELECT xid, id, $3::text[] IS NULL OR table_name = ANY($3::text[]) AS m,
		table_name, record_id, op, revision, data, at
	FROM `+n.log+`
	WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) AND (xid, id) > ($1::text::xid8, $2::bigint)
	ORDER BY xid, id LIMIT $4
) c ON true WHERE f.id = 1 ORDER BY c.xid, c.id`, strconv.FormatUint(pos.XID, 10), pos.ID, filter, feedPage)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var lowXID string
			var lowID int64
			var xid, table, rid *string
			var id, rev *int64
			var match *bool
			var op *int16
			var data []byte
			var at *time.Time
			if err := rows.Scan(&lowXID, &lowID, &heldBack, &xid, &id, &match, &table, &rid, &op, &rev, &data, &at); err != nil {
				return err
			}
			lx, err := strconv.ParseUint(lowXID, 10, 64)
			if err != nil {
				return err
			}
			if pos.Less(changefeed.Position{XID: lx, ID: lowID}) {
				return changefeed.Expired()
			}
			if id == nil {
				continue
			}
			x, err := strconv.ParseUint(*xid, 10, 64)
			if err != nil {
				return err
			}
			next = changefeed.Position{XID: x, ID: *id}
			scanned++
			if !*match {
				continue
			}
			page = append(page, persist.Change{
				Table: *table, ID: *rid, Op: persist.ChangeOp(*op), Revision: *rev, Data: data,
				Time: at.UTC(), Cursor: changefeed.Encode(dbID, set, next),
			})
		}
		return rows.Err()
	})
	if err != nil {
		return 0, false, err
	}
	for _, c := range page {
		if !yield(c, nil) {
			return 0, false, errStop
		}
	}
	if scanned > 0 {
		*pos = next
	}
	return scanned, heldBack, nil
}

// listen holds a connection of its own, taken out of the pool, that
// LISTENs on the schema's channel and wakes the followers on every
// notification, until ctx ends. A lost connection is replaced; the
// followers are woken then too, since notifications may have been lost.
func (db *DB) listen(ctx context.Context) {
	channel := db.feedNames().channel
	for ctx.Err() == nil && !db.closed.Load() {
		c, err := db.pool.Acquire(ctx)
		if err != nil {
			changefeed.Sleep(ctx, slowPoll)
			continue
		}
		conn := c.Hijack()
		if _, err := conn.Exec(ctx, "LISTEN "+ident.Quote(channel)); err == nil {
			db.feedHub.Broadcast()
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					break
				}
				db.feedHub.Broadcast()
			}
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx) //nolint:errcheck // the connection is done either way
		cancel()
		db.feedHub.Broadcast()
		if ctx.Err() == nil {
			changefeed.Sleep(ctx, heldBackPoll)
		}
	}
}

// Prune deletes the changes keep lets go (see [persist.ChangeFeed]).
// Only changes of ended transactions are pruned, oldest (xid, id) first.
func (db *DB) Prune(ctx context.Context, keep persist.Retention) (int64, error) {
	if err := check.Enter(ctx, db.closed.Load(), "prune", "", ""); err != nil {
		return 0, err
	}
	if err := changefeed.CheckRetention(keep); err != nil {
		return 0, err
	}
	if _, err := db.feedState(ctx, "prune", nil); err != nil {
		return 0, err
	}
	if keep.MaxAge == 0 && keep.MaxRows == 0 {
		return 0, nil
	}
	n := db.feedNames()
	var deleted int64
	err := db.run(ctx, "prune", "", "", true, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(db.schema, "persist_changes:prune")); err != nil {
				return err
			}
			var horizon string
			if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&horizon); err != nil {
				return err
			}
			// cut is the last change to delete: every change up to it,
			// in (xid, id) order, goes.
			var cut *changefeed.Position
			at := func(q string, args ...any) error {
				var x string
				var id int64
				err := tx.QueryRow(ctx, q, args...).Scan(&x, &id)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				if err != nil {
					return err
				}
				xid, err := strconv.ParseUint(x, 10, 64)
				if err != nil {
					return err
				}
				if p := (changefeed.Position{XID: xid, ID: id}); cut == nil || cut.Less(p) {
					cut = &p
				}
				return nil
			}
			if keep.MaxRows > 0 {
				if err := at(`SELECT xid::text, id FROM `+n.log+` WHERE xid < $1::text::xid8
					ORDER BY xid DESC, id DESC OFFSET $2 LIMIT 1`, horizon, keep.MaxRows); err != nil {
					return err
				}
			}
			if keep.MaxAge > 0 {
				// Everything before the first change young enough to
				// keep, or everything when there is none.
				var fx string
				var fid int64
				err := tx.QueryRow(ctx, `SELECT xid::text, id FROM `+n.log+` WHERE xid < $1::text::xid8
					AND at >= now() - $2 * interval '1 microsecond' ORDER BY xid, id LIMIT 1`,
					horizon, keep.MaxAge.Microseconds()).Scan(&fx, &fid)
				switch {
				case errors.Is(err, pgx.ErrNoRows):
					err = at(`SELECT xid::text, id FROM `+n.log+` WHERE xid < $1::text::xid8
						ORDER BY xid DESC, id DESC LIMIT 1`, horizon)
				case err == nil:
					err = at(`SELECT xid::text, id FROM `+n.log+` WHERE (xid, id) < ($1::text::xid8, $2::bigint)
						ORDER BY xid DESC, id DESC LIMIT 1`, fx, fid)
				}
				if err != nil {
					return err
				}
			}
			if cut == nil {
				deleted = 0
				return nil
			}
			cx := strconv.FormatUint(cut.XID, 10)
			tag, err := tx.Exec(ctx, `DELETE FROM `+n.log+` WHERE (xid, id) <= ($1::text::xid8, $2::bigint)`, cx, cut.ID)
			if err != nil {
				return err
			}
			deleted = tag.RowsAffected()
			_, err = tx.Exec(ctx, `UPDATE `+n.state+` SET low_xid = $1::text::xid8, low_id = $2
				WHERE id = 1 AND (low_xid, low_id) < ($1::text::xid8, $2::bigint)`, cx, cut.ID)
			return err
		})
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

package sqlite

import (
	"context"
	"log/slog"
	"strings"

	"github.com/persistkit/persist/internal/ident"
)

// A table persist creates or upgrades stays writable by the earlier
// portal, whose statements name only id and data: INSERT, INSERT OR
// REPLACE, INSERT OR IGNORE, UPDATE ... SET data, DELETE. Three triggers
// give such a write what persist's own writes get:
//   - an insert is numbered after every existing row, at revision 1, with
//     the current time as created and updated;
//   - a replace keeps the replaced row's place and created time and bumps
//     its revision;
//   - an update bumps the revision and sets the updated time.
//
// Persist's own writes always set seq and always change the revision, so
// the triggers' WHEN clauses are false for them and their bodies never run.
//
// INSERT OR REPLACE deletes the old row before the new one exists, and
// its delete fires no trigger, so the before-insert trigger stashes what
// the replaced row held in persist_replaced, where the after-insert trigger
// finds it. The stash is emptied for the table by every after-insert; an
// INSERT OR IGNORE that ignored its row leaves one stale entry, which the
// next before-insert on that table clears before reading anything.

// replacedTable holds, per table, the row an earlier-layout INSERT is
// about to replace.
const replacedTable = `CREATE TABLE IF NOT EXISTS persist_replaced (
	table_name TEXT NOT NULL,
	id TEXT NOT NULL,
	seq INTEGER,
	revision INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (table_name, id)
) WITHOUT ROWID`

// nowMicros is the current time in microseconds since the epoch, the unit
// of created_at and updated_at, at SQLite's millisecond resolution. The
// triggers run in the connection of whichever program writes, so it uses
// only what SQLite has had for long: unixepoch('subsec') needs 3.42, and
// an earlier writer's older library computes NULL from it, which the NOT
// NULL columns refuse. SQLite keeps 'now' fixed within one statement, so
// the two calls agree.
const nowMicros = `(CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + CAST(substr(strftime('%f', 'now'), 4) AS INTEGER) * 1000)`

// staleTrigger matches the text of triggers written before nowMicros
// stopped using unixepoch('subsec'); they are created again.
const staleTrigger = `%unixepoch('subsec')%`

// createTable is the current layout. seq is nullable and the other
// columns have defaults only so that an insert naming just id and data
// reaches the triggers, which fill them in within the same statement; no
// committed row ever holds a NULL seq.
func createTable(q string) string {
	return `CREATE TABLE ` + q + ` (
	id TEXT PRIMARY KEY,
	data TEXT NOT NULL CHECK(json_valid(data)),
	seq INTEGER,
	revision INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL DEFAULT 0,
	updated_at INTEGER NOT NULL DEFAULT 0
)`
}

// trigger names; the colon cannot occur in a table name, so they never
// collide with another store's objects.
func triggerName(table, what string) string { return ident.Quote(table + ":" + what) }

var triggerKinds = []string{"legacy_insert_before", "legacy_insert_after", "legacy_update"}

// createTriggers installs the triggers on table name, replacing any that
// exist, and the stash table they share.
func createTriggers(ctx context.Context, x execer, name string) error {
	q := ident.Quote(name)
	lit := "'" + strings.ReplaceAll(name, "'", "''") + "'"
	stash := func(col string) string {
		return `(SELECT ` + col + ` FROM persist_replaced WHERE table_name = ` + lit + ` AND id = NEW.id)`
	}
	stmts := []string{
		replacedTable,
		`DROP TRIGGER IF EXISTS ` + triggerName(name, triggerKinds[0]),
		`DROP TRIGGER IF EXISTS ` + triggerName(name, triggerKinds[1]),
		`DROP TRIGGER IF EXISTS ` + triggerName(name, triggerKinds[2]),
		`CREATE TRIGGER ` + triggerName(name, triggerKinds[0]) + ` BEFORE INSERT ON ` + q + ` WHEN NEW.seq IS NULL
BEGIN
	DELETE FROM persist_replaced WHERE table_name = ` + lit + `;
	INSERT INTO persist_replaced (table_name, id, seq, revision, created_at)
		SELECT ` + lit + `, id, seq, revision, created_at FROM ` + q + ` WHERE id = NEW.id;
END`,
		`CREATE TRIGGER ` + triggerName(name, triggerKinds[1]) + ` AFTER INSERT ON ` + q + ` WHEN NEW.seq IS NULL
BEGIN
	UPDATE ` + q + ` SET
		seq = coalesce(` + stash("seq") + `, (SELECT coalesce(max(seq), 0) + 1 FROM ` + q + `)),
		revision = coalesce(` + stash("revision + 1") + `, 1),
		created_at = coalesce(` + stash("created_at") + `, ` + nowMicros + `),
		updated_at = ` + nowMicros + `
	WHERE rowid = NEW.rowid;
	DELETE FROM persist_replaced WHERE table_name = ` + lit + `;
END`,
		// OLD.seq IS NOT NULL leaves out the after-insert trigger's own
		// update of a row it has just numbered.
		`CREATE TRIGGER ` + triggerName(name, triggerKinds[2]) + ` AFTER UPDATE OF data ON ` + q + `
WHEN NEW.revision IS OLD.revision AND OLD.seq IS NOT NULL
BEGIN
	UPDATE ` + q + ` SET revision = OLD.revision + 1, updated_at = ` + nowMicros + ` WHERE rowid = NEW.rowid;
END`,
	}
	for _, s := range stmts {
		if _, err := x.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// shareTable brings a table persist recorded earlier up to what writers
// that know only id and data need: a table created by persist 0.1 has a
// NOT NULL seq and timestamps without defaults, which refuse their
// inserts, and no triggers. SQLite cannot drop a NOT NULL constraint in
// place, so such a table is rebuilt, keeping every row, its rowid and
// its seq, in the caller's transaction.
func shareTable(ctx context.Context, x execer, name string, log *slog.Logger) error {
	var seqNotNull, triggers int
	err := x.QueryRowContext(ctx, `SELECT
		(SELECT "notnull" FROM pragma_table_info(?1) WHERE name = 'seq'),
		(SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 AND name IN (?2, ?3, ?4) AND sql NOT LIKE ?5)`,
		name, name+":"+triggerKinds[0], name+":"+triggerKinds[1], name+":"+triggerKinds[2], staleTrigger).Scan(&seqNotNull, &triggers)
	if err != nil {
		return err
	}
	if err := renewFeedTriggers(ctx, x, name); err != nil {
		return err
	}
	if seqNotNull == 0 && triggers == len(triggerKinds) {
		return nil
	}
	var rows int64
	if seqNotNull != 0 {
		q := ident.Quote(name)
		tmp := ident.Quote(name + ":rebuild")
		const cols = `rowid, id, data, seq, revision, created_at, updated_at`
		for _, s := range []string{
			`DROP TABLE IF EXISTS ` + tmp,
			createTable(tmp),
			`INSERT INTO ` + tmp + ` (` + cols + `) SELECT ` + cols + ` FROM ` + q,
			`DROP TABLE ` + q,
			`ALTER TABLE ` + tmp + ` RENAME TO ` + q,
			`CREATE UNIQUE INDEX ` + seqIndex(name) + ` ON ` + q + ` (seq)`,
		} {
			res, err := x.ExecContext(ctx, s)
			if err != nil {
				return err
			}
			if strings.HasPrefix(s, "INSERT") {
				rows, _ = res.RowsAffected()
			}
		}
	}
	if err := createTriggers(ctx, x, name); err != nil {
		return err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "persist: table made safe for writers that know only id and data",
		slog.String("table", name), slog.Bool("rebuilt", seqNotNull != 0), slog.Int64("rows", rows))
	return nil
}

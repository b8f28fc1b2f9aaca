package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// layoutVersion is the table layout recorded in persist_meta.
const layoutVersion = 1

// table is one store's table: its SQL, built once, and whether it is known
// to exist in the current layout on this DB.
type table struct {
	name   string
	schema string
	qname  string // "schema"."name"

	ready atomic.Bool
	mu    sync.Mutex // serialises ensure on this DB

	sqlGet, sqlPutUpsert, sqlPutRev, sqlInsert, sqlUpdate, sqlRevision      string
	sqlLock, sqlWrite, sqlDelete, sqlCount, sqlClear, sqlSeq, sqlInsertMany string
	sqlList, sqlQuery, sqlListByID, sqlQueryByID                            string

	// The GIN index serves Query when the DB's QueryIndex asks for it; a
	// bulk load drops it on an empty table and creates it again
	// afterwards, and ensure, on such a DB, restores it if that never
	// happened.
	ginName, sqlCreateGIN, sqlDropGIN string

	// seqName is the qualified, quoted name of the sequence behind seq.
	seqName string

	// loads counts the bulk loads open on this DB that found the table
	// empty; while it is positive, InsertMany writes with COPY (see
	// BeginBulkLoad).
	loads atomic.Int32

	batch batchSQL
}

func newTable(schema, name string) *table {
	q := ident.Quote(schema) + "." + ident.Quote(name)
	gin := ident.Quote(schema) + "." + ident.Quote(objectName(name, "gin"))
	const cols = "data, revision, created_at, updated_at"
	return &table{
		name:         name,
		schema:       schema,
		qname:        q,
		ginName:      gin,
		seqName:      ident.Quote(schema) + "." + ident.Quote(objectName(name, "id")),
		batch:        newBatchSQL(q),
		sqlCreateGIN: "CREATE INDEX IF NOT EXISTS " + ident.Quote(objectName(name, "gin")) + " ON " + q + " USING gin (data jsonb_path_ops)",
		sqlDropGIN:   "DROP INDEX IF EXISTS " + gin,
		sqlGet:       "SELECT " + cols + " FROM " + q + " WHERE id = $1",
		sqlPutUpsert: insertInto(q) + "VALUES (" + newRow("$1", "$2::jsonb", ts("$3")) + ")" + onConflictReplace + returnRow,
		sqlPutRev:    "UPDATE " + q + " AS t" + setWrite("$2::jsonb", ts("$4")) + " WHERE t.id = $1 AND t.revision = $3" + returnRow,
		sqlInsert:    insertInto(q) + "VALUES (" + newRow("$1", "$2::jsonb", ts("$3")) + ")" + returnRow,
		sqlUpdate: "UPDATE " + q + " AS t" + setWrite("t.data || $2::jsonb", ts("$4")) +
			" WHERE t.id = $1 AND ($3::bigint = 0 OR t.revision = $3) RETURNING t.data, t.revision, t.created_at, t.updated_at",
		sqlRevision: "SELECT revision FROM " + q + " WHERE id = $1",
		sqlLock:     "SELECT " + cols + " FROM " + q + " WHERE id = $1 FOR UPDATE",
		sqlWrite:    "UPDATE " + q + " AS t" + setWrite("$2::jsonb", ts("$3")) + " WHERE t.id = $1" + returnRow,
		sqlDelete:   "DELETE FROM " + q + " WHERE id = $1",
		sqlCount:    "SELECT count(*) FROM " + q,
		sqlClear:    "DELETE FROM " + q,
		sqlSeq:      "SELECT seq FROM " + q + " WHERE id = $1",
		// unnest keeps the input order and the identity column is
		// assigned in the order rows are inserted, so seq follows the
		// input. Rows whose id exists are skipped by ON CONFLICT. A copy
		// keeps the revision and times it is given; the others are the
		// write rule's (see write.go).
		sqlInsertMany: "INSERT INTO " + q + " (id, data, revision, created_at, updated_at) " +
			"SELECT r.id, r.data, coalesce(r.rev, 1), coalesce(r.c, $6::timestamptz), coalesce(r.u, $6::timestamptz) " +
			"FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::timestamptz[], $5::timestamptz[]) " +
			"WITH ORDINALITY AS r(id, data, rev, c, u, ord) ORDER BY r.ord ON CONFLICT (id) DO NOTHING",
		sqlList: "SELECT id, seq, " + cols + " FROM " + q + " WHERE seq > $1 ORDER BY seq LIMIT $2",
		// Query fences the filter in a subquery (OFFSET 0) so the
		// planner cannot satisfy ORDER BY ... LIMIT by walking the seq or
		// id index and filtering every row: jsonb selectivity estimates
		// are rough, and when one comes out high that walk reads the
		// whole table for a handful of matches. Fenced, the matches come
		// from the GIN index (or a sequential scan when the filter is
		// broad or there is no index) and only they are sorted.
		sqlQuery: "SELECT id, seq, " + cols + " FROM (SELECT id, seq, " + cols + " FROM " + q +
			" WHERE data @> $3::jsonb AND seq > $1 OFFSET 0) AS m ORDER BY seq LIMIT $2",
		// COLLATE "C" is byte order, which for UTF-8 is code point order,
		// whatever the database's collation.
		sqlListByID: "SELECT id, seq, " + cols + " FROM " + q +
			` WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`,
		sqlQueryByID: "SELECT id, seq, " + cols + " FROM (SELECT id, seq, " + cols + " FROM " + q +
			` WHERE data @> $3::jsonb AND id COLLATE "C" > $1 OFFSET 0) AS m ORDER BY id COLLATE "C" LIMIT $2`,
	}
}

// maxIdent is PostgreSQL's identifier length, NAMEDATALEN-1 bytes.
const maxIdent = 63

// objectName names an index, constraint or sequence belonging to table
// name: name$suffix, or, when that is longer than PostgreSQL's 63 bytes,
// head$suffix$code, where head is as much of name as fits and code is the
// rest of name read as a bijective base-37 numeral, written in base 62
// (the rest is never empty, so code has no leading zero). '$' cannot occur
// in a table name, so the first '$' ends head, the second ends suffix, and
// code gives back the rest: two tables never share a derived name, nor do
// two suffixes, and no derived name is a table name. The 32-bit hash an
// earlier version used (legacyObjectName) let two long names collide.
func objectName(name, suffix string) string {
	if len(name)+1+len(suffix) <= maxIdent {
		return name + "$" + suffix
	}
	for k := len(name) - 1; k >= 0; k-- {
		code := restCode(name[k:])
		if k+2+len(suffix)+len(code) <= maxIdent {
			return name[:k] + "$" + suffix + "$" + code
		}
	}
	// Only for a name far longer than a valid table name.
	panic("postgres: no object name for table " + name)
}

// tableDigits are the characters of a table name, as the digits 1 to 37
// of a bijective numeral.
const tableDigits = "_abcdefghijklmnopqrstuvwxyz0123456789"

// restCode writes rest, read as a bijective base-37 numeral, in base 62.
// Each character of rest costs 0.88 characters of code, which is what
// makes room for the suffix.
func restCode(rest string) string {
	v, base := new(big.Int), big.NewInt(int64(len(tableDigits)))
	for i := 0; i < len(rest); i++ {
		v.Mul(v, base)
		v.Add(v, big.NewInt(int64(strings.IndexByte(tableDigits, rest[i])+1)))
	}
	return v.Text(62)
}

// legacyObjectName is objectName as earlier versions derived it: a
// long name was cut to leave room for a 32-bit FNV-1a hash of it, so two
// long names could collide. Objects created then keep these names; code
// that needs one of them looks it up on its own table, never by name
// alone.
func legacyObjectName(name, suffix string) string {
	if len(name)+1+len(suffix) <= maxIdent {
		return name + "$" + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	keep := maxIdent - 1 - len(suffix) - 9
	return fmt.Sprintf("%s_%08x$%s", name[:keep], h.Sum32(), suffix)
}

// createGIN creates t's GIN index. A table an earlier version created may
// have it under its legacy name: that index is renamed instead, so the
// table does not get a second one and a bulk load finds it by name.
func (db *DB) createGIN(ctx context.Context, tx querier, t *table) error {
	if old, name := legacyObjectName(t.name, "gin"), objectName(t.name, "gin"); old != name {
		var found bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = $1::regclass AND c.relname = $2)`, t.qname, old).Scan(&found)
		if err != nil {
			return err
		}
		if found {
			_, err := tx.Exec(ctx, "ALTER INDEX "+ident.Quote(t.schema)+"."+ident.Quote(old)+" RENAME TO "+ident.Quote(name))
			return err
		}
	}
	_, err := tx.Exec(ctx, t.sqlCreateGIN)
	return err
}

// lockKey is the advisory lock that serialises DDL on one table across
// every process using the database.
func lockKey(schema, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("persist:" + schema + "." + name))
	return int64(h.Sum64())
}

func (db *DB) createMeta(ctx context.Context) error {
	var exists bool
	if err := db.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", db.meta).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	// Creating needs privileges that a role using existing tables may
	// lack, so it is attempted only when something is missing.
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(db.schema, "persist_meta")); err != nil {
			return err
		}
		var schemaExists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", db.schema).Scan(&schemaExists); err != nil {
			return err
		}
		if !schemaExists {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident.Quote(db.schema)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+db.meta+
			" (table_name text PRIMARY KEY, layout_version integer NOT NULL)")
		return err
	})
}

// tablesSQL lists persist tables: recorded in persist_meta and present, or
// with exactly the columns (id text, data jsonb) of the earlier layout.
func tablesSQL(meta string) string {
	return `SELECT m.table_name FROM ` + meta + ` m
	JOIN pg_class c ON c.relname = m.table_name AND c.relkind IN ('r', 'p')
	JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $1
UNION
SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND (
	SELECT array_agg(a.attname::text || ':' || format_type(a.atttypid, NULL) ORDER BY a.attname)
	FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
) = ARRAY['data:jsonb', 'id:text']`
}

// ensure makes sure t exists in the current layout, once per DB. Errors are
// mapped for op.
func (db *DB) ensure(ctx context.Context, op string, t *table) error {
	if t.ready.Load() {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ready.Load() {
		return nil
	}
	err := db.run(ctx, op, t.name, "", true, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return db.ensureTx(ctx, tx, t) })
	})
	if err == nil {
		t.ready.Store(true)
	}
	return err
}

// wantColumns is the current layout.
var wantColumns = map[string]string{
	"id": "text", "data": "jsonb", "seq": "bigint", "revision": "bigint",
	"created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
}

func (db *DB) ensureTx(ctx context.Context, tx querier, t *table) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(t.schema, t.name)); err != nil {
		return err
	}
	var relkind *string
	var version *int32
	var hasGIN, hasTrigger bool
	err := tx.QueryRow(ctx, `SELECT
		(SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2),
		(SELECT layout_version FROM `+db.meta+` WHERE table_name = $2),
		to_regclass($3) IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND g.tgname = $4)`,
		t.schema, t.name, t.ginName, revisionTrigger).Scan(&relkind, &version, &hasGIN, &hasTrigger)
	if err != nil {
		return err
	}
	if relkind == nil {
		return db.createTable(ctx, tx, t)
	}
	if *relkind != "r" && *relkind != "p" {
		return &persist.Error{Op: "store", Table: t.name, Err: fmt.Errorf("%w: %s exists and is not a table", persist.ErrInvalid, t.name)}
	}
	if version != nil && *version > layoutVersion {
		return &persist.Error{Op: "store", Table: t.name, Err: fmt.Errorf("%w: table %s has layout version %d; this version of persist knows %d",
			persist.ErrInvalid, t.name, *version, layoutVersion)}
	}
	rows, err := tx.Query(ctx, `SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, t.qname)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			return err
		}
		have[n] = typ
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if have["id"] != "text" || have["data"] != "jsonb" {
		return &persist.Error{Op: "store", Table: t.name, Err: fmt.Errorf("%w: table %s exists without id text and data jsonb columns",
			persist.ErrInvalid, t.name)}
	}
	var missing []string
	for col, typ := range wantColumns {
		got, ok := have[col]
		if !ok {
			missing = append(missing, col)
			continue
		}
		if got != typ {
			return &persist.Error{Op: "store", Table: t.name, Err: fmt.Errorf("%w: table %s column %s is %s, want %s",
				persist.ErrInvalid, t.name, col, got, typ)}
		}
	}
	if len(missing) > 0 {
		return db.upgradeTable(ctx, tx, t, missing)
	}
	if !hasTrigger {
		if err := db.createTrigger(ctx, tx, t); err != nil {
			return err
		}
	}
	if !hasGIN && db.queryIndex {
		// The table was created without the option, or a bulk load
		// dropped the index and its process died before finishing (see
		// BeginBulkLoad). Without the option a missing index is left
		// missing and an existing one alone. Checked first rather than
		// running CREATE INDEX IF NOT EXISTS every time: that statement
		// locks out writers and needs ownership even when the index
		// exists.
		if err := db.createGIN(ctx, tx, t); err != nil {
			return err
		}
		db.log.LogAttrs(ctx, slog.LevelInfo, "persist: created the missing GIN index QueryIndex asks for",
			slog.String("table", t.name), slog.String("schema", t.schema))
	}
	if version == nil {
		return db.record(ctx, tx, t)
	}
	return nil
}

func (db *DB) createTable(ctx context.Context, tx querier, t *table) error {
	seqName := t.seqName
	stmts := []string{
		"CREATE TABLE " + t.qname + ` (
	id text COLLATE "C" NOT NULL,
	data jsonb NOT NULL,
	seq bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME ` + seqName + `) NOT NULL,
	revision bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT ` + ident.Quote(objectName(t.name, "pk")) + ` PRIMARY KEY (id))`,
	}
	stmts = append(stmts, db.indexStatements(t)...)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	if err := db.createTrigger(ctx, tx, t); err != nil {
		return err
	}
	return db.record(ctx, tx, t)
}

// indexStatements create t's secondary indexes: seq's, which List needs,
// and the GIN index only on a DB with QueryIndex, since every write pays
// for it. The seq index is not unique: the identity already gives every
// row its own value, and a distributed PostgreSQL (Citus) refuses a unique
// index that does not include the distribution column, id. Tables created
// before keep the unique index they have.
func (db *DB) indexStatements(t *table) []string {
	stmts := []string{"CREATE INDEX IF NOT EXISTS " + ident.Quote(objectName(t.name, "seq")) + " ON " + t.qname + " (seq)"}
	if db.queryIndex {
		stmts = append(stmts, t.sqlCreateGIN)
	}
	return stmts
}

func (db *DB) record(ctx context.Context, tx querier, t *table) error {
	_, err := tx.Exec(ctx, "INSERT INTO "+db.meta+" (table_name, layout_version) VALUES ($1, $2) "+
		"ON CONFLICT (table_name) DO UPDATE SET layout_version = excluded.layout_version", t.name, layoutVersion)
	return err
}

// upgradeTable adds the missing columns of a table in the earlier layout,
// in the caller's transaction, so the upgrade is all or nothing. seq is
// backfilled in physical order, the only order the old layout had; this is
// the one place ctid is read.
func (db *DB) upgradeTable(ctx context.Context, tx querier, t *table, missing []string) error {
	has := func(c string) bool {
		for _, m := range missing {
			if m == c {
				return false
			}
		}
		return true
	}
	var adds []string
	if !has("revision") {
		adds = append(adds, "ADD COLUMN revision bigint NOT NULL DEFAULT 1")
	}
	if !has("created_at") {
		adds = append(adds, "ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()")
	}
	if !has("updated_at") {
		adds = append(adds, "ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()")
	}
	if !has("seq") {
		adds = append(adds, "ADD COLUMN seq bigint")
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE "+t.qname+" "+strings.Join(adds, ", ")); err != nil {
		return err
	}
	var rows int64
	if !has("seq") {
		tag, err := tx.Exec(ctx, "UPDATE "+t.qname+" AS t SET seq = o.n FROM "+
			"(SELECT id, row_number() OVER (ORDER BY ctid) AS n FROM "+t.qname+") AS o WHERE t.id = o.id")
		if err != nil {
			return err
		}
		rows = tag.RowsAffected()
		seqName := t.seqName
		// The identity must start after the backfilled values; the start
		// is our own count, not input.
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN seq SET NOT NULL, "+
			"ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME %s START WITH %d)", t.qname, seqName, rows+1)); err != nil {
			return err
		}
	}
	// The old id column has the database's collation; listing by id
	// needs byte order.
	stmts := append(db.indexStatements(t), "CREATE UNIQUE INDEX IF NOT EXISTS "+
		ident.Quote(objectName(t.name, "idc"))+" ON "+t.qname+` (id COLLATE "C")`)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	if err := db.createTrigger(ctx, tx, t); err != nil {
		return err
	}
	if err := db.record(ctx, tx, t); err != nil {
		return err
	}
	db.log.LogAttrs(ctx, slog.LevelInfo, "persist: upgraded table from the earlier layout",
		slog.String("table", t.name), slog.String("schema", t.schema), slog.Any("added", missing), slog.Int64("rows", rows))
	return nil
}

package postgres

import (
	"context"
	"log/slog"

	"github.com/persistkit/persist/internal/ident"
)

// A table persist creates or upgrades stays writable by the earlier
// portal, whose statements name only id and data. Its inserts get seq,
// revision 1 and the current times from the column defaults. Its updates
// (a plain UPDATE ... SET data, or INSERT ... ON CONFLICT (id) DO UPDATE
// SET data = EXCLUDED.data) would leave the revision alone, so a persist
// write carrying the revision read before them would succeed and lose
// their change. A row trigger bumps the revision and sets the updated
// time of every update that leaves the revision unchanged. Persist's own
// updates always change the revision, so the trigger's WHEN clause, which
// the executor evaluates without calling the function, is false for them.

// revisionTrigger is the trigger's name; trigger names are per table, so
// it needs no derived name.
const revisionTrigger = "persist_revision"

// revisionFunc is the trigger function, one per schema.
const revisionFunc = "persist_bump_revision"

// createTrigger installs the revision trigger on t, and its function in
// t's schema when missing, inside the caller's transaction (which holds
// t's advisory lock).
func (db *DB) createTrigger(ctx context.Context, tx querier, t *table) error {
	fn := ident.Quote(t.schema) + "." + ident.Quote(revisionFunc)
	var hasFunc bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = $1 AND p.proname = $2 AND p.pronargs = 0)`, t.schema, revisionFunc).Scan(&hasFunc); err != nil {
		return err
	}
	if !hasFunc {
		// Another schema's tables may be created concurrently under
		// other advisory locks; CREATE OR REPLACE makes a race on the
		// function harmless.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(t.schema, revisionFunc)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE OR REPLACE FUNCTION "+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.revision := OLD.revision + 1;
	NEW.updated_at := now();
	RETURN NEW;
END
$$`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TRIGGER "+ident.Quote(revisionTrigger)+" BEFORE UPDATE ON "+t.qname+
		" FOR EACH ROW WHEN (NEW.revision = OLD.revision) EXECUTE FUNCTION "+fn+"()"); err != nil {
		return err
	}
	db.log.LogAttrs(ctx, slog.LevelInfo, "persist: installed the revision trigger for writers that know only id and data",
		slog.String("table", t.name), slog.String("schema", t.schema))
	return nil
}

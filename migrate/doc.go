// Package migrate copies the tables of one persist database into another,
// for example a portal's SQLite file into PostgreSQL or back, and proves the
// copy faithful before it reports success.
//
// # Copying
//
// [Copy] streams each table from the source in insertion order, in batches
// of [Options.BatchSize], into the target with [persist.Store.InsertMany]:
// the next batch is read while the previous one is being written, and memory
// stays bounded by the batch size whatever the table size. Ids, revisions
// and timestamps are kept, so the target lists the records in the same order
// with the same metadata.
//
// Tables are migrated one at a time, or up to [Options.Parallel] at once,
// as pgloader and pg_dump do; each holds at most six batches, so memory
// stays bounded by Parallel × 6 batches (see [MaxBatchBytes]).
//
// Copy never writes to the source and never drops, truncates or overwrites
// anything on the target: a record whose id already exists there is skipped
// and counted in rows_skipped_duplicate. That makes a copy idempotent and
// resumable: running it again after an interruption inserts what is still
// missing and skips the rest. (With [Options.Follow], the source's later
// writes are then applied to the target's records; see below.)
//
// A target store that is a [persist.BulkLoader] (PostgreSQL's is) and whose
// table is empty is loaded the fastest way it offers (PostgreSQL writes the
// batches with COPY) and builds the secondary indexes it deferred once,
// after the table's copy and its verification, instead of row by row. The
// build's time is reported as index_seconds. The indexes are built also
// when the copy fails or ctx is cancelled, under a context of their own
// bounded to two minutes; past that, the backend builds them when the
// table is next opened.
//
// # Verification
//
// Every record copied is read back from the target and compared with the
// record the copy read from the source: the two are equal when their bytes
// are, or when the target's are the source document as PostgreSQL prints
// it once stored as jsonb (internal/jsonx.JSONBText, which renders that
// text exactly or not at all); any other pair is compared by the SHA-256
// of each one's canonical JSON (internal/jsonx.Digest). The first two
// spare most records the hashing. This happens while the copy goes on:
// each batch,
// once written, is read back and compared on goroutines of their own as
// the next batch is written, so the source is read once and the target
// once. A target table that was empty before the copy is read back in
// insertion order, a batch at a time from where the last one ended, which
// the database serves from consecutive rows; if a page is not the batch
// just written (another writer got in between), that batch and every later
// one is looked up by id instead ([persist.GetMany]: one round trip per
// batch on a [persist.Batcher], as both backends are, and one per record
// on other stores), as is every batch into a table that held records
// already. When the copy is done, the target's records are counted: those
// beyond the source's that were found are extra_target_rows. Memory stays
// bounded by a few batches.
//
// The canonical form is the same for a document stored as SQLite TEXT and
// as PostgreSQL JSONB, which reorders keys, drops whitespace, keeps the
// last of duplicate keys and rewrites numbers (1e2 becomes 100), so such
// rewrites are not mismatches, while numbers are compared exactly
// (12345678901234567890 and 12345678901234567891 differ). A target record
// that differs from its source record, or a source record missing from the
// target, is a digest mismatch; the target record is reported, never
// overwritten. Records that exist only on the target are counted in
// extra_target_rows and are not mismatches.
//
// # A source that changes
//
// A copy is verified against what it read, so a source that takes writes
// while it is copied could leave the target behind with every digest
// matching. After a table is copied and verified, Copy therefore checks
// that the source still holds exactly the record versions the copy read:
// it compares the count and an order-independent sum of hashes of each
// record's id, revision, update time and document, taken while copying,
// with the same taken from the source at the end. Every write changes the
// revision of the record it writes, or its document (a table in the
// earlier portal's layout read without being upgraded has no revisions),
// so an update of a record already read, an insert after the table was
// read and a delete all show. Taking the end's sum reads the source table
// again, unless the source says that nothing at all was written to it
// since the migration began ([persist.MarkWrites]: SQLite's
// data_version, which only a commit to the file changes; PostgreSQL's
// snapshot, which a write anywhere on the server changes). A table whose
// source changed is not verified:
// its report says source_changed, and Copy returns a
// [*SourceChangedError].
//
// # Following a live source
//
// With [Options.Follow], Copy moves a source that keeps taking writes.
// It takes a cursor of the source's change feed ([persist.ChangeFeed])
// before the copy reads anything, copies (without the batch-by-batch
// verification, which a moving source would defeat), and then applies
// the feed's changes from that cursor to the target, in batches of
// [Options.BatchSize], each in one transaction on the target together
// with the cursor after it, saved in [StateTable]. A record's changes are
// applied by revision: an insert or update only when it is newer than
// the target's record, a delete only when the target's record is not
// newer, so the changes the copy had already read, and those the feed
// yields twice around the first cursor, change nothing. A record that
// changed is written as the source holds it then (read by id; one round
// trip per table and batch), keeping its revision and times; it is
// deleted and inserted again, so it lists last in the target's insertion
// order.
//
// Following goes on, reading the feed again every 200 ms once caught up,
// until [Options.StopFollow] is closed (at once when it is nil); then
// Copy applies what is left, until the lag is zero, and compares every
// record of both sides by id and digest. [Progress] in [PhaseFollow]
// gives the lag in changes and seconds. A write to the source during that
// last verification (found in the feed, or as for a plain copy) makes the
// run a [*SourceChangedError], so pause the writers before stopping. A
// feed may hold a committed change back for a while (PostgreSQL's, until
// every older transaction on the server has ended), so a lag of zero does
// not prove that every earlier write was applied: a table that does not
// pass is verified again, up to three times, once following has applied
// changes it had not seen, waiting up to 30 seconds for them.
//
// A run that is stopped while following resumes, when run again with the
// same tables, from the saved cursor, without copying again; one stopped
// during the copy copies again what is missing and follows from the
// cursor it took first. A source without the feed on every table is a
// [*NoFeedError], before anything is copied. A feed pruned past the saved
// cursor fails with an error matching [persist.ErrCursorExpired]: start
// again into an empty target.
//
// # Outcome
//
// Copy returns a [Report] with per-table and total counts, whose JSON form
// is what the persist-migrate command prints, and an error that says how to
// treat the run:
//
//   - nil: every table was copied and every digest matched;
//   - [*SourceChangedError] (matching [ErrSourceChanged]): every table was
//     attempted, and the source of some changed while they were copied,
//     so those are not verified;
//   - [*DigestMismatchError]: every table was attempted, and some target
//     records differ from or lack their source records;
//   - [*PartialFailureError]: the target rejected some records as invalid
//     ([persist.ErrInvalid]); the others were copied;
//   - an error matching [persist.ErrUnavailable] (a [*persist.ConnError]),
//     returned as the backend gave it, when either side cannot be reached;
//   - the context's error when ctx is cancelled: what was committed stays,
//     and a later run resumes;
//   - an error matching [persist.ErrInvalid] for bad options, such as a
//     table the source does not have, or [Options.Follow] on a source
//     without the change feed on every table (a [*NoFeedError]);
//   - with [Options.Follow], an error matching [persist.ErrCursorExpired]
//     when the feed was pruned past the saved cursor;
//   - any other error from either backend, returned unchanged.
//
// When several of these occur the error joins them, so [errors.As] finds
// each.
//
// # Dry run
//
// With [Options.DryRun], Copy lists both sides in id order, merges them and
// reports what a real run would insert, skip and find mismatched, writing nothing and creating no
// table. (Opening a table through a backend may still upgrade a table in the
// earlier portal layout additively; that is the backend's doing, on the
// source as on the target. A SQLite source opened read-only, as
// persist-migrate opens it, is read as it is.)
package migrate

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
// Copy never writes to the source and never drops, truncates or overwrites
// anything on the target: a record whose id already exists there is skipped
// and counted in rows_skipped_duplicate. That makes a copy idempotent and
// resumable: running it again after an interruption inserts what is still
// missing and skips the rest.
//
// A target store that is a [persist.BulkLoader] (PostgreSQL's is) and whose
// table is empty builds its secondary indexes once, after the table's copy,
// instead of row by row (and PostgreSQL writes the batches with COPY
// meanwhile); the build runs while the verification reads the target,
// which needs none of the deferred indexes, and Copy returns only once
// both are done. The build's time is reported as index_seconds. The
// indexes are built also when the copy fails or ctx is cancelled, under a
// context of their own bounded to two minutes; past that, the backend
// builds them when the table is next opened.
//
// # Verification
//
// After a table is copied, Copy merges both sides in id order, comparing
// the SHA-256 of each record's canonical JSON (internal/jsonx). The source
// side is not read again: the records the copy read are hashed while it
// runs, on a goroutine of their own, and their ids and digests are sorted
// in runs of 131,072 and spooled to an unlinked temporary file in
// [os.TempDir] (about 70 bytes a record); verification merges the runs.
// The target is listed in insertion order, which for a table loaded in
// one pass is its physical order, and sorted through a spool of its own
// the same way. Without a usable temporary directory both sides are
// listed by id ([persist.ByID]) instead. Memory stays bounded either way. The canonical form is the same
// for a document stored as SQLite TEXT and as PostgreSQL JSONB, which
// reorders keys, drops whitespace, keeps the last of duplicate keys and
// rewrites numbers (1e2 becomes 100), so such rewrites are not mismatches,
// while numbers are compared exactly (12345678901234567890 and
// 12345678901234567891 differ). A target record that differs from its source
// record, or a source record missing from the target, is a digest mismatch;
// the target record is reported, never overwritten. Records that exist only
// on the target are counted in extra_target_rows and are not mismatches.
//
// # Outcome
//
// Copy returns a [Report] with per-table and total counts, whose JSON form
// is what the persist-migrate command prints, and an error that says how to
// treat the run:
//
//   - nil: every table was copied and every digest matched;
//   - [*DigestMismatchError]: every table was attempted, and some target
//     records differ from or lack their source records;
//   - [*PartialFailureError]: the target rejected some records as invalid
//     ([persist.ErrInvalid]); the others were copied;
//   - an error matching [persist.ErrUnavailable] (a [*persist.ConnError]),
//     returned as the backend gave it, when either side cannot be reached;
//   - the context's error when ctx is cancelled: what was committed stays,
//     and a later run resumes;
//   - an error matching [persist.ErrInvalid] for bad options, such as a
//     table the source does not have;
//   - any other error from either backend, returned unchanged.
//
// When both mismatches and rejected records occur the error joins both, so
// [errors.As] finds either.
//
// # Dry run
//
// With [Options.DryRun], Copy reads both sides and reports what a real run
// would insert, skip and find mismatched, writing nothing and creating no
// table. (Opening a table through a backend may still upgrade a table in the
// earlier portal layout additively; that is the backend's doing, on the
// source as on the target. A SQLite source opened read-only, as
// persist-migrate opens it, is read as it is.)
package migrate

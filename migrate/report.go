package migrate

// MaxErrors caps [Counts.Errors], so a table with a million bad rows gives a
// readable report; [Counts.ErrorsOmitted] counts the rest.
const MaxErrors = 20

// Counts are the outcome of migrating one table, or of all of them in
// [Report.Totals]. In a dry run, RowsInserted, RowsSkippedDuplicate and
// DigestMismatches say what a real run would do.
type Counts struct {
	// RowsRead is the number of source records read by the copy (by the
	// comparison in a dry run).
	RowsRead int64 `json:"rows_read"`

	// RowsInserted is the number of records written to the target.
	RowsInserted int64 `json:"rows_inserted"`

	// RowsSkippedDuplicate is the number of source records whose id already
	// existed on the target, which was left untouched.
	RowsSkippedDuplicate int64 `json:"rows_skipped_duplicate"`

	// DigestMismatches is the number of source records that are missing
	// from the target or whose target record has different data, not
	// counting the records in RowsFailed.
	DigestMismatches int64 `json:"digest_mismatches"`

	// RowsFailed is the number of source records the target rejected as
	// invalid; they were not written.
	RowsFailed int64 `json:"rows_failed"`

	// RowsVerified is the number of source records found on the target
	// with the same digest.
	RowsVerified int64 `json:"rows_verified"`

	// ExtraTargetRows is the number of target records with no source
	// record. They are not mismatches: the target may hold more.
	ExtraTargetRows int64 `json:"extra_target_rows"`

	// ElapsedSeconds is the wall time spent.
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	// Errors describes the first MaxErrors problems, each naming the table
	// and the record id. They never contain record data or credentials.
	Errors []string `json:"errors"`

	// ErrorsOmitted is the number of problems beyond MaxErrors.
	ErrorsOmitted int64 `json:"errors_omitted"`
}

// TableReport is the outcome of migrating one table.
type TableReport struct {
	Table string `json:"table"`
	Counts

	// PrepareSeconds, CopySeconds, IndexSeconds and VerifySeconds time
	// the steps of ElapsedSeconds: opening the table on both sides (which
	// includes a backend upgrading a table in the earlier portal layout,
	// and deferring the indexes of an empty target table, see
	// [persist.BulkLoader]) and counting the source; the copy, during
	// which each written batch is verified; the verification left when the
	// copy ends (the last batches and counting the target, or the whole
	// comparison in a dry run); and
	// building the deferred indexes (next to nothing when none were
	// deferred).
	PrepareSeconds float64 `json:"prepare_seconds"`
	CopySeconds    float64 `json:"copy_seconds"`
	IndexSeconds   float64 `json:"index_seconds"`
	VerifySeconds  float64 `json:"verify_seconds"`

	// Verified is true once both sides were compared to the end and the
	// source was found unchanged since the copy read it. It stays false
	// for a table whose copy was interrupted or whose source changed.
	Verified bool `json:"verified"`

	// SourceChanged is true when the source table took writes while it
	// was migrated, so that the target may lack some of them (see
	// [SourceChangedError]).
	SourceChanged bool `json:"source_changed"`
}

// Report is the outcome of [Copy].
type Report struct {
	DryRun bool `json:"dry_run"`

	// SourceChanged is true when any table's source changed during the
	// migration (see [TableReport.SourceChanged]).
	SourceChanged bool `json:"source_changed"`

	Tables []TableReport `json:"tables"`

	// Follow says what following the source's change feed did; nil
	// without [Options.Follow].
	Follow *FollowReport `json:"follow,omitempty"`

	Totals Counts `json:"totals"`
}

func newCounts() Counts { return Counts{Errors: []string{}} }

func (c *Counts) addError(msg string) {
	if len(c.Errors) < MaxErrors {
		c.Errors = append(c.Errors, msg)
		return
	}
	c.ErrorsOmitted++
}

// add folds a table's counts into the totals, except the elapsed time,
// which for the totals is the whole run's.
func (c *Counts) add(t *Counts) {
	c.RowsRead += t.RowsRead
	c.RowsInserted += t.RowsInserted
	c.RowsSkippedDuplicate += t.RowsSkippedDuplicate
	c.DigestMismatches += t.DigestMismatches
	c.RowsFailed += t.RowsFailed
	c.RowsVerified += t.RowsVerified
	c.ExtraTargetRows += t.ExtraTargetRows
	for _, e := range t.Errors {
		c.addError(e)
	}
	c.ErrorsOmitted += t.ErrorsOmitted
}

// FollowReport is what following the source's change feed did (see
// [Options.Follow]).
type FollowReport struct {
	// Resumed is true when an earlier run had finished the copy, so this
	// one resumed following from the cursor that run saved, without
	// copying.
	Resumed bool `json:"resumed"`

	// ChangesRead is the number of changes read from the feed.
	ChangesRead int64 `json:"changes_read"`

	// ChangesSkipped is the number of changes the target already held, at
	// their revision or a later one: changes the copy had read, or read
	// twice around the cursor taken before the copy.
	ChangesSkipped int64 `json:"changes_skipped"`

	// RecordsInserted, RecordsUpdated and RecordsDeleted count the
	// records the changes inserted into the target, replaced on it and
	// deleted from it. Several changes to one record read together are
	// applied as one write.
	RecordsInserted int64 `json:"records_inserted"`
	RecordsUpdated  int64 `json:"records_updated"`
	RecordsDeleted  int64 `json:"records_deleted"`

	// RecordsFailed is the number of source records the target rejected
	// as invalid ([persist.ErrInvalid]) while following; the target lacks
	// them, and the tables' rows_failed and errors count and name them.
	RecordsFailed int64 `json:"records_failed"`

	// FollowSeconds is the time spent following, from the end of the copy
	// to the start of the final verification.
	FollowSeconds float64 `json:"follow_seconds"`
}

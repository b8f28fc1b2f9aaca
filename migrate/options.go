package migrate

// DefaultBatchSize is the number of records read and written at a time when
// [Options.BatchSize] is zero. Into an empty PostgreSQL table each batch is
// written with COPY, in two streams at once: 10,000 made the migration
// benchmark 3 to 7 % faster than 5000, and 5000 had made the copy about
// 15 % faster than 1000. Otherwise the backends split a batch into
// transactions of their own size (1000 records).
const DefaultBatchSize = 10_000

// MaxBatchSize bounds [Options.BatchSize].
const MaxBatchSize = 100_000

// MaxBatchBytes bounds a batch by the size of its documents as well: a
// batch ends at BatchSize records or once its documents add up to
// MaxBatchBytes, whichever comes first, so that a copy of large documents
// holds no more in memory than one of small ones. The copy of a table
// holds at most six batches, so a migration holds at most
// 6 × [Options.Parallel] batches: with the defaults, one table at a time
// and at most 48 MiB of documents.
const MaxBatchBytes = 8 << 20

// MaxParallel bounds [Options.Parallel].
const MaxParallel = 64

// Options configure [Copy]. A nil *Options means the defaults.
type Options struct {
	// Tables names the tables to copy, in order. Nil or empty means every
	// table the source lists ([persist.DB.Tables]). A name the source does
	// not have is [persist.ErrInvalid]: Copy never creates a table on the
	// source.
	Tables []string

	// BatchSize is the most records per read and per InsertMany call (see
	// also [MaxBatchBytes]). Zero means [DefaultBatchSize]; negative or
	// above [MaxBatchSize] is [persist.ErrInvalid].
	BatchSize int

	// Parallel is the most tables migrated at once; they are started in
	// the order of Tables. Each holds at most six batches (see
	// [MaxBatchBytes]), so memory grows with it: at most
	// Parallel × 6 × BatchSize records and Parallel × 6 × MaxBatchBytes of
	// documents. Zero means 1, one table at a time; negative or above
	// [MaxParallel] is [persist.ErrInvalid]. The report lists the tables in
	// the order of Tables whatever the order they end in.
	Parallel int

	// DryRun reads both sides and reports what would be inserted, skipped
	// and found mismatched, without writing to the target.
	DryRun bool

	// Follow, after the copy, applies the source's change feed
	// ([persist.ChangeFeed]) to the target, inserts, updates and deletes,
	// until the lag is zero, and then verifies every record. The source
	// must have the feed on for every table copied, or Copy fails with a
	// [*NoFeedError] before it copies anything. The feed's cursor is
	// taken before the copy reads the source, and saved in [StateTable]
	// on the target with every batch of changes applied, so a run that is
	// stopped (ctx cancelled, the process killed) and started again with
	// the same tables resumes following from there, without copying
	// again. Following ends when the lag reaches zero after StopFollow is
	// closed. The final verification compares every record of both sides;
	// pause the source's writers before closing StopFollow, since a write
	// during the verification makes it a [*SourceChangedError]. Follow
	// and DryRun together are [persist.ErrInvalid]. Following holds one
	// batch of changes at a time, with the source's and the target's
	// records they name: about three batches.
	Follow bool

	// StopFollow ends following (see Follow): once it is closed, Copy
	// applies what the feed holds until the lag is zero, then verifies.
	// Nil means to stop the first time the lag reaches zero.
	StopFollow <-chan struct{}

	// Progress, when set, is called after every batch copied and every
	// batch verified, one call at a time: from the goroutine that called
	// Copy when Parallel is 1, and otherwise from the goroutines migrating
	// the tables, each waiting for the call under way. It must be quick.
	// Cancelling Copy's context from it stops the copy after the batch in
	// flight.
	Progress func(Progress)
}

// Phase is the step of a table's migration that a [Progress] reports.
type Phase string

const (
	// PhaseCopy is the streaming copy of a table's records, each batch
	// verified as it is written.
	PhaseCopy Phase = "copy"
	// PhaseIndex is the build of the indexes a bulk load deferred on an
	// empty target table (see [persist.BulkLoader]); it reports no counts,
	// once, when it starts.
	PhaseIndex Phase = "index"
	// PhaseVerify is the end of the comparison of both sides by id and
	// digest, after the copy; in a dry run it is the only phase.
	PhaseVerify Phase = "verify"
	// PhaseFollow is the application of the source's change feed to the
	// target, after the copy, with [Options.Follow]. Its Progress names no
	// table: the feed covers them all. It is reported after every batch
	// of changes applied, and whenever the lag is found to be zero.
	PhaseFollow Phase = "follow"
)

// Progress reports how far the migration of one table has come.
type Progress struct {
	Table string
	Phase Phase

	// Done is the number of source records handled so far in this phase.
	Done int64

	// Total is the number of source records counted when the table was
	// started. Records added to the source meanwhile can make Done exceed
	// it.
	Total int64

	// LagRecords and LagSeconds, in PhaseFollow, say how far the target
	// is behind the source: the changes committed to the feed and not yet
	// applied (counted when the current read of the feed began), and how
	// long ago the last change applied was written. Both are zero once
	// every change committed has been applied. Done is then the number of
	// changes read from the feed so far.
	LagRecords int64
	LagSeconds float64
}

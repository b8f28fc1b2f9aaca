package migrate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/persistkit/persist"
)

// ErrSourceChanged is matched (with [errors.Is]) by a [*SourceChangedError].
var ErrSourceChanged = errors.New("source changed during the migration")

// SourceChangedError reports that the source took writes while the
// migration ran: after a table was copied and verified, the source no
// longer held what the copy had read (a record was updated or deleted
// after it was read, or inserted after the table was read). Those tables
// are not verified, whatever their digests say: the target may lack the
// source's latest writes. Stop the source's writers and copy again into an
// empty target.
type SourceChangedError struct {
	// Tables names the tables whose source changed, in copy order.
	Tables []string
}

// Error names the tables whose source changed.
func (e *SourceChangedError) Error() string {
	return fmt.Sprintf("migrate: the source changed during the migration of %s %s; the copy is not verified",
		plural(int64(len(e.Tables)), "table", "tables"), strings.Join(e.Tables, ", "))
}

// Is reports whether target is [ErrSourceChanged].
func (e *SourceChangedError) Is(target error) bool { return target == ErrSourceChanged }

// DigestMismatchError reports that, after every table was attempted, some
// source records are missing from the target or differ from the target
// record with the same id. The target records were left as they were; the
// report's errors name them.
type DigestMismatchError struct {
	// Mismatches is the total number of records concerned.
	Mismatches int64

	// Tables names the tables with at least one mismatch, in copy order.
	Tables []string
}

// Error says how many records mismatched and in which tables.
func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("migrate: %d digest %s in %s %s", e.Mismatches, plural(e.Mismatches, "mismatch", "mismatches"),
		plural(int64(len(e.Tables)), "table", "tables"), strings.Join(e.Tables, ", "))
}

// PartialFailureError reports that the target rejected some source records
// as invalid ([persist.ErrInvalid]), for example a value one backend accepts
// and the other cannot store. Every other record was copied; the report's
// errors name the rejected ones.
type PartialFailureError struct {
	// Failed is the total number of records not written.
	Failed int64

	// Tables names the tables with at least one rejected record, in copy
	// order.
	Tables []string
}

// Error says how many records were not written and in which tables.
func (e *PartialFailureError) Error() string {
	return fmt.Sprintf("migrate: %d %s could not be written to %s %s", e.Failed, plural(e.Failed, "record", "records"),
		plural(int64(len(e.Tables)), "table", "tables"), strings.Join(e.Tables, ", "))
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// NoFeedError reports that [Options.Follow] was asked of a source without
// the change feed it needs: a database that is not a [persist.ChangeFeed],
// or tables whose feed is off. It matches [persist.ErrInvalid]. Open the
// source with persist and call EnableFeed on those tables first (the
// earlier portal's writers may keep writing meanwhile: the feed records
// their writes too).
type NoFeedError struct {
	// Tables names the tables without the feed, or every table when the
	// database has none.
	Tables []string

	// NotChangeFeed is true when the source database offers no change
	// feed at all.
	NotChangeFeed bool
}

// Error names what the source lacks.
func (e *NoFeedError) Error() string {
	if e.NotChangeFeed {
		return "migrate: following needs a source with a change feed (persist.ChangeFeed); this source database has none"
	}
	return fmt.Sprintf("migrate: following needs the change feed on every table copied; it is off on %s (open the source with persist and call EnableFeed(%s) first)",
		strings.Join(e.Tables, ", "), strings.Join(e.Tables, ", "))
}

// Is reports whether target is [persist.ErrInvalid].
func (e *NoFeedError) Is(target error) bool { return target == persist.ErrInvalid }

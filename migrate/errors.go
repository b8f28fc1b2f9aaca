package migrate

import (
	"fmt"
	"strings"
)

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

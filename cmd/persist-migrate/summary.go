package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/persistkit/persist/migrate"
)

// printSummary writes the human summary: one row per table, the totals,
// the first problems, and what the exit code means.
func printSummary(w io.Writer, out *output) {
	mode := ""
	if out.DryRun {
		mode = " (dry run: nothing written; counts say what a copy would do)"
	}
	fmt.Fprintf(w, "\npersist-migrate: %s -> %s%s\n", out.Source, out.Target, mode)
	if r := out.Report; r != nil && len(r.Tables) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "table\tread\tinserted\tskipped\tmismatched\tfailed\textra\tseconds\t")
		row := func(name string, c *migrate.Counts) {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t\n", name, c.RowsRead, c.RowsInserted,
				c.RowsSkippedDuplicate, c.DigestMismatches, c.RowsFailed, c.ExtraTargetRows, c.ElapsedSeconds)
		}
		for i := range r.Tables {
			row(r.Tables[i].Table, &r.Tables[i].Counts)
		}
		row("total", &r.Totals)
		tw.Flush()
		if f := r.Follow; f != nil {
			resumed := ""
			if f.Resumed {
				resumed = " (resumed from the saved cursor; the copy was done)"
			}
			fmt.Fprintf(w, "follow%s: %d changes read, %d skipped as already applied; %d records inserted, %d updated, %d deleted in %.1f s\n",
				resumed, f.ChangesRead, f.ChangesSkipped, f.RecordsInserted, f.RecordsUpdated, f.RecordsDeleted, f.FollowSeconds)
		}
		if secs := r.Totals.ElapsedSeconds; secs > 0 && r.Totals.RowsRead > 0 {
			fmt.Fprintf(w, "%.0f rows/s including verification\n", float64(r.Totals.RowsRead)/secs)
		}
		if len(r.Totals.Errors) > 0 {
			fmt.Fprintln(w, "problems:")
			for _, e := range r.Totals.Errors {
				fmt.Fprintf(w, "  %s\n", e)
			}
			if r.Totals.ErrorsOmitted > 0 {
				fmt.Fprintf(w, "  ... and %d more\n", r.Totals.ErrorsOmitted)
			}
		}
	}
	if out.Error != "" {
		fmt.Fprintf(w, "error: %s\n", out.Error)
	}
	fmt.Fprintf(w, "exit %d: %s\n", out.ExitCode, meaning(out.ExitCode, out.Status))
}

func meaning(code int, status string) string {
	switch code {
	case exitOK:
		return "every table copied and every digest matches"
	case exitMismatch:
		return "digest mismatch: target records differ from or lack their source records (left unchanged)"
	case exitUnreachable:
		return "a database is unreachable"
	case exitUsage:
		return "invalid input"
	case exitPartial:
		return "partial failure: the target rejected some records; the rest was copied"
	case exitSourceMoved:
		return "the source changed while it was copied: not verified; stop its writers and copy into an empty target again, or use --follow"
	}
	if status == "interrupted" {
		return "interrupted; run the same command again to resume"
	}
	return "unexpected error; run the same command again to resume once it is fixed"
}

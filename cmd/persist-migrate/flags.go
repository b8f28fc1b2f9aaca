package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/persistkit/persist/migrate"
)

// config is the parsed command line.
type config struct {
	source, target string
	tables         []string
	batchSize      int
	parallel       int
	dryRun         bool
	follow         bool
	untilCaughtUp  bool
	reportFile     string
	quiet          bool
}

const usageText = `Usage: persist-migrate --source URL --target URL [flags]

Copies every table (or those named by --tables) from the source database to
the target, verifies each record against its source (by the SHA-256 of
its canonical JSON where the stored text differs), and prints a JSON
report. Existing target records are never modified by the copy: an id that
already exists is skipped, and if its data differs it is reported as a digest
mismatch (with --follow, the source's later writes are applied to them).
Running the same command again resumes an interrupted copy.

URLs:
  sqlite:///relative/path.db  sqlite:////absolute/path.db  file:path.db
  postgres://user:password@host:5432/db   (passwords are never printed)

Flags:
  --source URL       database to read (required; never written to: a SQLite
                     file is opened read-only, its bytes left unchanged)
  --target URL       database to write (required; tables are created if missing)
  --tables a,b       tables to copy, in order (default: every source table)
  --batch-size N     records per read and per insert call (default %d)
  --parallel N       tables copied at once (default 1, at most %d); memory
                     grows with it: each table holds at most six batches,
                     so at most N x 6 x --batch-size records and
                     N x 6 x 8 MiB of documents
  --dry-run          read both sides and report what would be copied; write nothing
  --follow           after the copy, apply the source's change feed to the target
                     (inserts, updates, deletes) and keep following it until
                     interrupted (SIGINT or SIGTERM): then catch up until the lag
                     is zero and verify every record. Pause the source's writers
                     before interrupting; a second interrupt aborts. Every table
                     copied needs the feed on (persist's EnableFeed) or the run
                     fails with exit 3 before copying. The feed cursor is saved in
                     the target's table persist_migrate, so re-running the same
                     command after a kill resumes following without copying again
  --until-caught-up  with --follow, stop following (and verify) the first time
                     the lag reaches zero instead of waiting for an interrupt
  --report FILE      write the JSON report to FILE instead of stdout
  --quiet            no progress bar and no summary on stderr
  --help             print this help and exit 0

Progress goes to stderr (a bar with rows/s and ETA when stderr is a
terminal; while following, the lag in changes and seconds), then a human
summary; the JSON report goes to stdout unless --report is given.

Exit codes:
  0  success: every table copied and every digest matches
  1  digest mismatch: some target records differ from or lack their source
     records (they were left unchanged; see "errors" in the report)
  2  a database is unreachable or refused the credentials
  3  usage or validation error (bad flag, URL, table name or batch size, or
     --follow on a source whose tables lack the change feed)
  4  unknown error, or interrupted (re-running resumes the copy)
  5  partial failure: the target rejected some records; the rest was copied
  6  the source changed while it was copied (an update, a delete, or an
     insert after its table was read): the copy is not verified and may
     lack those writes; stop the source's writers and copy into an empty
     target again, or use --follow
`

// errUsage marks command-line mistakes, reported with exit code 3.
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

// parseFlags parses args; it returns flag.ErrHelp for --help.
func parseFlags(args []string) (*config, error) {
	var c config
	var tables string
	fs := flag.NewFlagSet("persist-migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by run
	fs.StringVar(&c.source, "source", "", "")
	fs.StringVar(&c.target, "target", "", "")
	fs.StringVar(&tables, "tables", "", "")
	fs.IntVar(&c.batchSize, "batch-size", migrate.DefaultBatchSize, "")
	fs.IntVar(&c.parallel, "parallel", 1, "")
	fs.BoolVar(&c.dryRun, "dry-run", false, "")
	fs.BoolVar(&c.follow, "follow", false, "")
	fs.BoolVar(&c.untilCaughtUp, "until-caught-up", false, "")
	fs.StringVar(&c.reportFile, "report", "", "")
	fs.BoolVar(&c.quiet, "quiet", false, "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil, err
		}
		return nil, &errUsage{err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return nil, &errUsage{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case c.source == "":
		return nil, &errUsage{"--source is required"}
	case c.target == "":
		return nil, &errUsage{"--target is required"}
	case c.source == c.target:
		return nil, &errUsage{"--source and --target name the same database"}
	case c.batchSize < 1 || c.batchSize > migrate.MaxBatchSize:
		return nil, &errUsage{fmt.Sprintf("--batch-size must be between 1 and %d", migrate.MaxBatchSize)}
	case c.follow && c.dryRun:
		return nil, &errUsage{"--follow and --dry-run cannot be combined"}
	case c.untilCaughtUp && !c.follow:
		return nil, &errUsage{"--until-caught-up needs --follow"}
	case c.parallel < 1 || c.parallel > migrate.MaxParallel:
		return nil, &errUsage{fmt.Sprintf("--parallel must be between 1 and %d", migrate.MaxParallel)}
	}
	if tables != "" {
		for _, t := range strings.Split(tables, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.tables = append(c.tables, t)
			}
		}
		if len(c.tables) == 0 {
			return nil, &errUsage{"--tables names no table"}
		}
	}
	return &c, nil
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, usageText, migrate.DefaultBatchSize, migrate.MaxParallel)
}

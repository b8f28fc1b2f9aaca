package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"
	"github.com/persistkit/persist/sqlite"
)

// Exit codes, as documented in the usage text.
const (
	exitOK          = 0
	exitMismatch    = 1
	exitUnreachable = 2
	exitUsage       = 3
	exitUnknown     = 4
	exitPartial     = 5
	exitSourceMoved = 6
)

// output is the JSON report: the migrate.Report plus the endpoints
// (redacted) and the outcome, so a script needs only this document.
type output struct {
	Source string `json:"source"`
	Target string `json:"target"`
	*migrate.Report
	ExitCode int    `json:"exit_code"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
}

// run is the whole command, testable without a process: it returns the
// exit code instead of exiting.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "persist-migrate: %v\nRun persist-migrate --help for usage.\n", err)
		return exitUsage
	}
	scrub := newScrubber(cfg.source, cfg.target)

	// Open the report file first, so a bad path fails before any work.
	reportW := stdout
	if cfg.reportFile != "" {
		f, err := os.Create(cfg.reportFile)
		if err != nil {
			fmt.Fprintf(stderr, "persist-migrate: cannot write report: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		reportW = f
	}

	ctx, stopFollow, stop := interrupts(cfg, stderr)
	defer stop()

	view := newProgressView(stderr, cfg.quiet, cfg.parallel > 1)
	report, err := migrateURLs(ctx, cfg, stopFollow, view, scrub.writer(stderr))
	view.finish()

	code, status := classify(err)
	out := output{
		Source:   persist.Redact(cfg.source),
		Target:   persist.Redact(cfg.target),
		Report:   report,
		ExitCode: code,
		Status:   status,
	}
	if err != nil {
		out.Error = scrub.clean(err.Error())
	}
	scrub.report(report)

	if !cfg.quiet {
		printSummary(stderr, &out)
	} else if err != nil {
		fmt.Fprintf(stderr, "persist-migrate: %s\n", out.Error)
	}
	enc := json.NewEncoder(reportW)
	enc.SetIndent("", "  ")
	if werr := enc.Encode(&out); werr != nil {
		fmt.Fprintf(stderr, "persist-migrate: cannot write report: %v\n", werr)
		if code == exitOK {
			code = exitUnknown
		}
	}
	return code
}

// interrupts returns a context that SIGINT and SIGTERM cancel, except
// while following without --until-caught-up: there the first one closes
// stopFollow instead, so the run catches up and verifies, and only a
// second one cancels. stop releases the signals.
func interrupts(cfg *config, stderr io.Writer) (ctx context.Context, stopFollow <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var follow chan struct{}
	if cfg.follow && !cfg.untilCaughtUp {
		follow = make(chan struct{})
		stopFollow = follow
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sigs:
				if follow == nil {
					cancel()
					return
				}
				fmt.Fprintln(stderr, "persist-migrate: stopping: catching up with the source, then verifying every record; interrupt again to abort")
				close(follow)
				follow = nil
			case <-done:
				return
			}
		}
	}()
	return ctx, stopFollow, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// migrateURLs opens both databases and copies. The report is never nil.
func migrateURLs(ctx context.Context, cfg *config, stopFollow <-chan struct{}, view progressView, logW io.Writer) (*migrate.Report, error) {
	empty := &migrate.Report{DryRun: cfg.dryRun, Tables: []migrate.TableReport{}, Totals: migrate.Counts{Errors: []string{}}}
	level := slog.LevelInfo
	if cfg.quiet {
		level = slog.LevelWarn
	}
	// Backends log table-layout upgrades and retries here, URLs redacted.
	logger := slog.New(slog.NewTextHandler(logW, &slog.HandlerOptions{Level: level}))
	opts := &persist.Options{Logger: logger}

	src, err := openSource(ctx, cfg.source, opts)
	if err != nil {
		return empty, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := persist.Open(ctx, cfg.target, opts)
	if err != nil {
		return empty, fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	// Open is lazy on some backends; fail fast, and with the right exit
	// code, before counting anything.
	if err := src.Ping(ctx); err != nil {
		return empty, fmt.Errorf("source: %w", err)
	}
	if err := dst.Ping(ctx); err != nil {
		return empty, fmt.Errorf("target: %w", err)
	}
	report, err := migrate.Copy(ctx, src, dst, &migrate.Options{
		Tables:     cfg.tables,
		BatchSize:  cfg.batchSize,
		Parallel:   cfg.parallel,
		DryRun:     cfg.dryRun,
		Follow:     cfg.follow,
		StopFollow: stopFollow,
		Progress:   view.update,
	})
	view.finish() // end the bar's line before the backends log their closing
	return report, err
}

// openSource opens the source database. A SQLite file is opened read-only,
// so the migration cannot change a byte of it: a table in the earlier
// portal layout is read as it is instead of being upgraded in place.
func openSource(ctx context.Context, url string, opts *persist.Options) (persist.DB, error) {
	scheme, _, _ := strings.Cut(url, ":")
	if scheme = strings.ToLower(scheme); scheme != "sqlite" && scheme != "file" {
		return persist.Open(ctx, url, opts)
	}
	cfg, err := sqlite.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.Options = *opts
	cfg.ReadOnly = cfg.Path != sqlite.MemoryPath
	db, err := sqlite.OpenConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// classify maps Copy's error to the documented exit code and a status word
// for the report. A changed source wins over a digest mismatch, which the
// change may explain, and a digest mismatch over a partial failure: data
// on the target that differs from the source is the graver finding.
func classify(err error) (int, string) {
	var mismatch *migrate.DigestMismatchError
	var partial *migrate.PartialFailureError
	switch {
	case err == nil:
		return exitOK, "ok"
	case errors.Is(err, migrate.ErrSourceChanged):
		return exitSourceMoved, "source_changed"
	case errors.As(err, &mismatch):
		return exitMismatch, "digest_mismatch"
	case errors.As(err, &partial):
		return exitPartial, "partial_failure"
	case errors.Is(err, persist.ErrUnavailable):
		return exitUnreachable, "unreachable"
	case errors.Is(err, persist.ErrInvalid), errors.Is(err, persist.ErrUnknownScheme):
		return exitUsage, "invalid"
	case errors.Is(err, context.Canceled):
		return exitUnknown, "interrupted"
	default:
		return exitUnknown, "error"
	}
}

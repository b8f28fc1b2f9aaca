// Command portal is the HTTP layer of a data portal: a JSON API over the
// persist stores of a data catalogue (sources, pipelines, pipeline runs,
// access requests, marketplace products and their quality scores), with a
// Server-Sent Events stream of ticks and changes.
//
//	go run ./examples/portal                       # SQLite file portal.db
//	DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?query_index=true' go run ./examples/portal
//	go run ./examples/portal -loadcheck -duration 10s
//
// See README.md for the endpoints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/persistkit/persist"
	_ "github.com/persistkit/persist/postgres" // postgres:// URLs
	_ "github.com/persistkit/persist/sqlite"   // sqlite:// URLs
)

// defaultDB is used when neither -db nor DATABASE_URL is set.
const defaultDB = "sqlite:///portal.db"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its exit code returned, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{seed: true}
	var lc loadConfig
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	dbURL := fs.String("db", defaultDB, "database URL; when not given, DATABASE_URL is used if set")
	fs.DurationVar(&cfg.tick, "tick", 100*time.Millisecond, "interval of SSE tick events")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "time in-flight requests get to finish on SIGINT/SIGTERM")
	fs.DurationVar(&cfg.feedRetention, "feed-retention", 24*time.Hour, "how long the change feed keeps a change; a client away longer gets a reset event")
	fs.Int64Var(&cfg.maxBody, "max-body", 1<<20, "largest request body accepted, in bytes")
	noSeed := fs.Bool("no-seed", false, "do not insert the demo records")
	loadcheck := fs.Bool("loadcheck", false, "start on a loopback port, load it, report latencies and the SSE gap, and exit")
	fs.DurationVar(&lc.duration, "duration", 10*time.Second, "loadcheck: how long to apply load (1s to 5m)")
	fs.IntVar(&lc.workers, "workers", 16, "loadcheck: concurrent request loops (1 to 256)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portal: unexpected arguments %q\n", fs.Args())
		return 2
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "db" {
			cfg.dbURL = *dbURL
		}
	})
	cfg.seed = !*noSeed
	if err := validate(cfg, lc); err != nil {
		fmt.Fprintf(stderr, "portal: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *loadcheck {
		rep, err := runLoadcheck(ctx, cfg, lc, log)
		if err != nil {
			log.Error("loadcheck failed", "err", err)
			return 1
		}
		rep.write(stdout)
		if !rep.pass() {
			return 1
		}
		return 0
	}

	a, err := startApp(ctx, cfg, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	log.Info("listening", "url", "http://"+a.addr+"/api/v1/", "db", persist.Redact(effectiveURL(cfg)))
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	case <-a.served:
	}
	stop() // a second signal now kills the process the default way
	if err := a.shutdown(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func validate(cfg config, lc loadConfig) error {
	switch {
	case cfg.tick <= 0:
		return fmt.Errorf("-tick %v must be positive", cfg.tick)
	case cfg.shutdownTimeout <= 0:
		return fmt.Errorf("-shutdown-timeout %v must be positive", cfg.shutdownTimeout)
	case cfg.feedRetention <= 0:
		return fmt.Errorf("-feed-retention %v must be positive", cfg.feedRetention)
	case cfg.maxBody < 1:
		return fmt.Errorf("-max-body %d must be positive", cfg.maxBody)
	case lc.duration < time.Second || lc.duration > 5*time.Minute:
		return fmt.Errorf("-duration %v must be from 1s to 5m", lc.duration)
	case lc.workers < 1 || lc.workers > 256:
		return fmt.Errorf("-workers %d must be from 1 to 256", lc.workers)
	}
	return nil
}

// effectiveURL is the URL startApp opens, for logs (always redacted).
func effectiveURL(cfg config) string {
	if cfg.dbURL != "" {
		return cfg.dbURL
	}
	if u := os.Getenv(persist.EnvURL); u != "" {
		return u
	}
	return defaultDB
}

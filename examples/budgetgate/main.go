// Command budgetgate is the request path of an LLM gateway guarded by
// package budget: POST /v1/completions reserves the estimated cost, makes a
// (simulated) model call, commits the real cost and records the call. A
// request over budget gets 429 with the decision as JSON; an unreachable
// database gets 503.
//
//	go run ./examples/budgetgate                        # serve on 127.0.0.1:8080
//	go run ./examples/budgetgate -load -rps 100 -duration 30s
//	go run ./examples/budgetgate -max -workers 8 -duration 10s
//	go run ./examples/budgetgate -load -db postgres://postgres@127.0.0.1:5432/test
//
// The database is -db, else DATABASE_URL, else a SQLite file in a temporary
// directory. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

func main() {
	log.SetFlags(0)
	if err := run(os.Args[1:], os.Stdout); err != nil {
		log.Fatal("budgetgate: ", err)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("budgetgate", flag.ContinueOnError)
	var (
		dbURL     = fs.String("db", "", "database URL (default DATABASE_URL, else a temporary SQLite file)")
		addr      = fs.String("addr", "127.0.0.1:8080", "serve mode: listen address")
		load      = fs.Bool("load", false, "run an open-loop load test against an in-process server on loopback")
		maxMode   = fs.Bool("max", false, "measure the maximum Reserve+Commit throughput on one hot budget")
		rps       = fs.Int("rps", 100, "load: requests per second")
		duration  = fs.Duration("duration", 10*time.Second, "load and max: how long to run")
		model     = fs.Duration("model-latency", 20*time.Millisecond, "simulated model call time")
		maxTokens = fs.Int("max-tokens", 256, "load: max_tokens of each request")
		workers   = fs.Int("workers", 8, "max: concurrent workers")
		orgLimit  = fs.String("org-limit", "100000", "monthly budget of the organization")
		teamLimit = fs.String("team-limit", "10000", "daily budget of each team")
		keyLimit  = fs.String("key-limit", "100", "daily budget of each API key")
		traceOut  = fs.Bool("trace", false, "serve mode: print each request's OpenTelemetry spans to stdout (also BUDGETGATE_TRACE=stdout)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lim limits
	for _, p := range []struct {
		s string
		v *budget.Micros
	}{{*orgLimit, &lim.org}, {*teamLimit, &lim.team}, {*keyLimit, &lim.principal}} {
		v, err := budget.ParseMicros(p.s)
		if err != nil {
			return err
		}
		*p.v = v
	}
	u, cleanup, err := resolveURL(*dbURL)
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch {
	case *load && *maxMode:
		return errors.New("-load and -max are exclusive")
	case *load:
		cfg := loadConfig{url: u, rps: *rps, duration: *duration, model: *model, limits: lim, maxTokens: *maxTokens}
		res, err := runLoad(ctx, cfg)
		if err != nil {
			return err
		}
		res.report(out, cfg)
		return nil
	case *maxMode:
		cfg := maxConfig{url: u, workers: *workers, duration: *duration}
		res, err := runMax(ctx, cfg)
		if err != nil {
			return err
		}
		res.report(out, cfg)
		return nil
	}
	return serve(ctx, u, *addr, *model, lim, out, startTracing(out, *traceOut))
}

// serve runs the gateway until interrupted.
func serve(ctx context.Context, u, addr string, model time.Duration, lim limits, out io.Writer, tr *tracing) error {
	db, err := persist.Open(ctx, u, tr.options(&persist.Options{}))
	if err != nil {
		return err
	}
	defer db.Close()
	ledger, err := budget.New(db, tr.ledgerOptions(ledgerOptions()))
	if err != nil {
		return err
	}
	if err := setBudgets(ctx, ledger, lim); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	gw := &gateway{ledger: ledger, keys: demoKeyScopes(), prices: prices, model: model, log: slog.Default()}
	mux := http.NewServeMux()
	mux.Handle("/v1/completions", gw)
	srv := &http.Server{Handler: tr.handler(mux), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "budgetgate: serving on http://%s/v1/completions with %s; try:\n", ln.Addr(), persist.Redact(u))
	fmt.Fprintf(out, "  curl -s -H 'Authorization: Bearer %s' -d '{\"model\":\"sim-large\",\"prompt\":\"hi\",\"max_tokens\":100}' http://%s/v1/completions\n", demoKey(0), ln.Addr())
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/persistkit/persist"
)

// config is what the flags set.
type config struct {
	addr            string        // listen address; port 0 picks a free one
	dbURL           string        // database URL; empty means DATABASE_URL or defaultDB
	tick            time.Duration // SSE tick interval
	shutdownTimeout time.Duration // how long in-flight requests get to finish
	maxBody         int64         // request body limit in bytes
	seed            bool          // insert the demo records at start-up
	feedRetention   time.Duration // how long the change feed keeps a change
}

// pruneEvery is how often a replica prunes the change feed.
const pruneEvery = time.Minute

// app is a running portal: the database, the HTTP server on its listener
// and the tick loop, started and stopped together.
type app struct {
	db       persist.DB
	srv      *server
	http     *http.Server
	addr     string // the address actually listened on
	log      *slog.Logger
	timeout  time.Duration
	stopTick context.CancelFunc // stops the tick and prune loops
	tickDone chan struct{}
	served   chan struct{} // closed when Serve returns
	serveErr error         // what Serve returned; read after served is closed
	stopOnce sync.Once
	stopErr  error
}

// idField is where the earlier portal, which may still be writing to the
// same tables during the switch, reads a record's id: data["id"]. Every
// write keeps it there, and a body whose data names another id is a 400.
const idField = "id"

// dbOptions are the options the portal opens its database with.
func dbOptions(log *slog.Logger) *persist.Options {
	return &persist.Options{Logger: log, IDField: idField}
}

// startApp opens the database, opens the stores, seeds, and starts serving
// on cfg.addr. On error everything it started is closed again.
func startApp(ctx context.Context, cfg config, log *slog.Logger) (_ *app, err error) {
	tr := startTracing(os.Stdout) // PORTAL_TRACE=stdout
	opts := tr.options(dbOptions(log))
	var db persist.DB
	if cfg.dbURL != "" {
		db, err = persist.Open(ctx, cfg.dbURL, opts)
	} else {
		db, err = persist.OpenEnv(ctx, defaultDB, opts)
	}
	if err != nil {
		return nil, err // persist errors carry a redacted URL only
	}
	defer func() {
		if err != nil {
			_ = db.Close()
		}
	}()

	events := newBroadcaster()
	srv, err := newServer(ctx, db, events, log, cfg.maxBody)
	if err != nil {
		return nil, err
	}
	if err := ensureIndexes(ctx, srv.stores); err != nil {
		return nil, err
	}
	if cfg.seed {
		res, err := seed(ctx, srv.stores)
		if err != nil {
			return nil, err
		}
		inserted := 0
		for _, r := range res {
			inserted += r.Inserted
		}
		log.Info("seeded demo records", "inserted", inserted)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	hs := &http.Server{
		Handler:           tr.handler(srv.handler()),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // SSE extends its own deadline per event
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for handlers to return; event streams return when the
	// broadcaster closes.
	hs.RegisterOnShutdown(events.close)

	tickCtx, stopTick := context.WithCancel(context.Background())
	a := &app{
		db: db, srv: srv, http: hs, addr: ln.Addr().String(), log: log, timeout: cfg.shutdownTimeout,
		stopTick: stopTick, tickDone: make(chan struct{}), served: make(chan struct{}),
	}
	go func() {
		defer close(a.tickDone)
		var wg sync.WaitGroup
		wg.Go(func() {
			pruneFeed(tickCtx, srv.feed.feed, persist.Retention{MaxAge: cfg.feedRetention}, pruneEvery, log)
		})
		events.runTicks(tickCtx, cfg.tick)
		wg.Wait()
	}()
	go func() {
		defer close(a.served)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.serveErr = err
		}
	}()
	return a, nil
}

// shutdown stops accepting connections, lets in-flight requests finish for
// up to the shutdown timeout (then cuts the rest), and only then closes the
// database, so no request sees ErrClosed because of the shutdown itself. It
// is safe to call more than once.
func (a *app) shutdown() error {
	a.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		err := a.http.Shutdown(ctx)
		if err != nil {
			a.log.Warn("shutdown timed out; closing remaining connections", "timeout", a.timeout)
			err = errors.Join(fmt.Errorf("shutdown: %w", err), a.http.Close())
		}
		<-a.served
		a.stopTick()
		<-a.tickDone
		if a.serveErr != nil {
			err = errors.Join(err, fmt.Errorf("serve: %w", a.serveErr))
		}
		if cerr := a.db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
		a.stopErr = err
	})
	return a.stopErr
}

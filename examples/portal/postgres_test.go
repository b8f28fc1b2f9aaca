package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

var schemaSeq atomic.Int64

// openPostgres opens url in a schema of its own, dropped on cleanup, so
// tests neither see nor leave other tables.
func openPostgres(tb testing.TB, url string) persist.DB {
	tb.Helper()
	schema := fmt.Sprintf("portal_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, schemaSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := postgres.ParseConfig(url)
	if err != nil {
		tb.Fatalf("parse postgres url: %v", err)
	}
	cfg.Schema = schema
	cfg.Options = *dbOptions(discard)
	db, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() {
		_ = db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return db
}

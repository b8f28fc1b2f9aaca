// Command quickstart shows persist end to end on embedded SQLite, or on the
// database DATABASE_URL names: it opens a database, writes, reads, queries,
// updates atomically and lists, printing what it did.
//
//	go run ./examples/quickstart
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test go run ./examples/quickstart
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/persistkit/persist"
	_ "github.com/persistkit/persist/postgres" // postgres:// URLs
	_ "github.com/persistkit/persist/sqlite"   // sqlite:// URLs
)

// Source is a data source of the portal, stored as a JSON document.
type Source struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Enabled bool   `json:"enabled"`
	Reads   int    `json:"reads"`
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// Embedded SQLite in a temporary directory unless DATABASE_URL is set.
	dir, err := os.MkdirTemp("", "persist-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fallback := "sqlite:///" + filepath.Join(dir, "quickstart.db")

	db, err := persist.OpenEnv(ctx, fallback, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(out, "opened", persist.Redact(urlOr(fallback)))

	store, err := db.Store("quickstart_sources")
	if err != nil {
		return err
	}
	if _, err := store.Clear(ctx); err != nil {
		return err
	}
	sources := persist.NewTyped[Source](store)

	for _, s := range []Source{
		{Name: "lake", Kind: "s3", Enabled: true},
		{Name: "warehouse", Kind: "postgres", Enabled: false},
		{Name: "events", Kind: "kafka", Enabled: true},
	} {
		doc, err := sources.Put(ctx, "src-"+s.Name, s, 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "put %s (revision %d)\n", doc.ID, doc.Revision)
	}

	doc, err := sources.Get(ctx, "src-lake")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "get %s: %s via %s, enabled=%v\n", doc.ID, doc.Value.Name, doc.Value.Kind, doc.Value.Enabled)

	if _, err := sources.Get(ctx, "src-missing"); errors.Is(err, persist.ErrNotFound) {
		fmt.Fprintln(out, "get src-missing: not found, as expected")
	}

	for i := 0; i < 3; i++ {
		if doc, err = sources.Modify(ctx, "src-lake", func(s *Source) error { s.Reads++; return nil }); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "modified src-lake 3 times: reads=%d revision=%d\n", doc.Value.Reads, doc.Revision)

	fmt.Fprint(out, "enabled sources:")
	for rec, err := range store.Query(ctx, json.RawMessage(`{"enabled":true}`), nil) {
		if err != nil {
			return err
		}
		fmt.Fprint(out, " ", rec.ID)
	}
	fmt.Fprintln(out)

	n, err := store.Count(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "count:", n)

	fmt.Fprintln(out, "all sources in insertion order:")
	for rec, err := range store.List(ctx, nil) {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s %s\n", rec.ID, rec.Data)
	}
	return nil
}

func urlOr(fallback string) string {
	if u := os.Getenv(persist.EnvURL); u != "" {
		return u
	}
	return fallback
}

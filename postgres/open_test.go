package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

func TestParseConfig(t *testing.T) {
	t.Run("FromURL", func(t *testing.T) {
		// Parsing does not connect, so no server is needed.
		cfg, err := postgres.ParseConfig("postgresql+psycopg2://app@db.example.com:6543/shop?pool_max_conns=7&query_index=1&application_name=shop")
		if err != nil {
			t.Fatal(err)
		}
		cc := cfg.Pool.ConnConfig
		if cc.Host != "db.example.com" || cc.Port != 6543 || cc.Database != "shop" || cc.User != "app" {
			t.Errorf("ConnConfig=%s@%s:%d/%s, want app@db.example.com:6543/shop", cc.User, cc.Host, cc.Port, cc.Database)
		}
		if cfg.Pool.MaxConns != 7 || !cfg.QueryIndex {
			t.Errorf("MaxConns=%v, QueryIndex=%v; want 7, true", cfg.Pool.MaxConns, cfg.QueryIndex)
		}
		if got := cc.RuntimeParams["application_name"]; got != "shop" {
			t.Errorf("application_name=%q, want the URL's shop", got)
		}
		if _, ok := cc.RuntimeParams["query_index"]; ok {
			t.Errorf("query_index left for the server, which would refuse it")
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		cfg, err := postgres.ParseConfig("postgres://app@db.example.com/shop")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Pool.ConnConfig.RuntimeParams["application_name"]; got != "persist" {
			t.Errorf("application_name=%q, want persist", got)
		}
		if cfg.QueryIndex || cfg.Schema != "" || cfg.TokenCredential != nil || cfg.Pool.MaxConns < 1 {
			t.Errorf("ParseConfig=%v, want pgx's pool defaults and persist's zero values", cfg)
		}
	})
	t.Run("String", func(t *testing.T) {
		cfg, err := postgres.ParseConfig("postgres://app:hunter2secret@db.example.com/shop?pool_max_conns=3")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Schema = "sales"
		want := "host=db.example.com port=5432 dbname=shop user=app pool_min_conns=0 pool_max_conns=3 schema=sales query_index=false token_credential=false"
		if got := cfg.String(); got != want {
			t.Errorf("String()=%q, want %q", got, want)
		}
		if got := fmt.Sprintf("%#v", cfg); strings.Contains(got, "hunter2secret") {
			t.Errorf("%%#v shows the password: %s", got)
		}
	})
}

// traceRecorder is a pgx QueryTracer that keeps the SQL of every query.
type traceRecorder struct {
	mu  sync.Mutex
	sql []string
}

func (r *traceRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.sql = append(r.sql, data.SQL)
	r.mu.Unlock()
	return ctx
}

func (r *traceRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *traceRecorder) saw(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.sql {
		if strings.Contains(q, substr) {
			return true
		}
	}
	return false
}

// TestOpenConfig_QueryTracer attaches a pgx QueryTracer, as otelpgx is
// attached, through Config.Pool, and sees persist's queries traced.
func TestOpenConfig_QueryTracer(t *testing.T) {
	tracer := &traceRecorder{}
	db, _ := mustOpen(t, func(c *postgres.Config) { c.Pool.ConnConfig.Tracer = tracer })
	s := mustStore(t, db, "traced")
	if _, err := s.Put(t.Context(), persist.Record{ID: "a", Data: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	if !tracer.saw(`"traced"`) {
		t.Errorf("no traced query names the table; traced %d queries", len(tracer.sql))
	}
}

// TestOpenConfig_CodeWins checks the one precedence rule: the URL is read
// first, and edits to the Config win; and that OpenConfig leaves the
// Config as it was, so it can open another DB.
func TestOpenConfig_CodeWins(t *testing.T) {
	u := testURL(t)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	cfg, err := postgres.ParseConfig(u + sep + "pool_max_conns=7")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pool.MaxConns = 3
	cfg.Schema = newSchema(t)
	for i := range 2 {
		db, err := postgres.OpenConfig(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := postgres.MaxConns(db); n != 3 {
			t.Errorf("open %d: MaxConns=%v, want the edit's 3, not the URL's 7", i, n)
		}
		db.Close()
	}
	if cfg.Pool.BeforeConnect != nil || cfg.Pool.MaxConns != 3 {
		t.Errorf("OpenConfig changed its Config")
	}
}

func TestOpen_ErrInvalidWithoutServer(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2secret@127.0.0.1:notaport/x")
	if !errors.Is(err, persist.ErrInvalid) || strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("err=%v, want ErrInvalid without the password", err)
	}
}

// TestOpen_DeprecatedOptions checks that Open still takes the deprecated
// Options until they go, and applies their non-zero fields after the URL.
func TestOpen_DeprecatedOptions(t *testing.T) {
	u := testURL(t)
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	schema := newSchema(t)
	db, err := postgres.Open(t.Context(), u+sep+"pool_max_conns=7", &postgres.Options{MaxConns: 3, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := postgres.MaxConns(db); n != 3 || db.Schema() != schema {
		t.Errorf("MaxConns=%v, Schema=%q; want 3, %q", n, db.Schema(), schema)
	}
}

func TestParseConfig_IDField(t *testing.T) {
	cfg, err := postgres.ParseConfig("postgres://app@db.example.com/shop?id_field=id")
	if err != nil || cfg.IDField != "id" {
		t.Fatalf("ParseConfig=%v, %v; want IDField id", cfg, err)
	}
	if _, ok := cfg.Pool.ConnConfig.RuntimeParams["id_field"]; ok {
		t.Errorf("id_field left for the server, which would refuse it")
	}
	for _, bad := range []string{"a.b", "", "1a", strings.Repeat("k", 129)} {
		if _, err := postgres.ParseConfig("postgres://app@db.example.com/shop?id_field=" + bad); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("id_field=%q: err=%v, want ErrInvalid", bad, err)
		}
	}
	cfg.IDField = "has space"
	if _, err := postgres.OpenConfig(t.Context(), cfg); !errors.Is(err, persist.ErrInvalid) {
		t.Errorf("OpenConfig with IDField %q: err=%v, want ErrInvalid", cfg.IDField, err)
	}
}

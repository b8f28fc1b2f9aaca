package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/persistkit/persist"
)

// Options configure a PostgreSQL DB. A nil *Options means the defaults.
type Options struct {
	persist.Options

	// MinConns and MaxConns bound the connection pool. Zero keeps the URL's
	// pool_min_conns and pool_max_conns parameters, or pgx's defaults of 0
	// and max(4, number of CPUs).
	MinConns int32
	MaxConns int32

	// TokenCredential, when set, supplies a Microsoft Entra access token as
	// the password of every new connection (Azure Database for PostgreSQL
	// with managed identity). When nil and the POSTGRES_USE_MANAGED_IDENTITY
	// environment variable is true, azidentity's DefaultAzureCredential is
	// used. A URL that carries a password opts out of tokens.
	TokenCredential azcore.TokenCredential

	// TokenRefreshBefore is how long before expiry a cached token is
	// replaced. Default 5 minutes.
	TokenRefreshBefore time.Duration

	// Schema holds the tables. Default: the first existing schema on the
	// connection's search_path (as set by the URL's options parameter, the
	// role or the database), usually public. A named schema that does not
	// exist is created.
	Schema string

	// QueryIndex, when true, gives every table this DB creates or opens
	// the GIN index USING gin (data jsonb_path_ops), so that Query filters
	// are served by the index instead of a sequential scan. The index costs
	// every write; a bulk load (see [Store.BeginBulkLoad]) builds it once
	// at the end instead. Without it Query is still correct: it scans.
	// Opening an existing table that lacks the index builds it on first
	// use, which holds off writers to that table while it runs.
	//
	// Tables that already have the index keep it, whatever this field
	// says: persist never drops it, except for the duration of a bulk load
	// into an empty table, whose finish restores it.
	//
	// The URL parameter query_index=true (or 1) asks for the same, and
	// query_index=false (or 0) for none; a value [strconv.ParseBool] does
	// not accept fails Open with [persist.ErrInvalid]. True here wins over
	// the URL; false leaves the choice to the URL, whose default is no
	// index.
	QueryIndex bool
}

var schemes = []string{"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2"}

func init() {
	for _, s := range schemes {
		persist.Register(s, func(ctx context.Context, url string, opts *persist.Options) (persist.DB, error) {
			var o *Options
			if opts != nil {
				o = &Options{Options: *opts}
			}
			return Open(ctx, url, o)
		})
	}
}

// Open connects to the PostgreSQL database that url names and returns a DB
// with one connection pool shared by all its stores. url is a postgres:// or
// postgresql:// URL (a "+driver" suffix on the scheme, as in SQLAlchemy's
// postgresql+psycopg2://, is ignored) or a key/value DSN; every pgx
// parameter works, including sslmode, pool_max_conns and
// options=-c search_path=..., and so does persist's own query_index (see
// [Options.QueryIndex]).
//
// Open checks that the database is reachable and creates the persist_meta
// table. A malformed url is [persist.ErrInvalid]; an unreachable database,
// failed authentication or failed token credential is a [*persist.ConnError].
func Open(ctx context.Context, url string, opts *Options) (*DB, error) {
	if opts == nil {
		opts = &Options{}
	}
	redacted := persist.Redact(url)
	cfg, queryIndex, err := parseConfig(url)
	if err != nil {
		return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: %s: %w", persist.ErrInvalid, redacted, err)}
	}
	schema := opts.Schema
	if schema != "" {
		if err := validSchema(schema); err != nil {
			return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: %w", persist.ErrInvalid, err)}
		}
	}
	if opts.MaxConns < 0 || opts.MinConns < 0 || opts.MaxConns > 0 && opts.MinConns > opts.MaxConns {
		return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: MinConns %d, MaxConns %d", persist.ErrInvalid, opts.MinConns, opts.MaxConns)}
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
		if cfg.MinConns > cfg.MaxConns {
			cfg.MinConns = cfg.MaxConns
		}
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "persist"
	}

	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{
		url:      redacted,
		log:      log,
		retry:    opts.Retry.WithDefaults(),
		password: cfg.ConnConfig.Password,
		tables:   map[string]*table{},

		queryIndex: opts.QueryIndex || queryIndex,
	}

	cred := opts.TokenCredential
	if cred == nil {
		cred, err = credentialFromEnv()
		if err != nil {
			var te *tokenError
			if errors.As(err, &te) {
				return nil, db.mapError(ctx, "open", "", "", err, false)
			}
			return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: %w", persist.ErrInvalid, err)}
		}
	}
	if cred != nil && cfg.ConnConfig.Password != "" {
		log.LogAttrs(ctx, slog.LevelInfo, "persist: the database url has a password; not using the token credential",
			slog.String("url", redacted))
		cred = nil
	}
	if cred != nil {
		db.tokens = newTokenSource(cred, opts.TokenRefreshBefore, log)
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			tok, err := db.tokens.token(ctx)
			if err != nil {
				return err
			}
			cc.Password = tok
			return nil
		}
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: %s: %w", persist.ErrInvalid, redacted, db.scrub(err))}
	}
	db.pool = pool
	db.maxConns = cfg.MaxConns
	if err := db.init(ctx, schema); err != nil {
		pool.Close()
		if db.tokens != nil {
			db.tokens.release()
		}
		return nil, err
	}
	log.LogAttrs(ctx, slog.LevelDebug, "persist: opened postgres database",
		slog.String("url", redacted), slog.String("schema", db.schema), slog.Bool("token", db.tokens != nil))
	return db, nil
}

// parseConfig parses url after dropping a "+driver" suffix from its scheme,
// and takes persist's query_index parameter out of it. The pgx error is not
// returned: its text can quote the connection string.
func parseConfig(url string) (cfg *pgxpool.Config, queryIndex bool, err error) {
	if scheme, rest, ok := strings.Cut(url, "://"); ok {
		base, _, _ := strings.Cut(scheme, "+")
		switch strings.ToLower(base) {
		case "postgres", "postgresql":
			url = "postgres://" + rest
		default:
			return nil, false, fmt.Errorf("scheme %q is not postgres", base)
		}
	}
	cfg, err = pgxpool.ParseConfig(url)
	if err != nil {
		return nil, false, errors.New("cannot parse connection string")
	}
	// pgx keeps every parameter it does not know as a run-time parameter
	// for the server, which would refuse the connection over this one; so
	// it is taken out here, as pgxpool does with its pool_ parameters.
	params := cfg.ConnConfig.RuntimeParams
	if v, ok := params["query_index"]; ok {
		delete(params, "query_index")
		queryIndex, err = strconv.ParseBool(v)
		if err != nil {
			return nil, false, fmt.Errorf("query_index %q is not a boolean (true or false)", v)
		}
	}
	return cfg, queryIndex, nil
}

// validSchema accepts the same names as tables, plus "public".
func validSchema(s string) error {
	if len(s) == 0 || len(s) > 63 {
		return fmt.Errorf("schema name %q must be 1 to 63 bytes", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return fmt.Errorf("schema name %q: must match ^[a-z_][a-z0-9_]{0,62}$", s)
	}
	return nil
}

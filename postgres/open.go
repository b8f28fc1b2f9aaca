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
	"github.com/persistkit/persist/internal/check"
	"github.com/persistkit/persist/internal/observe"
)

// Config configures a PostgreSQL DB. Get one from [ParseConfig], change
// what your code decides, and pass it to [OpenConfig]: the URL is read
// first, and whatever the Config holds when OpenConfig is called wins.
//
// Config's String, GoString and LogValue never show the password or the
// token credential, so a Config may be printed and logged.
type Config struct {
	// Logger, Retry, IDField and Observer: see [persist.Options]. Nil
	// Logger discards, nil Retry means [persist.DefaultRetryPolicy], nil
	// Observer observes nothing.
	persist.Options

	// Pool is pgx's pool configuration as [pgxpool.ParseConfig] read it
	// from the URL: connection settings in Pool.ConnConfig (including
	// Tracer, where a pgx QueryTracer such as otelpgx's is attached),
	// pool bounds (MaxConns, MinConns, lifetimes; pool_max_conns and the
	// other pool_ parameters of the URL) and hooks (BeforeConnect,
	// AfterConnect, ...). Edit it before [OpenConfig], which works on a
	// copy, so a Config can open several DBs. It must come from
	// [ParseConfig] or [pgxpool.ParseConfig]; pgx builds a pool from no
	// other.
	Pool *pgxpool.Config

	// Schema holds the tables. Empty means the first existing schema on
	// the connection's search_path (as set by the URL's options
	// parameter, the role or the database), usually public. A named
	// schema that does not exist is created.
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
	// ParseConfig sets it from the URL parameter query_index (true, 1,
	// false, 0; anything [strconv.ParseBool] does not accept is
	// [persist.ErrInvalid]). Default false.
	QueryIndex bool

	// TokenCredential, when set, supplies a Microsoft Entra access token as
	// the password of every new connection (Azure Database for PostgreSQL
	// with managed identity). When nil and the POSTGRES_USE_MANAGED_IDENTITY
	// environment variable is true, azidentity's DefaultAzureCredential is
	// used. A password in Pool.ConnConfig (from the URL) opts out of
	// tokens. A BeforeConnect hook in Pool runs after the token is set.
	TokenCredential azcore.TokenCredential

	// TokenRefreshBefore is how long before expiry a cached token is
	// replaced. Zero means [DefaultTokenRefreshBefore].
	TokenRefreshBefore time.Duration
}

var schemes = []string{"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2"}

func init() {
	for _, s := range schemes {
		persist.Register(s, openURL)
	}
}

// openURL is the persist.OpenFunc for the PostgreSQL schemes: the URL,
// then the caller's persist.Options.
func openURL(ctx context.Context, url string, opts *persist.Options) (persist.DB, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		// Code wins over the URL, field by field: an Options without an
		// IDField keeps the URL's id_field.
		idField := cfg.IDField
		cfg.Options = *opts
		if cfg.IDField == "" {
			cfg.IDField = idField
		}
	}
	db, err := OpenConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// ParseConfig reads url into a Config without connecting. url is a
// postgres:// or postgresql:// URL (a "+driver" suffix on the scheme, as
// in SQLAlchemy's postgresql+psycopg2://, is ignored) or a key/value DSN;
// every pgx parameter works, including sslmode, pool_max_conns and
// options=-c search_path=..., and so does persist's own query_index (see
// [Config.QueryIndex]). The connection's application_name is "persist"
// unless the URL names one.
//
// A malformed url is [persist.ErrInvalid]; the error never quotes a
// password.
func ParseConfig(url string) (*Config, error) {
	pool, queryIndex, idField, err := parseConfig(url)
	if err != nil {
		return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: %s: %w", persist.ErrInvalid, persist.Redact(url), err)}
	}
	if _, ok := pool.ConnConfig.RuntimeParams["application_name"]; !ok {
		pool.ConnConfig.RuntimeParams["application_name"] = "persist"
	}
	cfg := &Config{Pool: pool, QueryIndex: queryIndex}
	cfg.IDField = idField
	return cfg, nil
}

// Open connects to the PostgreSQL database that url names: [ParseConfig]
// then [OpenConfig].
//
// opts is deprecated and goes in v0.3.0, leaving Open(ctx, url): set the
// fields of a [Config] instead. The non-zero fields of each opts are
// applied after the URL, as edits to a Config are.
func Open(ctx context.Context, url string, opts ...*Options) (*DB, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o.apply(cfg)
	}
	return OpenConfig(ctx, cfg)
}

// Options configure a DB opened with [Open].
//
// Deprecated: use [ParseConfig], set the fields of the [Config] (pool
// bounds on Config.Pool), and [OpenConfig]. Options will be removed in
// v0.3.0.
type Options struct {
	persist.Options

	// MinConns and MaxConns are Config.Pool.MinConns and MaxConns. A
	// MaxConns below the URL's pool_min_conns lowers MinConns with it.
	MinConns int32
	MaxConns int32

	// TokenCredential is [Config.TokenCredential].
	TokenCredential azcore.TokenCredential

	// TokenRefreshBefore is [Config.TokenRefreshBefore].
	TokenRefreshBefore time.Duration

	// Schema is [Config.Schema].
	Schema string

	// QueryIndex is [Config.QueryIndex]; false leaves the URL's choice.
	QueryIndex bool
}

// apply sets cfg's fields from o's non-zero ones, as Open did before
// Config.
func (o *Options) apply(cfg *Config) {
	if o == nil {
		return
	}
	if o.Logger != nil {
		cfg.Logger = o.Logger
	}
	if o.Retry != nil {
		cfg.Retry = o.Retry
	}
	if o.IDField != "" {
		cfg.IDField = o.IDField
	}
	if o.Observer != nil {
		cfg.Observer = o.Observer
	}
	if o.MaxConns != 0 {
		cfg.Pool.MaxConns = o.MaxConns
		if o.MinConns == 0 && cfg.Pool.MinConns > o.MaxConns && o.MaxConns > 0 {
			cfg.Pool.MinConns = o.MaxConns
		}
	}
	if o.MinConns != 0 {
		cfg.Pool.MinConns = o.MinConns
	}
	if o.TokenCredential != nil {
		cfg.TokenCredential = o.TokenCredential
	}
	if o.TokenRefreshBefore != 0 {
		cfg.TokenRefreshBefore = o.TokenRefreshBefore
	}
	if o.Schema != "" {
		cfg.Schema = o.Schema
	}
	if o.QueryIndex {
		cfg.QueryIndex = true
	}
}

// OpenConfig connects to the database cfg describes and returns a DB with
// one connection pool shared by all its stores. It checks that the
// database is reachable and creates the persist_meta table. cfg is not
// changed and may be used again.
//
// A Config that cannot work (nil, no Pool, bad pool bounds, a bad schema
// name) is [persist.ErrInvalid]; an unreachable database, failed
// authentication or failed token credential is a [*persist.ConnError].
func OpenConfig(ctx context.Context, cfg *Config) (*DB, error) {
	invalid := func(format string, args ...any) (*DB, error) {
		return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: "+format, append([]any{persist.ErrInvalid}, args...)...)}
	}
	if cfg == nil || cfg.Pool == nil || cfg.Pool.ConnConfig == nil {
		return invalid("no Config.Pool; get a Config from ParseConfig")
	}
	if cfg.Schema != "" {
		if err := validSchema(cfg.Schema); err != nil {
			return invalid("%w", err)
		}
	}
	if cfg.IDField != "" {
		if err := check.IDField(cfg.IDField); err != nil {
			return invalid("%w", err)
		}
	}
	pc := cfg.Pool.Copy()
	if pc.MaxConns < 1 || pc.MinConns < 0 || pc.MinConns > pc.MaxConns {
		return invalid("pool MinConns %d, MaxConns %d: want 0 <= MinConns <= MaxConns, MaxConns >= 1", pc.MinConns, pc.MaxConns)
	}
	redacted := persist.Redact(pc.ConnString())
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{
		url:      redacted,
		log:      log,
		retry:    cfg.Retry.WithDefaults(),
		password: pc.ConnConfig.Password,
		tables:   map[string]*table{},

		queryIndex: cfg.QueryIndex,
		idField:    cfg.IDField,
	}

	cred := cfg.TokenCredential
	if cred == nil {
		var err error
		cred, err = credentialFromEnv()
		if err != nil {
			var te *tokenError
			if errors.As(err, &te) {
				return nil, db.mapError(ctx, "open", "", "", err, false)
			}
			return invalid("%w", err)
		}
	}
	if cred != nil && pc.ConnConfig.Password != "" {
		log.LogAttrs(ctx, slog.LevelInfo, "persist: the database url has a password; not using the token credential",
			slog.String("url", redacted))
		cred = nil
	}
	if cred != nil {
		db.tokens = newTokenSource(cred, cfg.TokenRefreshBefore, log)
		next := pc.BeforeConnect
		pc.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			tok, err := db.tokens.token(ctx)
			if err != nil {
				return err
			}
			cc.Password = tok
			if next != nil {
				return next(ctx, cc)
			}
			return nil
		}
	}

	pool, err := newPool(ctx, pc)
	if err != nil {
		if db.tokens != nil {
			db.tokens.release()
		}
		return nil, &persist.Error{Op: "open", Err: fmt.Errorf("%w: %s: %w", persist.ErrInvalid, redacted, db.scrub(err))}
	}
	db.pool = pool
	db.maxConns = pc.MaxConns
	if err := db.init(ctx, cfg.Schema); err != nil {
		pool.Close()
		if db.tokens != nil {
			db.tokens.release()
		}
		return nil, err
	}
	db.obs = observe.New(cfg.Observer, "postgresql", pc.ConnConfig.Database+"|"+db.schema, pc.ConnConfig.Host, int(pc.ConnConfig.Port))
	log.LogAttrs(ctx, slog.LevelDebug, "persist: opened postgres database",
		slog.String("url", redacted), slog.String("schema", db.schema), slog.Bool("token", db.tokens != nil))
	return db, nil
}

// newPool is pgxpool.NewWithConfig, which panics on a Config that
// pgxpool.ParseConfig did not make; that is an error here.
func newPool(ctx context.Context, pc *pgxpool.Config) (pool *pgxpool.Pool, err error) {
	defer func() {
		if r := recover(); r != nil {
			pool, err = nil, fmt.Errorf("pgxpool: %v", r)
		}
	}()
	return pgxpool.NewWithConfig(ctx, pc)
}

// String describes c for logs, libpq style, without the password or
// anything of the token credential but whether there is one.
func (c *Config) String() string {
	if c == nil {
		return "<nil>"
	}
	var b strings.Builder
	if c.Pool != nil && c.Pool.ConnConfig != nil {
		cc := c.Pool.ConnConfig
		fmt.Fprintf(&b, "host=%s port=%d dbname=%s user=%s pool_min_conns=%d pool_max_conns=%d ",
			quoteValue(cc.Host), cc.Port, quoteValue(cc.Database), quoteValue(cc.User), c.Pool.MinConns, c.Pool.MaxConns)
	}
	fmt.Fprintf(&b, "schema=%s query_index=%t token_credential=%t", quoteValue(c.Schema), c.QueryIndex, c.TokenCredential != nil)
	if c.IDField != "" {
		fmt.Fprintf(&b, " id_field=%s", quoteValue(c.IDField))
	}
	return b.String()
}

// GoString is String, so that %#v shows no secret either.
func (c *Config) GoString() string { return "postgres.Config{" + c.String() + "}" }

// LogValue is String, so that a logged Config shows no secret: slog's
// JSON handler would otherwise encode every exported field.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// quoteValue quotes a key/value DSN value when it needs quoting.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// parseConfig parses url after dropping a "+driver" suffix from its scheme,
// and takes persist's query_index parameter out of it. The pgx error is not
// returned: its text can quote the connection string.
func parseConfig(url string) (cfg *pgxpool.Config, queryIndex bool, idField string, err error) {
	if scheme, rest, ok := strings.Cut(url, "://"); ok {
		base, _, _ := strings.Cut(scheme, "+")
		switch strings.ToLower(base) {
		case "postgres", "postgresql":
			url = "postgres://" + rest
		default:
			return nil, false, "", fmt.Errorf("scheme %q is not postgres", base)
		}
	}
	cfg, err = pgxpool.ParseConfig(url)
	if err != nil {
		return nil, false, "", errors.New("cannot parse connection string")
	}
	// pgx keeps every parameter it does not know as a run-time parameter
	// for the server, which would refuse the connection over this one; so
	// it is taken out here, as pgxpool does with its pool_ parameters.
	params := cfg.ConnConfig.RuntimeParams
	if v, ok := params["query_index"]; ok {
		delete(params, "query_index")
		queryIndex, err = strconv.ParseBool(v)
		if err != nil {
			return nil, false, "", fmt.Errorf("query_index %q is not a boolean (true or false)", v)
		}
	}
	if v, ok := params["id_field"]; ok {
		delete(params, "id_field")
		if err := check.IDField(v); err != nil {
			return nil, false, "", err
		}
		idField = v
	}
	return cfg, queryIndex, idField, nil
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

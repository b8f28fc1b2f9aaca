package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/otelpersist"
	"github.com/persistkit/persist/postgres"
	"github.com/persistkit/persist/sqlite"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const (
	secretPassword = "SuperSecretPw123"
	secretToken    = "TokenSecretXYZ"
)

var secrets = []string{secretPassword, secretToken}

// syncBuffer is a bytes.Buffer that pool goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeCredential hands out secretToken, valid for ttl, until fail is set;
// then it returns an error that does not contain the token.
type fakeCredential struct {
	ttl   time.Duration
	fail  atomic.Bool
	calls atomic.Int64
}

func (c *fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return azcore.AccessToken{}, errors.New("fake credential: the token endpoint refused the request")
	}
	return azcore.AccessToken{Token: secretToken, ExpiresOn: time.Now().Add(c.ttl)}, nil
}

// leakRun collects every log line, error, span and metric of
// TestNoSecretsLeak.
type leakRun struct {
	logs *syncBuffer
	log  *slog.Logger
	mu   sync.Mutex
	errs []labelled

	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	obs     *otelpersist.Observer
}

type labelled struct {
	what string
	err  error
}

func newLeakRun(t *testing.T) *leakRun {
	b := &syncBuffer{}
	r := &leakRun{logs: b, log: slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})),
		spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader()}
	obs, err := otelpersist.New(&otelpersist.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.metrics)),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.obs = obs
	return r
}

// keep records err (if any) under a label and returns it.
func (r *leakRun) keep(what string, err error) error {
	if err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, labelled{what, err})
		r.mu.Unlock()
	}
	return err
}

func (r *leakRun) opts() *persist.Options { return &persist.Options{Logger: r.log, Observer: r.obs} }

// telemetry returns every span name, status, event and attribute, and
// every metric's name and data point attributes, the run recorded.
func (r *leakRun) telemetry(t *testing.T) []string {
	t.Helper()
	var out []string
	kv := func(kvs []attribute.KeyValue) {
		for _, a := range kvs {
			out = append(out, string(a.Key)+"="+a.Value.String())
		}
	}
	for _, s := range r.spans.Ended() {
		out = append(out, "span "+s.Name(), "status "+s.Status().Description)
		kv(s.Attributes())
		for _, e := range s.Events() {
			out = append(out, "event "+e.Name)
			kv(e.Attributes)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := r.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, "metric "+m.Name)
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					kv(p.Attributes.ToSlice())
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					kv(p.Attributes.ToSlice())
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					kv(p.Attributes.ToSlice())
				}
			}
		}
	}
	return out
}

// openPostgres is postgres.ParseConfig, then edit, then
// postgres.OpenConfig.
func openPostgres(ctx context.Context, u string, edit func(c *postgres.Config)) (*postgres.DB, error) {
	cfg, err := postgres.ParseConfig(u)
	if err != nil {
		return nil, err
	}
	edit(cfg)
	return postgres.OpenConfig(ctx, cfg)
}

// TestNoSecretsLeak runs persist with a password in the URL and with a
// token credential, through successes and failures (closed port, a server
// that never answers, a failing credential, connections killed under it,
// rejected SQLite URLs), and checks that neither the password nor the token
// appears in any log record, in any error's message (%v, %+v, %#v, for every
// error in the chain), anywhere in the values reachable from the errors, or
// in any span, event, status or metric attribute that otelpersist
// recorded; and that no telemetry carries an id, a document or an error
// message: every attribute is one of the names otelpersist documents, and
// error.type and a status hold only a sentinel's name.
func TestNoSecretsLeak(t *testing.T) {
	run := newLeakRun(t)
	t.Run("Config", func(t *testing.T) { leakConfig(t, run) })
	t.Run("Unreachable", func(t *testing.T) { leakUnreachable(t, run) })
	t.Run("SQLite", func(t *testing.T) { leakSQLite(t, run) })
	t.Run("PasswordServer", func(t *testing.T) { leakPasswordServer(t, run) })
	t.Run("TokenServer", func(t *testing.T) { leakTokenServer(t, run) })

	logs := run.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, s) {
					t.Errorf("log record contains %q: %s", s, line)
				}
			}
		}
	}
	for _, e := range run.errs {
		for _, f := range secretFindings(e.err) {
			t.Errorf("%s: %s", e.what, f)
		}
		if testing.Verbose() {
			t.Logf("%s: %v", e.what, e.err)
		}
	}
	tel := run.telemetry(t)
	for _, v := range tel {
		for _, s := range secrets {
			if strings.Contains(v, s) {
				t.Errorf("telemetry contains %q: %s", s, v)
			}
		}
		if !telemetryAllowed(v) {
			t.Errorf("telemetry carries more than names: %s", v)
		}
	}
	if !slices.ContainsFunc(tel, func(v string) bool { return strings.HasPrefix(v, "persist.retry.reason=") }) ||
		!slices.Contains(tel, "error.type=unavailable") {
		t.Errorf("no retry or unavailable error was recorded: the failure paths ran nothing")
	}
	t.Logf("checked %d log records, %d errors and %d telemetry strings", strings.Count(logs, "\n"), len(run.errs), len(tel))
	if len(run.errs) == 0 {
		t.Errorf("no error was produced: the failure paths ran nothing")
	}
}

// secretFindings describes each place a secret shows in err: its text in
// any format, for every error in the chain, or any string reachable from
// err.
func secretFindings(err error) []string {
	var found []string
	chain := []error{err}
	for i := 0; i < len(chain) && i < 100; i++ {
		switch u := chain[i].(type) {
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				chain = append(chain, next)
			}
		case interface{ Unwrap() []error }:
			for _, next := range u.Unwrap() {
				if next != nil {
					chain = append(chain, next)
				}
			}
		}
	}
	for depth, e := range chain {
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			text := fmt.Sprintf(format, e)
			for _, s := range secrets {
				if strings.Contains(text, s) {
					found = append(found, fmt.Sprintf("error %d of the chain (%T) in %s contains %q: %s", depth, e, format, s, text))
				}
			}
		}
	}
	if path, s, ok := findSecret(reflect.ValueOf(err), "err", map[uintptr]bool{}, 0); ok {
		found = append(found, fmt.Sprintf("error %q holds %q at %s", err, s, path))
	}
	return found
}

// findSecret walks every value reachable from v, unexported fields
// included, and returns the path to the first string holding a secret: an
// error must not keep one even where its message does not show it, since
// a debug dump (%#v of the inner value, a panic trace) would.
func findSecret(v reflect.Value, path string, seen map[uintptr]bool, depth int) (string, string, bool) {
	if !v.IsValid() || depth > 40 {
		return "", "", false
	}
	switch v.Kind() {
	case reflect.String:
		for _, s := range secrets {
			if strings.Contains(v.String(), s) {
				return path, s, true
			}
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return "", "", false
		}
		seen[v.Pointer()] = true
		return findSecret(v.Elem(), "(*"+path+")", seen, depth+1)
	case reflect.Interface:
		return findSecret(v.Elem(), path, seen, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if p, s, ok := findSecret(v.Field(i), path+"."+v.Type().Field(i).Name, seen, depth+1); ok {
				return p, s, true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice {
			if v.IsNil() || seen[v.Pointer()] && v.Len() > 0 {
				return "", "", false
			}
			seen[v.Pointer()] = true
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, min(v.Len(), 1<<20))
			for i := range b {
				b[i] = byte(v.Index(i).Uint()) // works on unexported fields, unlike reflect.Copy
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					return path, s, true
				}
			}
			return "", "", false
		}
		for i := 0; i < v.Len() && i < 10_000; i++ {
			if p, s, ok := findSecret(v.Index(i), fmt.Sprintf("%s[%d]", path, i), seen, depth+1); ok {
				return p, s, true
			}
		}
	case reflect.Map:
		if v.IsNil() || seen[v.Pointer()] {
			return "", "", false
		}
		seen[v.Pointer()] = true
		it := v.MapRange()
		for it.Next() {
			if p, s, ok := findSecret(it.Key(), path+"[key]", seen, depth+1); ok {
				return p, s, true
			}
			if p, s, ok := findSecret(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), seen, depth+1); ok {
				return p, s, true
			}
		}
	}
	return "", "", false
}

// TestSecretFindings checks the checker: a secret hidden in an unexported
// field of a wrapped error is found, and a clean error is clean.
func TestSecretFindings(t *testing.T) {
	type hidden struct {
		msg    string
		config map[string][]byte
	}
	type holder struct {
		error
		h *hidden
	}
	dirty := fmt.Errorf("wrapped: %w", holder{errors.New("connect failed"), &hidden{"x", map[string][]byte{"pw": []byte("a" + secretPassword)}}})
	if got := secretFindings(dirty); len(got) != 1 {
		t.Errorf("secretFindings(hidden password) = %q, want one finding", got)
	}
	if got := secretFindings(fmt.Errorf("token %s: %w", secretToken, errors.ErrUnsupported)); len(got) == 0 {
		t.Errorf("secretFindings missed a token in the message")
	}
	if got := secretFindings(&persist.Error{Op: "open", Err: persist.ErrUnavailable}); len(got) != 0 {
		t.Errorf("secretFindings(clean) = %q, want none", got)
	}
}

// blackhole accepts TCP connections on loopback and never answers, like a
// host that drops packets. It stops when the test ends.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// tokenHolder is a credential that keeps its token in a field, as a
// static or cached credential does.
type tokenHolder struct{ token string }

func (c *tokenHolder) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// leakConfig prints and logs the Configs of URLs and DSNs carrying the
// password, with a token credential that holds the token, in every format;
// and parses malformed ones, whose errors are checked with the others.
func leakConfig(t *testing.T, run *leakRun) {
	var text syncBuffer
	textLog := slog.New(slog.NewTextHandler(&text, nil))
	for i, u := range []string{
		"postgres://u:" + secretPassword + "@127.0.0.1:1/x",
		"postgresql+psycopg2://u:" + secretPassword + "@127.0.0.1:1/x?sslmode=disable&query_index=true",
		"postgres://u@127.0.0.1:1/x?password=" + secretPassword,
		"host=127.0.0.1 port=1 user=u password=" + secretPassword + " dbname=x",
		"host=127.0.0.1 port=1 user=u password='with space " + secretPassword + "' dbname=x",
	} {
		cfg, err := postgres.ParseConfig(u)
		if err != nil {
			t.Fatalf("ParseConfig(%d): %v", i, err)
		}
		if cfg.Pool.ConnConfig.Password == "" {
			t.Fatalf("ParseConfig(%d) found no password; the check would prove nothing", i)
		}
		cfg.TokenCredential = &tokenHolder{secretToken}
		for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			got := fmt.Sprintf(format, cfg)
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("config %d in %s contains %q: %s", i, format, s, got)
				}
			}
		}
		run.log.Info("config", "config", cfg)
		textLog.Info("config", "config", cfg)
	}
	for _, s := range secrets {
		if strings.Contains(text.String(), s) {
			t.Errorf("text log of a Config contains %q: %s", s, text.String())
		}
	}
	for i, u := range []string{
		"postgres://u:" + secretPassword + "@127.0.0.1:notaport/x",
		"postgres://u:" + secretPassword + "@[::1/x",
		"postgres://u:" + secretPassword + "@127.0.0.1/x?query_index=maybe",
		"host=127.0.0.1 user=u password=" + secretPassword + " query_index=maybe",
	} {
		if _, err := postgres.ParseConfig(u); err == nil {
			t.Errorf("postgres.ParseConfig(%d) accepted a malformed URL", i)
		} else {
			run.keep(fmt.Sprintf("postgres config %d", i), err)
		}
	}
	for i, u := range []string{
		"sqlite:///x.db?password=" + secretPassword,
		"sqlite://u:" + secretPassword + "@/x.db",
		"mysql://u:" + secretPassword + "@h/x",
	} {
		if _, err := sqlite.ParseConfig(u); err == nil {
			t.Errorf("sqlite.ParseConfig(%d) accepted a URL with a password", i)
		} else {
			run.keep(fmt.Sprintf("sqlite config %d", i), err)
		}
	}
}

// leakUnreachable opens URLs carrying the password, or a token
// credential, against servers that cannot be reached.
func leakUnreachable(t *testing.T, run *leakRun) {
	hole := blackhole(t)
	urls := []string{
		"postgres://u:" + secretPassword + "@127.0.0.1:1/x",
		"postgresql+psycopg2://u:" + secretPassword + "@127.0.0.1:1/x?sslmode=disable",
		"postgres://u@127.0.0.1:1/x?password=" + secretPassword,
		"host=127.0.0.1 port=1 user=u password=" + secretPassword + " dbname=x",
		"postgres://u:" + secretPassword + "@" + hole + "/x?connect_timeout=1",
		"postgres://u:" + secretPassword + "@/x?host=/nonexistent/socket/dir",
		"postgres://u:" + secretPassword + "@127.0.0.1:notaport/x",
		"postgres://u:" + secretPassword + "@127.0.0.1:1/x?sslmode=bogus",
		"postgres://u:" + secretPassword + "@[::1/x",
	}
	for i, u := range urls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		db, err := persist.Open(ctx, u, run.opts())
		cancel()
		if err == nil {
			db.Close()
			t.Errorf("Open(%s) succeeded against nothing", persist.Redact(u))
			continue
		}
		run.keep(fmt.Sprintf("unreachable url %d", i), err)
		if !errors.Is(err, persist.ErrUnavailable) && !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("Open(%s) = %v, want ErrUnavailable or ErrInvalid", persist.Redact(u), err)
		}
	}

	// Key/value DSNs reach pgx only through postgres.Open; persist.Open
	// wants a scheme.
	for i, dsn := range []string{
		"host=127.0.0.1 port=1 user=u password=" + secretPassword + " dbname=x",
		"host=127.0.0.1 port=1 user=u password=" + secretPassword + " dbname=x sslmode=bogus",
		"host=127.0.0.1 port=1 user=u password='with space " + secretPassword + "' dbname=x",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		db, err := openPostgres(ctx, dsn, func(c *postgres.Config) { c.Options = *run.opts() })
		cancel()
		if err == nil {
			db.Close()
			t.Errorf("postgres.Open(dsn %d) succeeded against nothing", i)
			continue
		}
		run.keep(fmt.Sprintf("unreachable dsn %d", i), err)
	}

	// A token is fetched, then the connection fails: the token must not
	// surface in the connection error.
	cred := &fakeCredential{ttl: time.Hour}
	for i, u := range []string{"postgres://u@127.0.0.1:1/x", "postgres://u@" + hole + "/x?connect_timeout=1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		db, err := openPostgres(ctx, u, func(c *postgres.Config) {
			c.Options = *run.opts()
			c.TokenCredential = cred
		})
		cancel()
		if err == nil {
			db.Close()
			t.Errorf("Open(%s) with a token succeeded against nothing", u)
			continue
		}
		run.keep(fmt.Sprintf("unreachable url %d with token", i), err)
		if !errors.Is(err, persist.ErrUnavailable) {
			t.Errorf("Open(%s) with a token = %v, want ErrUnavailable", u, err)
		}
	}
	if cred.calls.Load() == 0 {
		t.Errorf("the token credential was never asked for a token")
	}

	// The credential itself fails.
	failing := &fakeCredential{ttl: time.Hour}
	failing.fail.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := openPostgres(ctx, "postgres://u@127.0.0.1:1/x", func(c *postgres.Config) {
		c.Options = *run.opts()
		c.TokenCredential = failing
	})
	if err == nil {
		db.Close()
		t.Fatalf("Open with a failing credential succeeded")
	}
	run.keep("failing credential", err)
	if !errors.Is(err, persist.ErrUnavailable) {
		t.Errorf("Open with a failing credential = %v, want ErrUnavailable", err)
	}
}

// leakSQLite opens SQLite URLs with password-like parts. A password
// parameter means nothing to SQLite and must be rejected, not ignored.
func leakSQLite(t *testing.T, run *leakRun) {
	dir := t.TempDir()
	ctx := context.Background()
	rejected := []string{
		sqliteURL(filepath.Join(dir, "a.db")) + "?password=" + secretPassword,
		sqliteURL(filepath.Join(dir, "b.db")) + "?_auth_pass=" + secretPassword,
		sqliteURL(filepath.Join(dir, "c.db")) + "?token=" + secretToken,
	}
	for i, u := range rejected {
		db, err := persist.Open(ctx, u, run.opts())
		if err == nil {
			db.Close()
			t.Errorf("Open(%s) accepted a password parameter SQLite cannot use", persist.Redact(u))
			continue
		}
		run.keep(fmt.Sprintf("sqlite url %d", i), err)
		if !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("Open(%s) = %v, want ErrInvalid", persist.Redact(u), err)
		}
	}
	// Whatever these do, they must not echo the secret.
	for i, u := range []string{
		"sqlite://u:" + secretPassword + "@/" + filepath.Join(dir, "d.db"),
		"file:" + filepath.Join(dir, "e.db") + "?password=" + secretPassword,
		"sqlite://:" + secretPassword + "@:memory:",
	} {
		db, err := persist.Open(ctx, u, run.opts())
		if err != nil {
			run.keep(fmt.Sprintf("odd sqlite url %d", i), err)
			continue
		}
		db.Close()
	}
}

// exerciseServer runs successes and failures on an open server DB,
// including connections killed under it, and closes it.
func exerciseServer(t *testing.T, run *leakRun, label string, db persist.DB, base, app string) {
	t.Helper()
	ctx := context.Background()
	st, err := db.Store("secrets")
	if run.keep(label+": store", err) != nil {
		t.Fatalf("Store: %v", err)
	}
	_, err = db.Store("Bad Name")
	run.keep(label+": bad store name", err)
	if _, err := st.Put(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"v":1}`)}); run.keep(label+": put", err) != nil {
		t.Errorf("Put: %v", err)
	}
	_, err = st.Put(ctx, persist.Record{ID: "b", Data: json.RawMessage(`{"v":"\u0000"}`)})
	run.keep(label+": put invalid", err)
	_, err = st.Insert(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{}`)})
	run.keep(label+": insert conflict", err)
	_, err = st.Get(ctx, "missing")
	run.keep(label+": get missing", err)
	for _, err := range st.Query(ctx, json.RawMessage(`{"a b":1}`), nil) {
		run.keep(label+": bad filter", err)
	}
	_, err = st.UpdateFunc(ctx, "a", func(persist.Record) (json.RawMessage, error) {
		return nil, errors.New("refused by the callback")
	})
	run.keep(label+": update_func error", err)

	terminate(t, base, app)
	for i := 0; i < 3; i++ {
		_, err := st.Get(ctx, "a")
		run.keep(fmt.Sprintf("%s: get after kill %d", label, i), err)
		_, err = st.Put(ctx, persist.Record{ID: "c", Data: json.RawMessage(`{"v":2}`)})
		run.keep(fmt.Sprintf("%s: put after kill %d", label, i), err)
		terminate(t, base, app)
	}
	run.keep(label+": tx", db.Tx(ctx, func(tx persist.Tx) error {
		s, err := tx.Store("secrets")
		if err != nil {
			return err
		}
		_, err = s.Get(ctx, "a")
		terminate(t, base, app)
		if err != nil {
			return err
		}
		_, err = s.Put(ctx, persist.Record{ID: "d", Data: json.RawMessage(`{}`)})
		return err
	}))
	run.keep(label+": close", db.Close())
	_, err = st.Get(ctx, "a")
	run.keep(label+": get after close", err)
	run.keep(label+": ping after close", db.Ping(ctx))
}

// terminate ends every backend of the connections named app.
func terminate(t *testing.T, base, app string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to terminate backends: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app); err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
}

// withUser returns u with its user info replaced.
func withUser(t *testing.T, u string, user *url.Userinfo) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("PERSIST_TEST_POSTGRES is not a URL: %v", err)
	}
	p.User = user
	return p.String()
}

// leakPasswordServer connects with the password in the URL. Under trust
// authentication the server accepts it; under password authentication it
// refuses it, which is a failure path worth checking too.
func leakPasswordServer(t *testing.T, run *leakRun) {
	base := postgresBase(t)
	app := "persist_secrets_" + randomSuffix(t)
	schemaURL := postgresSchemaURL(t, base, app)
	user := "postgres"
	if p, err := url.Parse(base); err == nil && p.User != nil {
		user = p.User.Username()
	}
	u := withUser(t, schemaURL, url.UserPassword(user, secretPassword))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := persist.Open(ctx, u, run.opts())
	if err != nil {
		run.keep("password url open", err)
		if !errors.Is(err, persist.ErrUnavailable) {
			t.Fatalf("Open with a password = %v, want success or ErrUnavailable", err)
		}
		t.Logf("the server refused the password (password authentication): %v", err)
		return
	}
	exerciseServer(t, run, "password", db, base, app)
}

// leakTokenServer connects with a token credential: the token becomes the
// connection password (ignored under trust authentication). Then the
// credential fails: first while the cached token is still valid, then
// after it expired.
func leakTokenServer(t *testing.T, run *leakRun) {
	base := postgresBase(t)
	app := "persist_secrets_" + randomSuffix(t)
	schemaURL := postgresSchemaURL(t, base, app)
	user := "postgres"
	if p, err := url.Parse(base); err == nil && p.User != nil {
		user = p.User.Username()
	}
	u := withUser(t, schemaURL, url.User(user))
	const ttl = 3 * time.Second
	cred := &fakeCredential{ttl: ttl}
	ctx := context.Background()
	db, err := openPostgres(ctx, u, func(c *postgres.Config) {
		c.Options = *run.opts()
		c.TokenCredential = cred
		c.TokenRefreshBefore = time.Hour
	})
	if err != nil {
		run.keep("token open", err)
		if !errors.Is(err, persist.ErrUnavailable) {
			t.Fatalf("Open with a token = %v, want success or ErrUnavailable", err)
		}
		t.Logf("the server refused the token (password authentication): %v", err)
		return
	}
	fetched := time.Now()
	st, err := db.Store("secrets")
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	if _, err := st.Put(ctx, persist.Record{ID: "t", Data: json.RawMessage(`{}`)}); run.keep("token put", err) != nil {
		t.Errorf("Put with a token: %v", err)
	}

	// The refresh fails while the cached token is valid: connections
	// still open, and the failure is logged.
	cred.fail.Store(true)
	terminate(t, base, app)
	_, err = st.Get(ctx, "t")
	run.keep("token get with failing refresh", err)

	// The cached token has expired: new connections cannot be made.
	time.Sleep(time.Until(fetched.Add(ttl + 200*time.Millisecond)))
	terminate(t, base, app)
	_, err = st.Get(ctx, "t")
	if run.keep("token get after expiry", err) == nil {
		t.Errorf("Get succeeded after the token expired and the credential failed")
	} else if !errors.Is(err, persist.ErrUnavailable) {
		t.Errorf("Get after the token expired = %v, want ErrUnavailable", err)
	}
	_, err = st.Put(ctx, persist.Record{ID: "t2", Data: json.RawMessage(`{}`)})
	run.keep("token put after expiry", err)

	// The credential works again: a fresh token, more faults.
	cred.fail.Store(false)
	exerciseServer(t, run, "token", db, base, app)
}

// telemetryAllowed reports whether one of leakRun.telemetry's strings
// carries only what otelpersist may record: operation and table names, the
// backend, database, server, counts and sentinel names.
func telemetryAllowed(v string) bool {
	errorTypes := []string{"", "closed", "canceled", "deadline_exceeded", "invalid", "not_found", "conflict", "cursor_expired", "unavailable", "unknown_scheme", "_OTHER"}
	kind, rest, _ := strings.Cut(v, " ")
	switch kind {
	case "span":
		op, table, _ := strings.Cut(rest, " ")
		return !strings.ContainsAny(op+table, " {}\"")
	case "status":
		return slices.Contains(errorTypes, rest)
	case "event":
		return rest == "retry"
	case "metric":
		return strings.HasPrefix(rest, "db.client.") || strings.HasPrefix(rest, "persist.")
	}
	key, val, _ := strings.Cut(v, "=")
	switch key {
	case "error.type":
		return slices.Contains(errorTypes, val)
	case "persist.retry.reason":
		return slices.Contains([]string{"busy", "serialization_failure", "deadlock", "unavailable", "transient"}, val)
	case "db.system.name", "db.operation.name", "db.collection.name", "db.namespace", "server.address",
		"server.port", "db.operation.batch.size", "db.response.returned_rows", "persist.retry.attempt",
		"db.client.connection.pool.name", "db.client.connection.state":
		return !strings.ContainsAny(val, "{}\"")
	}
	return false
}

package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// fakeClock is the token cache's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeCredential hands out whatever token the test set, valid for a set
// time from the fake clock, and counts requests.
type fakeCredential struct {
	clock *fakeClock
	delay time.Duration // widens the window in which requests overlap

	mu    sync.Mutex
	token string
	ttl   time.Duration
	err   error
	calls atomic.Int64
}

func (c *fakeCredential) set(token string, ttl time.Duration, err error) {
	c.mu.Lock()
	c.token, c.ttl, c.err = token, ttl, err
	c.mu.Unlock()
}

func (c *fakeCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	if len(opts.Scopes) != 1 || opts.Scopes[0] != postgres.TokenScope {
		return azcore.AccessToken{}, errors.New("fake credential: unexpected scopes " + strings.Join(opts.Scopes, ","))
	}
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
		return azcore.AccessToken{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: c.token, ExpiresOn: c.clock.Now().Add(c.ttl)}, nil
}

// connectAll runs n transactions at once, each holding its connection until
// all have started, so the pool must open n connections.
func connectAll(tb testing.TB, db persist.DB, n int) {
	tb.Helper()
	var started sync.WaitGroup
	started.Add(n)
	errs := make(chan error, n)
	for range n {
		go func() {
			var once sync.Once
			errs <- db.Tx(tb.Context(), func(tx persist.Tx) error {
				s, err := tx.Store("items")
				if err != nil {
					return err
				}
				if _, err := s.Count(tb.Context()); err != nil {
					return err
				}
				once.Do(func() { started.Done(); started.Wait() })
				return nil
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			tb.Errorf("Tx: %v", err)
		}
	}
}

func TestTokenCredential(t *testing.T) {
	c := startCluster(t)
	mustExec(t, c.adminURL(),
		"CREATE ROLE app LOGIN PASSWORD 'token-1'",
		"CREATE SCHEMA app AUTHORIZATION app")
	clock := &fakeClock{now: time.Now()}
	cred := &fakeCredential{clock: clock, delay: 50 * time.Millisecond}
	cred.set("token-1", time.Hour, nil)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ctx := t.Context()
	db, err := openWith(ctx, c.url("app"), func(cfg *postgres.Config) {
		cfg.Logger = logger
		cfg.TokenCredential = cred
		cfg.Schema = "app"
		cfg.Pool.MaxConns = 30
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	postgres.SetTokenClock(db, clock.Now)
	s, err := db.Store("items")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "a", Data: []byte(`{"n":1}`)}); err != nil {
		t.Fatalf("Put: %v", err)
	}

	t.Run("Cached", func(t *testing.T) {
		connectAll(t, db, 20)
		if n := postgres.TokenFetches(db); n != 1 {
			t.Errorf("fetches=%v, want 1 (one token for every connection)", n)
		}
	})

	t.Run("Rotated", func(t *testing.T) {
		// The token is rotated: the server now takes only token-2, and
		// token-1 is four minutes from expiry, inside the five-minute
		// refresh window.
		mustExec(t, c.adminURL(), "ALTER ROLE app PASSWORD 'token-2'")
		cred.set("token-2", time.Hour, nil)
		clock.Advance(56 * time.Minute)
		postgres.ResetPool(db)
		connectAll(t, db, 20)
		if n := postgres.TokenFetches(db); n != 2 {
			t.Errorf("fetches=%v, want 2 (one refresh shared by 20 new connections)", n)
		}
		if _, err := s.Get(ctx, "a"); err != nil {
			t.Errorf("Get after rotation: %v", err)
		}
	})

	t.Run("RefreshFailsWhileValid", func(t *testing.T) {
		// A credential outage inside the refresh window keeps the cached,
		// still valid token in use.
		cred.set("", 0, errors.New("identity endpoint unavailable"))
		clock.Advance(56 * time.Minute)
		postgres.ResetPool(db)
		if _, err := s.Get(ctx, "a"); err != nil {
			t.Errorf("Get: %v", err)
		}
		cred.set("token-2", time.Hour, nil)
	})

	t.Run("NoSecretInLogs", func(t *testing.T) {
		for _, secret := range []string{"token-1", "token-2"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("log contains %q:\n%s", secret, logs.String())
			}
		}
	})

	t.Run("WrongToken", func(t *testing.T) {
		bad := &fakeCredential{clock: clock}
		bad.set("nope-not-the-password", time.Hour, nil)
		_, err := openWith(ctx, c.url("app"), func(cfg *postgres.Config) { cfg.TokenCredential = bad; cfg.Schema = "app" })
		wantConnError(t, err, "nope-not-the-password")
		var pe interface{ SQLState() string }
		if !errors.As(err, &pe) || pe.SQLState() != "28P01" {
			t.Errorf("err=%v, want SQLSTATE 28P01 reachable", err)
		}
	})

	t.Run("CredentialError", func(t *testing.T) {
		failing := &fakeCredential{clock: clock}
		failing.set("", 0, errors.New("managed identity endpoint refused the request"))
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := openWith(ctx, c.url("app"), func(cfg *postgres.Config) { cfg.TokenCredential = failing; cfg.Schema = "app" })
		wantConnError(t, err, "token-1", "token-2")
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err=%v; want the credential's failure, not the deadline", err)
		}
		if !strings.Contains(err.Error(), "managed identity endpoint refused the request") {
			t.Errorf("err=%v; want the credential's message", err)
		}
	})

	t.Run("PasswordInURLOptsOut", func(t *testing.T) {
		unused := &fakeCredential{clock: clock}
		unused.set("", 0, errors.New("must not be called"))
		var logs bytes.Buffer
		u := strings.Replace(c.url("app"), "app@", "app:token-2@", 1)
		db, err := openWith(ctx, u, func(cfg *postgres.Config) {
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			cfg.TokenCredential = unused
			cfg.Schema = "app"
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer db.Close()
		if err := db.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
		if n := unused.calls.Load(); n != 0 {
			t.Errorf("credential called %v times, want 0", n)
		}
		if !strings.Contains(logs.String(), "not using the token credential") {
			t.Errorf("log=%q, want a note that the token credential is not used", logs.String())
		}
		if strings.Contains(logs.String(), "token-2") {
			t.Errorf("log contains the password: %s", logs.String())
		}
	})

	t.Run("WrongPasswordInURL", func(t *testing.T) {
		u := strings.Replace(c.url("app"), "app@", "app:wrong-password-123@", 1)
		_, err := postgres.Open(ctx, u)
		wantConnError(t, err, "wrong-password-123")
	})

	// POSTGRES_USE_MANAGED_IDENTITY: outside Azure DefaultAzureCredential
	// finds no identity, so Open must fail with a ConnError quickly, not
	// hang and not connect without a token.
	t.Run("ManagedIdentityEnv", func(t *testing.T) {
		t.Run("ErrInvalid", func(t *testing.T) {
			t.Setenv(postgres.EnvManagedIdentity, "maybe")
			_, err := postgres.Open(t.Context(), c.url("app"))
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("err=%v, want ErrInvalid", err)
			}
		})
		t.Run("False", func(t *testing.T) {
			t.Setenv(postgres.EnvManagedIdentity, "false")
			_, err := postgres.Open(t.Context(), c.url("app"))
			wantConnError(t, err) // no token, no password: the server refuses
		})
		t.Run("NoIdentity", func(t *testing.T) {
			t.Setenv(postgres.EnvManagedIdentity, "true")
			for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"} {
				t.Setenv(k, "")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := postgres.Open(ctx, c.url("app"))
			t.Logf("failed after %v", time.Since(start))
			wantConnError(t, err, "token-1")
		})
	})
}

// wantConnError checks that err is a *persist.ConnError matching
// ErrUnavailable whose message contains none of secrets.
func wantConnError(tb testing.TB, err error, secrets ...string) {
	tb.Helper()
	tb.Logf("err=%v", err)
	var ce *persist.ConnError
	if !errors.As(err, &ce) {
		tb.Fatalf("err=%v (%T), want *persist.ConnError", err, err)
	}
	if !errors.Is(err, persist.ErrUnavailable) {
		tb.Errorf("err=%v does not match ErrUnavailable", err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			tb.Errorf("error message contains secret %q: %v", s, err)
		}
	}
}

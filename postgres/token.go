package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/sync/singleflight"
)

// TokenScope is the OAuth scope of Microsoft Entra access tokens for Azure
// Database for PostgreSQL.
const TokenScope = "https://ossrdbms-aad.database.windows.net/.default"

// EnvManagedIdentity is the environment variable that, when true, makes
// [OpenConfig] authenticate with azidentity's DefaultAzureCredential if
// [Config.TokenCredential] is nil.
const EnvManagedIdentity = "POSTGRES_USE_MANAGED_IDENTITY"

// DefaultTokenRefreshBefore is how long before expiry a cached token is
// replaced when [Config.TokenRefreshBefore] is zero.
const DefaultTokenRefreshBefore = 5 * time.Minute

// tokenSource caches one access token for the pool's BeforeConnect hook.
// Connections that find a token outside the refresh window read it under a
// read lock and never wait; when a refresh is due, singleflight makes the
// connections that need it share one request to the credential.
type tokenSource struct {
	before time.Duration
	now    atomic.Pointer[func() time.Time] // replaced only by tests
	log    *slog.Logger

	mu   sync.RWMutex
	cred azcore.TokenCredential // nil once released
	tok  azcore.AccessToken

	group   singleflight.Group
	fetches atomic.Int64
}

func newTokenSource(cred azcore.TokenCredential, before time.Duration, log *slog.Logger) *tokenSource {
	if before <= 0 {
		before = DefaultTokenRefreshBefore
	}
	s := &tokenSource{cred: cred, before: before, log: log}
	now := time.Now
	s.now.Store(&now)
	return s
}

// credentialFromEnv returns DefaultAzureCredential when EnvManagedIdentity
// is set to a true value, and nil when it is unset or false.
func credentialFromEnv() (azcore.TokenCredential, error) {
	v := os.Getenv(EnvManagedIdentity)
	if v == "" {
		return nil, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q is not a boolean", EnvManagedIdentity, v)
	}
	if !on {
		return nil, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, &tokenError{err}
	}
	return cred, nil
}

// token returns a token that is valid now, fetching one if the cached token
// is missing or inside the refresh window. If a refresh fails while the
// cached token has not yet expired, the cached token is used and the
// failure logged, so a credential outage shorter than the refresh window
// costs nothing.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	now := (*s.now.Load())()
	s.mu.RLock()
	tok, cred := s.tok, s.cred
	s.mu.RUnlock()
	if cred == nil {
		return "", &tokenError{errors.New("token credential released")}
	}
	if tok.Token != "" && tok.ExpiresOn.Sub(now) > s.before {
		return tok.Token, nil
	}
	for attempt := 0; ; attempt++ {
		v, err, _ := s.group.Do("token", func() (any, error) { return s.fetch(ctx) })
		if err == nil {
			return v.(string), nil
		}
		// The shared fetch ran under another caller's context; if that
		// caller gave up, this one has not, so try once on its own.
		if attempt == 0 && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue
		}
		if tok.Token != "" && tok.ExpiresOn.After(now) && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "persist: access token refresh failed; using the cached token until it expires",
				slog.Time("expires", tok.ExpiresOn), slog.String("error", err.Error()))
			return tok.Token, nil
		}
		return "", err
	}
}

func (s *tokenSource) fetch(ctx context.Context) (string, error) {
	now := (*s.now.Load())()
	s.mu.RLock()
	tok, cred := s.tok, s.cred
	s.mu.RUnlock()
	if tok.Token != "" && tok.ExpiresOn.Sub(now) > s.before { // another flight just finished
		return tok.Token, nil
	}
	if cred == nil {
		return "", &tokenError{errors.New("token credential released")}
	}
	s.fetches.Add(1)
	got, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{TokenScope}})
	if err != nil {
		return "", &tokenError{err}
	}
	if got.Token == "" {
		return "", &tokenError{errors.New("credential returned an empty token")}
	}
	s.mu.Lock()
	s.tok = got
	s.mu.Unlock()
	s.log.LogAttrs(ctx, slog.LevelDebug, "persist: fetched access token", slog.Time("expires", got.ExpiresOn))
	return got.Token, nil
}

// current returns the cached token, for scrubbing it from messages.
func (s *tokenSource) current() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tok.Token
}

// release drops the credential and the cached token.
func (s *tokenSource) release() {
	s.mu.Lock()
	s.cred = nil
	s.tok = azcore.AccessToken{}
	s.mu.Unlock()
}

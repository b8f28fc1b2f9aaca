package persist_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

func TestOpenUnknownScheme(t *testing.T) {
	tests := []struct {
		url, wantMsg string
	}{
		{"mysql://u:s3cret@host/db", `unknown scheme "mysql": no backend provides it`},
		{"redis://localhost", `unknown scheme "redis"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			db, err := persist.Open(context.Background(), tt.url, nil)
			if db != nil {
				t.Fatal("db != nil, want nil")
			}
			if !errors.Is(err, persist.ErrUnknownScheme) {
				t.Fatalf("err=%v, want ErrUnknownScheme", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err=%q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err=%q leaks the password", err)
			}
		})
	}
}

func TestOpenInvalidURL(t *testing.T) {
	for _, url := range []string{"", "no-scheme-here", ":memory:", "1sqlite://x", "sq lite://x"} {
		t.Run(url, func(t *testing.T) {
			_, err := persist.Open(context.Background(), url, nil)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("err=%v, want ErrInvalid", err)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	called := false
	persist.Register("persisttestscheme", func(ctx context.Context, url string, opts *persist.Options) (persist.DB, error) {
		called = true
		return nil, errors.New("opened " + url)
	})
	_, err := persist.Open(context.Background(), "PersistTestScheme://x", nil)
	if !called || err == nil || err.Error() != "opened PersistTestScheme://x" {
		t.Errorf("called=%v err=%v, want the registered opener called with the URL", called, err)
	}
	found := false
	for _, s := range persist.Schemes() {
		found = found || s == "persisttestscheme"
	}
	if !found {
		t.Errorf("Schemes()=%v, want it to include persisttestscheme", persist.Schemes())
	}
	defer func() {
		if recover() == nil {
			t.Error("second Register did not panic")
		}
	}()
	persist.Register("persisttestscheme", func(context.Context, string, *persist.Options) (persist.DB, error) { return nil, nil })
}

func TestRetryPolicyWithDefaults(t *testing.T) {
	var nilPolicy *persist.RetryPolicy
	if got := nilPolicy.WithDefaults(); got != persist.DefaultRetryPolicy {
		t.Errorf("nil.WithDefaults()=%+v, want %+v", got, persist.DefaultRetryPolicy)
	}
	p := &persist.RetryPolicy{MaxAttempts: 1}
	got := p.WithDefaults()
	if got.MaxAttempts != 1 || got.BaseDelay != persist.DefaultRetryPolicy.BaseDelay || got.MaxDelay != persist.DefaultRetryPolicy.MaxDelay {
		t.Errorf("WithDefaults()=%+v, want MaxAttempts 1 and default delays", got)
	}
}

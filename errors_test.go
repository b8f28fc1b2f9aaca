package persist_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

func TestError(t *testing.T) {
	tests := []struct {
		name string
		err  *persist.Error
		want string
	}{
		{"TableAndID", &persist.Error{Op: "get", Table: "users", ID: "42", Err: persist.ErrNotFound}, "persist: get users/42: not found"},
		{"TableOnly", &persist.Error{Op: "count", Table: "users", Err: persist.ErrClosed}, "persist: count users: database is closed"},
		{"IDOnly", &persist.Error{Op: "put", ID: "a b", Err: persist.ErrInvalid}, `persist: put "a b": invalid input`},
		{"LongID", &persist.Error{Op: "get", Table: "t", ID: strings.Repeat("x", 10000), Err: persist.ErrInvalid}, "persist: get t/\"" + strings.Repeat("x", 64) + "\"...: invalid input"},
		{"ControlChars", &persist.Error{Op: "get", Table: "t", ID: "a\nb", Err: persist.ErrInvalid}, `persist: get t/"a\nb": invalid input`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error()=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	driver := errors.New("driver says no")
	err := error(&persist.Error{Op: "insert", Table: "t", ID: "1", Err: fmt.Errorf("%w: %w", persist.ErrConflict, driver)})
	if !errors.Is(err, persist.ErrConflict) {
		t.Error("errors.Is(err, ErrConflict)=false, want true")
	}
	if !errors.Is(err, driver) {
		t.Error("errors.Is(err, driver)=false, want true")
	}
	var pe *persist.Error
	if !errors.As(err, &pe) || pe.Table != "t" || pe.ID != "1" {
		t.Errorf("errors.As=%+v, want table t id 1", pe)
	}
}

func TestConnError(t *testing.T) {
	cause := errors.New("connection refused")
	err := error(&persist.ConnError{Op: "open", URL: persist.Redact("postgres://u:hunter2@db/x"), Err: cause})
	if !errors.Is(err, persist.ErrUnavailable) {
		t.Error("errors.Is(err, ErrUnavailable)=false, want true")
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is(err, cause)=false, want true")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Error()=%q leaks the password", err)
	}
	if want := "persist: open postgres://u:xxxxx@db/x: database unavailable: connection refused"; err.Error() != want {
		t.Errorf("Error()=%q, want %q", err, want)
	}
}

type transientErr struct{ t bool }

func (e transientErr) Error() string   { return "busy" }
func (e transientErr) Transient() bool { return e.t }

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"Nil", nil, false},
		{"Plain", errors.New("x"), false},
		{"Marked", transientErr{true}, true},
		{"MarkedFalse", transientErr{false}, false},
		{"Wrapped", &persist.Error{Op: "get", Err: fmt.Errorf("wrap: %w", transientErr{true})}, true},
		{"Sentinel", persist.ErrNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := persist.IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient=%v, want %v", got, tt.want)
			}
		})
	}
}

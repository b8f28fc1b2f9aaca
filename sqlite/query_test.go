package sqlite_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/persistkit/persist"
)

func TestQuery_ExactValues(t *testing.T) {
	ctx := context.Background()
	s := MustStore(t, MustOpen(t), "docs")
	for _, r := range []struct{ id, data string }{
		{"big0", `{"n":12345678901234567890}`},
		{"big1", `{"n":12345678901234567891}`},
		{"int", `{"n":1}`},
		{"dec", `{"n":1.0}`},
		{"exp", `{"n":1e0}`},
		{"str", `{"n":"1"}`},
		{"true", `{"n":true}`},
		{"null", `{"n":null}`},
		{"missing", `{"m":1}`},
		{"negzero", `{"n":-0.0}`},
		{"huge", `{"n":1e400}`},
		{"esc", `{"n":"\u0041b"}`},
	} {
		MustPut(t, s, r.id, r.data)
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{`{"n":12345678901234567890}`, []string{"big0"}},
		{`{"n":12345678901234567891}`, []string{"big1"}},
		{`{"n":1}`, []string{"int", "dec", "exp"}},
		{`{"n":1.000}`, []string{"int", "dec", "exp"}},
		{`{"n":10e-1}`, []string{"int", "dec", "exp"}},
		{`{"n":"1"}`, []string{"str"}},
		{`{"n":true}`, []string{"true"}},
		{`{"n":false}`, nil},
		{`{"n":null}`, []string{"null"}},
		{`{"n":0}`, []string{"negzero"}},
		{`{"n":1E+400}`, []string{"huge"}},
		{`{"n":"Ab"}`, []string{"esc"}},
		{`{"n":"\u0041b"}`, []string{"esc"}},
		{`{}`, []string{"big0", "big1", "int", "dec", "exp", "str", "true", "null", "missing", "negzero", "huge", "esc"}},
		{`{"n":1,"m":1}`, nil},
		{`{"m":1}`, []string{"missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := IDs(t, s.Query(ctx, []byte(tt.filter), nil)); !slices.Equal(got, tt.want) {
				t.Fatalf("Query=%v, want %v", got, tt.want)
			}
		})
	}
}

func TestQuery_ErrInvalid(t *testing.T) {
	ctx := context.Background()
	s := MustStore(t, MustOpen(t), "docs")
	for _, f := range []string{`{"n":[1]}`, `{"n":{}}`, `[]`, `{"bad key":1}`, `{"n":1,"n":2}`, `{"n":"\u0000"}`, ``} {
		t.Run(f, func(t *testing.T) {
			for _, err := range s.Query(ctx, []byte(f), nil) {
				if !errors.Is(err, persist.ErrInvalid) {
					t.Fatalf("err=%v, want ErrInvalid", err)
				}
				return
			}
			t.Fatal("Query yielded nothing, want an error")
		})
	}
}

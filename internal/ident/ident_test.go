package ident_test

import (
	"strings"
	"testing"

	"github.com/persistkit/persist/internal/ident"
)

func TestTable(t *testing.T) {
	valid := []string{"a", "_", "users", "pipeline_runs", "t1", strings.Repeat("a", 63)}
	invalid := []string{"", "Users", "1abc", "a-b", "a b", `x"; DROP TABLE y; --`, strings.Repeat("a", 64),
		"sqlite_master", "pg_class", "persist_meta", "é", "a\x00"}
	for _, n := range valid {
		if err := ident.Table(n); err != nil {
			t.Errorf("Table(%q)=%v, want nil", n, err)
		}
	}
	for _, n := range invalid {
		if err := ident.Table(n); err == nil {
			t.Errorf("Table(%q)=nil, want an error", n)
		}
	}
}

func TestID(t *testing.T) {
	valid := []string{"", "1", "src-1", "a b", "日本", "x/y", "a\nb", "\x7f", "a\u0085", "\t", strings.Repeat("a", ident.MaxIDLen), strings.Repeat("é", ident.MaxIDLen/2)}
	invalid := []string{strings.Repeat("a", ident.MaxIDLen+1), "a\x00b", "\x00", "\xff", "a\xc3", strings.Repeat("é", ident.MaxIDLen/2) + "a"}
	for _, id := range valid {
		if err := ident.ID(id); err != nil {
			t.Errorf("ID(%q)=%v, want nil", id, err)
		}
	}
	for _, id := range invalid {
		if err := ident.ID(id); err == nil {
			t.Errorf("ID(%q)=nil, want an error", id)
		}
	}
}

func TestFilterKey(t *testing.T) {
	valid := []string{"n", "Name", "_x", "a-b", "a1"}
	invalid := []string{"", "1a", "-a", "a.b", `a"b`, "a b", "$", strings.Repeat("k", 129)}
	for _, k := range valid {
		if err := ident.FilterKey(k); err != nil {
			t.Errorf("FilterKey(%q)=%v, want nil", k, err)
		}
	}
	for _, k := range invalid {
		if err := ident.FilterKey(k); err == nil {
			t.Errorf("FilterKey(%q)=nil, want an error", k)
		}
	}
}

func TestQuote(t *testing.T) {
	if got, want := ident.Quote(`a"b`), `"a""b"`; got != want {
		t.Errorf("Quote=%s, want %s", got, want)
	}
}

func TestNewID(t *testing.T) {
	a, b := ident.NewID(), ident.NewID()
	if len(a) != 36 || a == b || a > b {
		t.Errorf("NewID gave %q then %q, want distinct increasing UUIDs", a, b)
	}
}

func FuzzTable(f *testing.F) {
	for _, s := range []string{"users", `x"; DROP TABLE y; --`, "", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ident.Table(name) != nil {
			return
		}
		// An accepted name needs no quoting beyond the quotes themselves:
		// it can never close the identifier or start a comment.
		if strings.ContainsAny(name, "\"';-\\ \x00") {
			t.Errorf("Table accepted %q", name)
		}
		if q := ident.Quote(name); q != `"`+name+`"` {
			t.Errorf("Quote(%q)=%s", name, q)
		}
	})
}

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		url    string
		path   string
		memory bool
	}{
		{"relative.db", "relative.db", false},
		{"/abs/path.db", "/abs/path.db", false},
		{":memory:", "", true},
		{`C:\data\app.db`, `C:\data\app.db`, false},
		{"sqlite:///relative.db", "relative.db", false},
		{"sqlite:///dir/sub/relative.db", "dir/sub/relative.db", false},
		{"sqlite:////abs/path.db", "/abs/path.db", false},
		{"SQLITE:////abs/path.db", "/abs/path.db", false},
		{"sqlite://:memory:", "", true},
		{"sqlite::memory:", "", true},
		{"sqlite:///:memory:", "", true},
		{"sqlite://", "", true},
		{"sqlite:rel.db", "rel.db", false},
		{"file:path.db", "path.db", false},
		{"file:/abs/path.db", "/abs/path.db", false},
		{"file:///abs/path.db", "/abs/path.db", false},
		{"file://localhost/abs/path.db", "/abs/path.db", false},
		{"file::memory:", "", true},
		{"file:my%20db.db", "my db.db", false},
		{"sqlite:////abs/path.db?busy_timeout=100", "/abs/path.db", false},
		{"file:x.db?busy_timeout=2s&max_readers=8", "x.db", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			cfg, err := sqlite.ParseConfig(tt.url)
			if err != nil {
				t.Fatalf("err=%v", err)
			}
			want := tt.path
			if tt.memory {
				want = sqlite.MemoryPath
			}
			if cfg.Path != want {
				t.Fatalf("Path=%q, want %q", cfg.Path, want)
			}
			// String is a URL that reads back into the same Config.
			again, err := sqlite.ParseConfig(cfg.String())
			if err != nil || *again != *cfg {
				t.Fatalf("ParseConfig(%q)=%v, %v; want %v", cfg.String(), again, err, cfg)
			}
		})
	}
}

func TestParseConfig_ErrInvalid(t *testing.T) {
	tests := []struct {
		url  string
		want string // in the message
	}{
		{"sqlite:///x.db?journal=wal", `"journal"`},
		{"sqlite:///x.db?busy_timeout=soon", "busy_timeout"},
		{"sqlite:///x.db?busy_timeout=-1", "busy_timeout"},
		{"sqlite:///x.db?max_readers=0", "max_readers"},
		{"sqlite:///x.db?id_field=a.b", "id field"},
		{"sqlite:///x.db?id_field=", "id field"},
		{"sqlite:///x.db?id_field=" + strings.Repeat("k", 129), "id field"},
		{"sqlite:///x.db?busy_timeout=1&busy_timeout=2", "busy_timeout"},
		{"sqlite://host/x.db", "host"},
		{"file://elsewhere/x.db", "host"},
		{"sqlite:///", "no database path"},
		{"file:", "no database path"},
		{"sqlite:///x%zz.db", "escape"},
		{"sqlite:///x.db#frag", "fragment"},
		{"postgres://x/y", "scheme"},
		{"mysql://u:pw@h/db", "scheme"},
		{"", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := sqlite.ParseConfig(tt.url)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("err=%v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want it to mention %s", err, tt.want)
			}
		})
	}
}

func TestParseConfig_RedactsSecrets(t *testing.T) {
	_, err := sqlite.ParseConfig("sqlite:///x.db?password=hunter2")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err=%v, want an error without the password", err)
	}
}

func TestParseConfig_Defaults(t *testing.T) {
	cfg, err := sqlite.ParseConfig("app.db")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BusyTimeout != 5*time.Second || cfg.MaxReaders < 4 || cfg.ReadOnly {
		t.Errorf("ParseConfig(app.db)=%v, want busy_timeout 5s, max_readers >= 4, read-write", cfg)
	}
	cfg, err = sqlite.ParseConfig("sqlite:///app.db?busy_timeout=100&max_readers=2&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BusyTimeout != 100*time.Millisecond || cfg.MaxReaders != 2 || !cfg.ReadOnly {
		t.Errorf("ParseConfig with parameters=%v, want them", cfg)
	}
}

// TestOpenConfig_CodeWins checks the one precedence rule: the URL is read
// first, and edits to the Config win.
func TestOpenConfig_CodeWins(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wins.db")
	cfg, err := sqlite.ParseConfig("sqlite:///" + path + "?busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BusyTimeout = 250 * time.Millisecond
	db, err := sqlite.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for conn, p := range sqlite.ConnPragmas(t, db) {
		if p["busy_timeout"] != 250 {
			t.Errorf("%s: busy_timeout=%v, want 250 (the edit, not the URL's 100)", conn, p["busy_timeout"])
		}
	}
	if cfg.BusyTimeout != 250*time.Millisecond || cfg.Path != path {
		t.Errorf("OpenConfig changed its Config: %v", cfg)
	}
}

func TestOpenConfig_ErrInvalid(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for name, cfg := range map[string]*sqlite.Config{
		"Nil":                nil,
		"NoPath":             {},
		"NUL":                {Path: filepath.Join(dir, "a\x00b.db")},
		"NegativeBusy":       {Path: filepath.Join(dir, "b.db"), BusyTimeout: -time.Second},
		"NegativeMaxReaders": {Path: filepath.Join(dir, "c.db"), MaxReaders: -1},
		"MemoryReadOnly":     {Path: sqlite.MemoryPath, ReadOnly: true},
	} {
		t.Run(name, func(t *testing.T) {
			db, err := sqlite.OpenConfig(ctx, cfg)
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("OpenConfig(%v) err=%v, want ErrInvalid", cfg, err)
			}
		})
	}
}

// TestOpenConfig_ZeroMeansDefault opens a hand-made Config: zero fields
// are their defaults.
func TestOpenConfig_ZeroMeansDefault(t *testing.T) {
	db, err := sqlite.OpenConfig(context.Background(), &sqlite.Config{Path: filepath.Join(t.TempDir(), "zero.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := sqlite.ConnPragmas(t, db)["writer"]["busy_timeout"]; got != 5000 {
		t.Errorf("busy_timeout=%v, want 5000", got)
	}
}

func ExampleParseConfig() {
	cfg, err := sqlite.ParseConfig("sqlite:///data/app.db?busy_timeout=2s")
	if err != nil {
		panic(err)
	}
	cfg.MaxReaders = 8 // code decides; the URL's settings stay unless changed
	fmt.Println(cfg)
	// Output: sqlite:///data/app.db?busy_timeout=2s&max_readers=8
}

// TestOpen_DeprecatedOptions checks that Open still takes the deprecated
// Options until they go, and applies them after the URL.
func TestOpen_DeprecatedOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sqlite.Open(context.Background(), "sqlite:///"+path+"?busy_timeout=100", &sqlite.Options{BusyTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := sqlite.ConnPragmas(t, db)["writer"]["busy_timeout"]; got != 300 {
		t.Errorf("busy_timeout=%v, want the Options' 300", got)
	}
	if p, memory, err := sqlite.ParseURL("sqlite:///" + path); err != nil || memory || p != path {
		t.Errorf("ParseURL=%q, %v, %v; want %q", p, memory, err, path)
	}
}

func TestConfig_IDField(t *testing.T) {
	cfg, err := sqlite.ParseConfig("sqlite:///x.db?id_field=" + strings.Repeat("k", 128))
	if err != nil || cfg.IDField != strings.Repeat("k", 128) {
		t.Fatalf("ParseConfig with a 128-byte id_field=%v, %v", cfg, err)
	}
	cfg.Path = filepath.Join(t.TempDir(), "x.db")
	cfg.IDField = "has space"
	if _, err := sqlite.OpenConfig(t.Context(), cfg); !errors.Is(err, persist.ErrInvalid) {
		t.Fatalf("OpenConfig with IDField %q: err=%v, want ErrInvalid", cfg.IDField, err)
	}
	// Code wins over the URL field by field: Options without an IDField
	// keep the URL's.
	db, err := persist.Open(t.Context(), "sqlite:///"+filepath.Join(t.TempDir(), "y.db")+"?id_field=id", &persist.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Store("t")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Put(t.Context(), persist.Record{ID: "a", Data: []byte(`{}`)})
	if err != nil || string(rec.Data) != `{"id":"a"}` {
		t.Fatalf("Put=%s, %v; want the id field from the URL", rec.Data, err)
	}
}

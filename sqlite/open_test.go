package sqlite_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url    string
		path   string
		memory bool
	}{
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
			path, memory, err := sqlite.ParseURL(tt.url)
			if err != nil {
				t.Fatalf("err=%v", err)
			}
			if path != tt.path || memory != tt.memory {
				t.Fatalf("ParseURL=(%q, %v), want (%q, %v)", path, memory, tt.path, tt.memory)
			}
		})
	}
}

func TestParseURL_ErrInvalid(t *testing.T) {
	tests := []struct {
		url  string
		want string // in the message
	}{
		{"sqlite:///x.db?journal=wal", `"journal"`},
		{"sqlite:///x.db?busy_timeout=soon", "busy_timeout"},
		{"sqlite:///x.db?busy_timeout=-1", "busy_timeout"},
		{"sqlite:///x.db?max_readers=0", "max_readers"},
		{"sqlite:///x.db?busy_timeout=1&busy_timeout=2", "busy_timeout"},
		{"sqlite://host/x.db", "host"},
		{"file://elsewhere/x.db", "host"},
		{"sqlite:///", "no database path"},
		{"file:", "no database path"},
		{"sqlite:///x%zz.db", "escape"},
		{"sqlite:///x.db#frag", "fragment"},
		{"postgres://x/y", "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, _, err := sqlite.ParseURL(tt.url)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("err=%v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want it to mention %s", err, tt.want)
			}
		})
	}
}

func TestParseURL_RedactsSecrets(t *testing.T) {
	_, _, err := sqlite.ParseURL("sqlite:///x.db?password=hunter2")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err=%v, want an error without the password", err)
	}
}

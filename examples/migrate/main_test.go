package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), &out, dir, "sqlite:///"+filepath.Join(dir, "target.db")); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"first run: read 3, inserted 3, skipped 0, mismatches 0",
		"second run: read 3, inserted 0, skipped 3, mismatches 0",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
	start, end := strings.Index(got, "{"), strings.LastIndex(got, "}")
	var report map[string]any
	if start < 0 || json.Unmarshal([]byte(got[start:end+1]), &report) != nil || report["totals"] == nil {
		t.Fatalf("output lacks the JSON report:\n%s", got)
	}
}

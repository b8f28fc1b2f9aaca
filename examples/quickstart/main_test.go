package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	t.Setenv("DATABASE_URL", "") // the embedded SQLite path, whatever the environment says
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"put src-lake (revision 1)",
		"get src-missing: not found, as expected",
		"modified src-lake 3 times: reads=3 revision=4",
		"enabled sources: src-lake src-events",
		"count: 3",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

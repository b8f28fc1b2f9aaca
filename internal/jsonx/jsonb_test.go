package jsonx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist/internal/jsonx"
	"github.com/persistkit/persist/internal/pgtest"
)

// jsonbCases pair JSON with the text PostgreSQL prints once it is stored as
// jsonb; TestJSONBTextMatchesPostgreSQL checks every one against a server.
var jsonbCases = []struct{ in, want string }{
	{`{}`, `{}`},
	{`[]`, `[]`},
	{`{"b":1,"a":[1,2,{}],"ab":null,"c":true}`, `{"a": [1, 2, {}], "b": 1, "c": true, "ab": null}`},
	{`{"z":1,"a":2,"z":3}`, `{"a": 2, "z": 3}`},
	{` { "k" : [ ] , "j" : { } } `, `{"j": {}, "k": []}`},
	{`{"é":1,"z":2,"zz":3}`, `{"z": 2, "zz": 3, "é": 1}`},
	{`{"\u0061":1,"a":2}`, `{"a": 2}`},
	{`["\u00e9\/\t\"\\\b\f\n\r\u001f\u007f","\ud83d\ude00","日本"]`, `["é/\t\"\\\b\f\n\r\u001f` + "\u007f" + `", "😀", "日本"]`},
	{`[0,-0,0.0,-0.0,1,-1,1.10,-0.5,0.000]`, `[0, 0, 0.0, 0.0, 1, -1, 1.10, -0.5, 0.000]`},
	{`[1e2,1E+2,1.5e1,1.50e1,15e-1,100e-2,1e-2,-2.5E-3,0.1e1,0e5,-0e-3]`, `[100, 100, 15, 15.0, 1.5, 1.00, 0.01, -0.0025, 1, 0, 0.000]`},
	{`[12345678901234567890,-98765432109876543210.000]`, `[12345678901234567890, -98765432109876543210.000]`},
	{`{"pipeline":"ingest-orders","run":175456,"cost":{"usd":320.02},"tags":["prod","nightly"]}`,
		`{"run": 175456, "cost": {"usd": 320.02}, "tags": ["prod", "nightly"], "pipeline": "ingest-orders"}`},
	{`"s"`, `"s"`},
	{`1e64`, `1` + "0000000000000000000000000000000000000000000000000000000000000000"},
}

func TestJSONBText(t *testing.T) {
	for _, tt := range jsonbCases {
		got, ok := jsonx.JSONBText(nil, []byte(tt.in))
		if !ok || string(got) != tt.want {
			t.Errorf("JSONBText(%s) = %s, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
	// Not derived: the caller falls back to digests.
	for _, in := range []string{`[1e65]`, `{"n":1e-400}`, `{"a":`, `{"a":"\u0000"}`, ``} {
		if got, ok := jsonx.JSONBText([]byte("x"), []byte(in)); ok || string(got) != "x" {
			t.Errorf("JSONBText(%s) = %q, %v; want dst unchanged and false", in, got, ok)
		}
	}
	// dst is appended to, and Digest, sharing the scratch buffers, is
	// unaffected.
	d0, _ := jsonx.Digest([]byte(`{"b":1,"a":2}`))
	got, ok := jsonx.JSONBText([]byte("prefix:"), []byte(`{"b":1,"a":2}`))
	d1, _ := jsonx.Digest([]byte(`{"b":1,"a":2}`))
	if !ok || string(got) != `prefix:{"a": 2, "b": 1}` || d0 != d1 {
		t.Errorf("JSONBText appended %q, %v; digests %x, %x", got, ok, d0, d1)
	}
	buf, doc := make([]byte, 0, 1024), []byte(pipelineDocs[0])
	// The race detector makes sync.Pool drop some of what is put back.
	if n := testing.AllocsPerRun(100, func() { jsonx.JSONBText(buf, doc) }); n != 0 && !raceEnabled {
		t.Errorf("JSONBText allocated %v times per run", n)
	}
}

// TestJSONBTextMatchesPostgreSQL stores every case, every valid document of
// JSONTestSuite and the benchmark's documents as jsonb and checks that the
// server prints exactly JSONBText's bytes whenever JSONBText derives them.
func TestJSONBTextMatchesPostgreSQL(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var docs []string
	for _, tt := range jsonbCases {
		docs = append(docs, tt.in)
	}
	for _, f := range suiteFiles(t, "y_") {
		if jsonx.Validate(f.data) == nil {
			docs = append(docs, string(f.data))
		}
	}
	docs = append(docs, pipelineDocs...)
	derived := 0
	for _, doc := range docs {
		want, ok := jsonx.JSONBText(nil, []byte(doc))
		if !ok {
			continue
		}
		derived++
		var got string
		if err := conn.QueryRow(ctx, "SELECT $1::jsonb::text", doc).Scan(&got); err != nil {
			t.Fatalf("PostgreSQL rejects %q: %v", doc, err)
		}
		if got != string(want) {
			t.Errorf("jsonb of %q prints\n%s\nJSONBText gives\n%s", doc, got, want)
		}
	}
	if derived < len(docs)-5 {
		t.Errorf("JSONBText derived only %d of %d documents", derived, len(docs))
	}
}

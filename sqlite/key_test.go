package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/persistkit/persist/internal/query"
	"github.com/persistkit/persist/internal/sqlitetest"
)

// keyValues are JSON values in every spelling a field can hold: numbers
// with and without exponents, signs, leading and trailing zeros, beyond
// int64 and float64; strings with escapes and multibyte text; every other
// type. Random ones follow the fixed cases.
func keyValues(n int) []string {
	vals := []string{
		`0`, `-0`, `0.0`, `-0.000`, `0e5`, `0E-7`, `1`, `-1`, `10`, `100`, `1e2`, `1E+2`, `1e-0002`, `100.000`,
		`0.001`, `1.5`, `-1.5`, `15e-1`, `0.15e1`, `12345678901234567890`, `12345678901234567891`,
		`-12345678901234567890`, `1.10`, `1.1`, `9007199254740993`, `9007199254740993.0`,
		`1e400`, `-1e400`, `1e-400`, `-1e-400`, `123456789012345678901234567890e-10`,
		`1e999999999999999999999`, `1e-999999999999999999999`, `-2e1000000000000001`,
		`""`, `"a"`, `"ab"`, `"a\u0000b"`, `"\u00e9"`, `"é"`, `"\ud83d\ude00"`, `"😀"`, `"\"\\\/\b\f\n\r\t"`,
		`"z"`, `"日本"`, `null`, `true`, `false`, `[]`, `[1,2]`, `{}`, `{"a":1}`,
	}
	r := rand.New(rand.NewPCG(14, 14))
	digits := func(k int) string {
		var b strings.Builder
		for range k {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	for len(vals) < n {
		var v string
		if r.IntN(2) == 0 {
			v = "-"
		}
		ip := digits(1 + r.IntN(22))
		ip = strings.TrimLeft(ip, "0")
		if ip == "" {
			ip = "0"
		}
		v += ip
		if r.IntN(2) == 0 {
			v += "." + digits(1+r.IntN(20))
		}
		if r.IntN(3) == 0 {
			v += []string{"e", "E"}[r.IntN(2)] + []string{"", "+", "-"}[r.IntN(3)] + digits(1+r.IntN(3))
		}
		vals = append(vals, v)
	}
	return vals
}

// TestKeySQL checks that SQLite's built-in expression computes
// query.Key's bytes for every value, so that keys Go computes for a
// query's operands compare with keys SQLite stores in its indexes.
func TestKeySQL(t *testing.T) {
	if err := registerFunctions(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	expr := keySQL([]string{"v"})
	vals := keyValues(3000)
	for _, v := range vals {
		doc := `{"v":` + v + `}`
		var got []byte
		if err := db.QueryRowContext(context.Background(), `SELECT `+expr+` FROM (SELECT ? AS data)`, doc).Scan(&got); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if want := query.Key(v); !bytes.Equal(got, want) {
			t.Errorf("%s: SQL key %q, Go key %q", v, got, want)
		}
	}
	missing := map[string]string{`{}`: "missing", `{"v":`: "invalid JSON", `[1]`: "an array document", `{"w":{"v":1}}`: "nested elsewhere"}
	for doc, what := range missing {
		var got []byte
		if err := db.QueryRowContext(context.Background(), `SELECT `+expr+` FROM (SELECT ? AS data)`, doc).Scan(&got); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !bytes.Equal(got, []byte{query.RankMissing.KeyByte()}) {
			t.Errorf("%s (%s): key %q, want the missing key", doc, what, got)
		}
	}
}

// TestKeySQLOtherSQLite runs the same expression in the sqlite3 command,
// a SQLite library other than the one persist links (the earlier portal's
// kind of writer), and checks it computes the same keys: an index built
// by one and written by the other must agree.
func TestKeySQLOtherSQLite(t *testing.T) {
	bin := sqlitetest.CLI(t)
	expr := keySQL([]string{"v"})
	vals := keyValues(1000)
	var script strings.Builder
	for _, v := range vals {
		doc := strings.ReplaceAll(`{"v":`+v+`}`, `'`, `''`)
		fmt.Fprintf(&script, "SELECT hex(%s) FROM (SELECT '%s' AS data);\n", expr, doc)
	}
	cmd := exec.Command(bin, ":memory:")
	cmd.Stdin = strings.NewReader(script.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(vals) {
		t.Fatalf("sqlite3 printed %d lines for %d values:\n%s", len(lines), len(vals), out)
	}
	for i, v := range vals {
		if strings.Contains(v, `\u0000`) {
			// SQLite before 3.45 ends a decoded string at U+0000, which
			// persist refuses to store (PostgreSQL cannot hold it).
			continue
		}
		if want := strings.ToUpper(hex.EncodeToString(query.Key(v))); lines[i] != want {
			t.Errorf("%s: sqlite3 key %s, Go key %s", v, lines[i], want)
		}
	}
}

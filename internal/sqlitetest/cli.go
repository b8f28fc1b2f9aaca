package sqlitetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CLILegacy implements persisttest.Legacy with the sqlite3 command: the
// earlier portal's statements run by another SQLite library than the one
// persist links, one process per call, as a writer in another program
// would. It is what shows that every trigger and index persist puts on a
// shared table uses only what an older SQLite has.
type CLILegacy struct{ bin, path string }

// CLI returns the path of the sqlite3 command. Without it the test is
// skipped, except under CI, where it fails.
func CLI(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("the sqlite3 command is required in CI: %v", err)
		}
		tb.Skip("no sqlite3 command")
	}
	return bin
}

// OpenLegacyCLI returns the sqlite3 command's writer on the file at path
// (see CLI).
func OpenLegacyCLI(tb testing.TB, path string) CLILegacy {
	tb.Helper()
	return CLILegacy{bin: CLI(tb), path: path}
}

// lit quotes s as an SQL string literal; the command takes no parameters.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// run executes script, with the earlier portal's pragmas, and returns what
// it printed; any error message is an error.
func (l CLILegacy) run(ctx context.Context, script string) (string, error) {
	cmd := exec.CommandContext(ctx, l.bin, "-bail", "-batch", "-list", l.path)
	cmd.Stdin = strings.NewReader(".timeout 5000\nPRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n" + script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		return "", fmt.Errorf("sqlite3: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	out := strings.TrimPrefix(stdout.String(), "wal\n")
	return out, nil
}

func (l CLILegacy) exec(ctx context.Context, script string) error {
	_, err := l.run(ctx, script)
	return err
}

// CreateTable implements persisttest.Legacy.CreateTable with the earlier portal's statement.
func (l CLILegacy) CreateTable(ctx context.Context, table string) error {
	return l.exec(ctx, `CREATE TABLE IF NOT EXISTS `+bracket(table)+` (id TEXT PRIMARY KEY, data TEXT NOT NULL);`)
}

// Add implements persisttest.Legacy.Add with the earlier portal's statement.
func (l CLILegacy) Add(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT OR REPLACE INTO `+bracket(table)+` (id, data) VALUES (`+lit(id)+`, `+lit(data)+`);`)
}

// Insert implements persisttest.Legacy.Insert with the earlier portal's statement.
func (l CLILegacy) Insert(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT INTO `+bracket(table)+` (id, data) VALUES (`+lit(id)+`, `+lit(data)+`);`)
}

// InsertOrIgnore implements persisttest.Legacy.InsertOrIgnore with the earlier portal's statement.
func (l CLILegacy) InsertOrIgnore(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT OR IGNORE INTO `+bracket(table)+` (id, data) VALUES (`+lit(id)+`, `+lit(data)+`);`)
}

// Update implements persisttest.Legacy.Update with the earlier portal's statement.
func (l CLILegacy) Update(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `BEGIN IMMEDIATE; UPDATE `+bracket(table)+` SET data = `+lit(data)+` WHERE id = `+lit(id)+`; COMMIT;`)
}

// Delete implements persisttest.Legacy.Delete with the earlier portal's statement.
func (l CLILegacy) Delete(ctx context.Context, table, id string) error {
	return l.exec(ctx, `DELETE FROM `+bracket(table)+` WHERE id = `+lit(id)+`;`)
}

// Clear implements persisttest.Legacy.Clear with the earlier portal's statement.
func (l CLILegacy) Clear(ctx context.Context, table string) error {
	return l.exec(ctx, `DELETE FROM `+bracket(table)+`;`)
}

// Save implements persisttest.Legacy.Save with the earlier portal's statement.
func (l CLILegacy) Save(ctx context.Context, table string, recs [][2]string) error {
	var b strings.Builder
	b.WriteString(`BEGIN IMMEDIATE; DELETE FROM ` + bracket(table) + `;`)
	for _, r := range recs {
		b.WriteString(` INSERT INTO ` + bracket(table) + ` (id, data) VALUES (` + lit(r[0]) + `, ` + lit(r[1]) + `);`)
	}
	b.WriteString(` COMMIT;`)
	return l.exec(ctx, b.String())
}

// Rows implements persisttest.Legacy.Rows with the earlier portal's
// statement. Each pair is printed as JSON text by json_array, so that no
// id or document can break the output apart.
func (l CLILegacy) Rows(ctx context.Context, table string) ([][2]string, error) {
	out, err := l.run(ctx, `SELECT json_array(id, data) FROM `+bracket(table)+` ORDER BY rowid;`)
	if err != nil {
		return nil, err
	}
	var rows [][2]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var r [2]string
		if err := unmarshalPair(line, &r); err != nil {
			return nil, fmt.Errorf("sqlite3 printed %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func unmarshalPair(line string, r *[2]string) error {
	var pair []string
	if err := json.Unmarshal([]byte(line), &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("want 2 values, got %d", len(pair))
	}
	r[0], r[1] = pair[0], pair[1]
	return nil
}

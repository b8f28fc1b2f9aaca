package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/migrate"
)

// buildBinary compiles the command, so the tests see what an operator
// runs: flags, exit codes and output streams.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "persist-migrate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type result struct {
	code           int
	stdout, stderr string
}

func runBinary(tb testing.TB, bin string, args ...string) result {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		tb.Fatalf("run %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// seedDB creates a SQLite file with persist's layout and the given records.
func seedDB(tb testing.TB, path, table string, kv ...string) string {
	tb.Helper()
	ctx := context.Background()
	u := "sqlite:///" + path
	db, err := persist.Open(ctx, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	s, err := db.Store(table)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if _, err := s.Put(ctx, persist.Record{ID: kv[i], Data: json.RawMessage(kv[i+1])}); err != nil {
			tb.Fatal(err)
		}
	}
	return u
}

// seedPortal creates a SQLite file in the earlier portal's layout with
// plain SQL, which accepts documents persist rejects, and returns its URL.
func seedPortal(tb testing.TB, path, table string, kv ...string) string {
	tb.Helper()
	sqlitetest.SeedLegacy(tb, path, table, kv...)
	return "sqlite:///" + path
}

func readReport(tb testing.TB, b []byte) output {
	tb.Helper()
	var out output
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	return out
}

func TestExitCodes(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	source := seedDB(t, filepath.Join(dir, "source.db"), "sources",
		"a", `{"n":1}`, "b", `{"n":12345678901234567890}`, "c", `{"n":1e2}`)

	t.Run("Help", func(t *testing.T) {
		r := runBinary(t, bin, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Exit codes:") || !strings.Contains(r.stdout, "5  partial failure") ||
			!strings.Contains(r.stdout, "6  the source changed") {
			t.Fatalf("--help: code %d, stdout %q", r.code, r.stdout)
		}
	})
	t.Run("0_OK", func(t *testing.T) {
		target := "sqlite:///" + filepath.Join(dir, "ok.db")
		reportFile := filepath.Join(dir, "ok.json")
		r := runBinary(t, bin, "--source", source, "--target", target, "--report", reportFile)
		if r.code != 0 {
			t.Fatalf("code %d, stderr:\n%s", r.code, r.stderr)
		}
		b, err := os.ReadFile(reportFile)
		if err != nil {
			t.Fatal(err)
		}
		out := readReport(t, b)
		if out.ExitCode != 0 || out.Status != "ok" || out.Totals.RowsInserted != 3 || out.Totals.RowsVerified != 3 {
			t.Fatalf("report = %s", b)
		}
		if r.stdout != "" {
			t.Fatalf("stdout = %q, want nothing with --report", r.stdout)
		}
		if !strings.Contains(r.stderr, "exit 0:") {
			t.Fatalf("stderr lacks the summary:\n%s", r.stderr)
		}
		// Again: everything skipped, still 0; report on stdout.
		r = runBinary(t, bin, "--source", source, "--target", target, "--quiet")
		out = readReport(t, []byte(r.stdout))
		if r.code != 0 || out.Totals.RowsSkippedDuplicate != 3 || out.Totals.RowsInserted != 0 {
			t.Fatalf("second run: code %d, report %s", r.code, r.stdout)
		}
		if r.stderr != "" {
			t.Fatalf("--quiet stderr = %q", r.stderr)
		}
	})
	t.Run("1_DigestMismatch", func(t *testing.T) {
		target := seedDB(t, filepath.Join(dir, "mismatch.db"), "sources", "b", `{"n":12345678901234567891}`, "c", `{"n":100}`)
		r := runBinary(t, bin, "--source", source, "--target", target)
		out := readReport(t, []byte(r.stdout))
		if r.code != 1 || out.Status != "digest_mismatch" || out.Totals.DigestMismatches != 1 {
			t.Fatalf("code %d, report %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "sources/b: digest mismatch") {
			t.Fatalf("stderr does not name the record:\n%s", r.stderr)
		}
	})
	t.Run("2_Unreachable", func(t *testing.T) {
		// Port 1 on loopback refuses at once; the password must not leak.
		target := "postgres://migrator:s3cretpw@127.0.0.1:1/portal?connect_timeout=5"
		r := runBinary(t, bin, "--source", source, "--target", target)
		if r.code != 2 {
			t.Fatalf("code %d, stdout %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cretpw") {
			t.Fatalf("password printed:\n%s\n%s", r.stdout, r.stderr)
		}
		if out := readReport(t, []byte(r.stdout)); out.Status != "unreachable" || !strings.Contains(out.Target, "xxxxx") {
			t.Fatalf("report = %s", r.stdout)
		}
	})
	t.Run("3_Usage", func(t *testing.T) {
		for name, args := range map[string][]string{
			"MissingTarget": {"--source", source},
			"UnknownFlag":   {"--source", source, "--target", "sqlite:///x.db", "--bogus"},
			"BadBatchSize":  {"--source", source, "--target", "sqlite:///x.db", "--batch-size", "0"},
			"BadParallel":   {"--source", source, "--target", "sqlite:///x.db", "--parallel", "0"},
			"UnknownTable":  {"--source", source, "--target", "sqlite:///" + filepath.Join(dir, "u.db"), "--tables", "nope"},
			"UnknownScheme": {"--source", "mysql://h/db", "--target", "sqlite:///" + filepath.Join(dir, "u.db")},
		} {
			r := runBinary(t, bin, args...)
			if r.code != 3 {
				t.Errorf("%s: code %d, stderr:\n%s", name, r.code, r.stderr)
			}
		}
	})
	t.Run("4_Unknown", func(t *testing.T) {
		// A source file that is not a database (a truncated download, a
		// wrong path to some other file) is neither unreachable nor bad
		// input to the command: SQLite opens it and fails on the first
		// read with "file is not a database".
		bogus := filepath.Join(dir, "not-a-db.sqlite")
		if err := os.WriteFile(bogus, bytes.Repeat([]byte("this is not sqlite\n"), 512), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runBinary(t, bin, "--source", "sqlite:///"+bogus, "--target", "sqlite:///"+filepath.Join(dir, "t4.db"))
		if r.code != 4 {
			t.Fatalf("code %d, stdout %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("5_PartialFailure", func(t *testing.T) {
		src := seedPortal(t, filepath.Join(dir, "portal.db"), "sources",
			"ok", `{"v":1}`, "nul", `{"v":"a\u0000b"}`, "ok2", `{"v":2}`)
		r := runBinary(t, bin, "--source", src, "--target", "sqlite:///"+filepath.Join(dir, "t5.db"))
		out := readReport(t, []byte(r.stdout))
		if r.code != 5 || out.Totals.RowsFailed != 1 || out.Totals.RowsInserted != 2 {
			t.Fatalf("code %d, report %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("Parallel", func(t *testing.T) {
		path := filepath.Join(dir, "two.db")
		seedDB(t, path, "a", "1", `{"n":1}`, "2", `{"n":2}`)
		src := seedDB(t, path, "b", "3", `{"n":3}`)
		r := runBinary(t, bin, "--source", src, "--target", "sqlite:///"+filepath.Join(dir, "par.db"), "--parallel", "2")
		out := readReport(t, []byte(r.stdout))
		if r.code != 0 || len(out.Tables) != 2 || out.Tables[0].Table != "a" || out.Totals.RowsVerified != 3 {
			t.Fatalf("code %d, report %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "copy a: 2 rows") || !strings.Contains(r.stderr, "copy b: 1 rows") {
			t.Fatalf("stderr lacks a progress line per table:\n%s", r.stderr)
		}
	})
	t.Run("DryRun", func(t *testing.T) {
		target := filepath.Join(dir, "dry.db")
		r := runBinary(t, bin, "--source", source, "--target", "sqlite:///"+target, "--dry-run", "--quiet")
		out := readReport(t, []byte(r.stdout))
		if r.code != 0 || !out.DryRun || out.Totals.RowsInserted != 3 {
			t.Fatalf("code %d, report %s", r.code, r.stdout)
		}
	})
}

func TestSourceFileUnchanged(t *testing.T) {
	bin := buildBinary(t)
	for _, layout := range []string{"Portal", "Persist"} {
		t.Run(layout, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "source.db")
			kv := []string{"m", `{"n":1}`, "c", `{"n":12345678901234567890}`, "z", `{ "n" : 1e2 }`}
			var source string
			if layout == "Portal" {
				source = seedPortal(t, path, "sources", kv...)
			} else {
				source = seedDB(t, path, "sources", kv...)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			target := "sqlite:///" + filepath.Join(t.TempDir(), "target.db")
			for _, args := range [][]string{{"--dry-run"}, {}, {}} {
				r := runBinary(t, bin, append(args, "--source", source, "--target", target, "--quiet")...)
				if out := readReport(t, []byte(r.stdout)); r.code != 0 || out.Totals.RowsVerified+out.Totals.RowsInserted == 0 {
					t.Fatalf("%v: code %d, report %s, stderr:\n%s", args, r.code, r.stdout, r.stderr)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatal("the source file changed")
			}
			// A reader of a file in WAL mode, as persist writes them,
			// creates the empty -wal and -shm files SQLite coordinates
			// readers with; the portal's file uses a rollback journal,
			// so nothing may appear beside it.
			if entries, _ := os.ReadDir(dir); layout == "Portal" && len(entries) != 1 {
				t.Fatalf("the source directory holds %d files, want only the source", len(entries))
			}
		})
	}
}

// TestEarlierLayoutOddIDs copies an earlier-layout source whose ids
// persist 0.1 refused (empty, 600 bytes, control characters) to SQLite and
// to PostgreSQL: every row arrives and is verified, exit 0.
func TestEarlierLayoutOddIDs(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	ids := []string{"", strings.Repeat("x", 600), "line\nbreak", "tab\there", "\x7f", "\u0085", "plain"}
	var kv []string
	for i, id := range ids {
		b, _ := json.Marshal(map[string]any{"id": id, "n": i})
		kv = append(kv, id, string(b))
	}
	source := seedPortal(t, filepath.Join(dir, "portal.db"), "sources", kv...)
	targets := map[string]string{"SQLite": "sqlite:///" + filepath.Join(dir, "odd.db")}
	pg := pgtest.URL(t)
	targets["Postgres"] = pgtest.WithSearchPath(t, pg, pgtest.Schema(t, pg, "persist_odd_"), nil)
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			r := runBinary(t, bin, "--source", source, "--target", target, "--quiet")
			out := readReport(t, []byte(r.stdout))
			if r.code != 0 || out.Totals.RowsInserted != int64(len(ids)) || out.Totals.RowsVerified != int64(len(ids)) {
				t.Fatalf("code %d, report %s, stderr:\n%s", r.code, r.stdout, r.stderr)
			}
			db, err := persist.Open(t.Context(), target, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s, err := db.Store("sources")
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				rec, err := s.Get(t.Context(), id)
				if err != nil {
					t.Errorf("Get(%q) on the target: %v", id, err)
					continue
				}
				var doc struct {
					ID string `json:"id"`
					N  int    `json:"n"`
				}
				if err := json.Unmarshal(rec.Data, &doc); err != nil || doc.ID != id || doc.N != i {
					t.Errorf("Get(%q)=%s, %v", id, rec.Data, err)
				}
			}
		})
	}
}

// TestClassify maps each of Copy's outcomes to its exit code, also when
// several are joined: a changed source is reported before the mismatches
// it may explain.
func TestClassify(t *testing.T) {
	moved := &migrate.SourceChangedError{Tables: []string{"t"}}
	mismatch := &migrate.DigestMismatchError{Mismatches: 1, Tables: []string{"t"}}
	partial := &migrate.PartialFailureError{Failed: 1, Tables: []string{"t"}}
	for _, c := range []struct {
		err    error
		code   int
		status string
	}{
		{nil, exitOK, "ok"},
		{moved, exitSourceMoved, "source_changed"},
		{errors.Join(moved, mismatch, partial), exitSourceMoved, "source_changed"},
		{errors.Join(mismatch, partial), exitMismatch, "digest_mismatch"},
		{partial, exitPartial, "partial_failure"},
		{context.Canceled, exitUnknown, "interrupted"},
	} {
		if code, status := classify(c.err); code != c.code || status != c.status {
			t.Errorf("classify(%v) = %d, %s; want %d, %s", c.err, code, status, c.code, c.status)
		}
	}
}

// seedFeed creates a SQLite file with the change feed on table, holding
// the given records, and returns its URL.
func seedFeed(tb testing.TB, path, table string, kv ...string) string {
	tb.Helper()
	ctx := context.Background()
	u := "sqlite:///" + path
	db, err := persist.Open(ctx, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := db.(persist.ChangeFeed).EnableFeed(ctx, table); err != nil {
		tb.Fatal(err)
	}
	return seedDB(tb, path, table, kv...)
}

func TestFollow(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()

	t.Run("NoFeed", func(t *testing.T) {
		src := seedDB(t, filepath.Join(dir, "nofeed.db"), "posts", "a", `{"n":1}`)
		target := filepath.Join(dir, "nofeed-target.db")
		r := runBinary(t, bin, "--source", src, "--target", "sqlite:///"+target, "--follow", "--until-caught-up")
		out := readReport(t, []byte(r.stdout))
		if r.code != 3 || out.Status != "invalid" || !strings.Contains(out.Error, "EnableFeed(posts)") {
			t.Fatalf("code %d, report %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(target); err == nil && len(out.Tables) != 0 {
			t.Fatalf("copied before failing: %s", r.stdout)
		}
	})
	t.Run("UsageErrors", func(t *testing.T) {
		for _, args := range [][]string{{"--follow", "--dry-run"}, {"--until-caught-up"}} {
			r := runBinary(t, bin, append([]string{"--source", "sqlite:///a.db", "--target", "sqlite:///b.db"}, args...)...)
			if r.code != 3 {
				t.Errorf("%v: code %d, stderr:\n%s", args, r.code, r.stderr)
			}
		}
	})
	t.Run("UntilCaughtUp", func(t *testing.T) {
		src := seedFeed(t, filepath.Join(dir, "feed.db"), "posts", "a", `{"n":1}`, "b", `{"n":2}`)
		r := runBinary(t, bin, "--source", src, "--target", "sqlite:///"+filepath.Join(dir, "feed-target.db"), "--follow", "--until-caught-up")
		out := readReport(t, []byte(r.stdout))
		if r.code != 0 || out.Follow == nil || out.Totals.RowsVerified != 2 || !out.Tables[0].Verified {
			t.Fatalf("code %d, report %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "follow: 0 changes applied, caught up") {
			t.Fatalf("stderr lacks the lag:\n%s", r.stderr)
		}
	})
	t.Run("InterruptCatchesUpAndVerifies", func(t *testing.T) {
		path := filepath.Join(dir, "live.db")
		src := seedFeed(t, path, "posts", "a", `{"n":1}`)
		cmd := exec.Command(bin, "--source", src, "--target", "sqlite:///"+filepath.Join(dir, "live-target.db"), "--follow")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until it follows, caught up.
		sc := bufio.NewScanner(stderr)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "caught up") {
				break
			}
		}
		// A write while it follows, then the interrupt: it is applied
		// before the verification.
		seedDB(t, path, "posts", "b", `{"n":2}`, "a", `{"n":3}`)
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(stderr)
		log.Write(rest)
		err = cmd.Wait()
		out := readReport(t, stdout.Bytes())
		if err != nil || out.ExitCode != 0 || out.Follow == nil || out.Follow.RecordsInserted != 1 || out.Follow.RecordsUpdated != 1 ||
			out.Totals.RowsVerified != 2 {
			t.Fatalf("exit %v, report %s, stderr:\n%s", err, stdout.String(), log.String())
		}
		if !strings.Contains(log.String(), "stopping: catching up") {
			t.Fatalf("stderr does not say it is stopping:\n%s", log.String())
		}
	})
}

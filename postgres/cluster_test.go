package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cluster is a private PostgreSQL server started for one test, for what the
// shared test database cannot do: change a role's password under a live
// pool, or refuse a password.
type cluster struct {
	dir      string
	port     int
	password string // of the superuser postgres
	runAs    []string
	bin      string
}

// startCluster runs initdb and pg_ctl start in a temporary directory, with
// scram-sha-256 authentication, and stops the server when the test ends.
// It skips the test only where the PostgreSQL binaries are missing, and
// never under CI.
func startCluster(tb testing.TB) *cluster {
	tb.Helper()
	bin := pgBinDir()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("PostgreSQL server binaries (initdb, pg_ctl) not found")
		}
		tb.Skip("Skipping: PostgreSQL server binaries (initdb, pg_ctl) not found")
	}
	dir, err := os.MkdirTemp("", "persist-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &cluster{dir: dir, password: "postgres-secret", bin: bin}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(c.password+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 { // initdb refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root and there is no postgres user to run initdb as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, filepath.Join(dir, "pw")} {
			if err := os.Chown(p, uid, gid); err != nil {
				tb.Fatal(err)
			}
		}
		c.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	c.run(tb, "initdb", "-D", filepath.Join(dir, "data"), "--auth=scram-sha-256", "-U", "postgres",
		"--pwfile="+filepath.Join(dir, "pw"), "-E", "UTF8", "--no-sync", "--locale=C.UTF-8")
	c.port = freePort(tb)
	c.run(tb, "pg_ctl", "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, dir), "start")
	tb.Cleanup(func() {
		c.run(tb, "pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
	})
	return c
}

// adminURL is the superuser's URL, with its password.
func (c *cluster) adminURL() string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres", c.password, c.port)
}

// url is the URL of a role, without a password.
func (c *cluster) url(role string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres", role, c.port)
}

func (c *cluster) run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(append(append([]string{}, c.runAs...), filepath.Join(c.bin, name)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		tb.Fatalf("%s: %v\n%s\n%s", strings.Join(argv, " "), err, out, log)
	}
}

// pgBinDir finds initdb and pg_ctl: pg_config --bindir, then the Debian
// layout, then PATH.
func pgBinDir() string {
	has := func(dir string) bool {
		_, err1 := os.Stat(filepath.Join(dir, "initdb"))
		_, err2 := os.Stat(filepath.Join(dir, "pg_ctl"))
		return err1 == nil && err2 == nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d
		}
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(m) > 0 {
		for i := len(m) - 1; i >= 0; i-- {
			if has(m[i]) {
				return m[i]
			}
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

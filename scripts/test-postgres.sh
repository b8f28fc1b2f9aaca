#!/usr/bin/env bash
# Prints a PostgreSQL URL for the tests, provisioning a server if needed:
#   1. PERSIST_TEST_POSTGRES when it is set;
#   2. else a server already listening on 127.0.0.1:5432;
#   3. else an installed cluster, started with pg_ctlcluster;
#   4. else Debian's postgresql package, installed and started.
# Progress goes to stderr; the URL alone goes to stdout.
set -euo pipefail

say() { printf 'test-postgres: %s\n' "$*" >&2; }

if [ -n "${PERSIST_TEST_POSTGRES:-}" ]; then
  echo "$PERSIST_TEST_POSTGRES"
  exit 0
fi

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

start_cluster() {
  local v
  v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$v" ] || return 1
  say "starting installed cluster $v/main"
  pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 2>&1 || true
  for _ in $(seq 1 30); do ready && return 0; sleep 1; done
  return 1
}

if ! ready; then
  if ! start_cluster; then
    say "installing postgresql from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    start_cluster || { say "could not start PostgreSQL"; exit 1; }
  fi
fi

# Trust auth on loopback (the development machines) needs no password; a
# fresh Debian install asks for one, so give the postgres role a known
# password for this machine's tests.
url="postgres://postgres@127.0.0.1:5432/test"
if ! psql "$url" -Atqc 'select 1' >/dev/null 2>&1 && ! psql "postgres://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  say "setting a password for the postgres role (password auth on loopback)"
  as_postgres psql -qc "ALTER ROLE postgres PASSWORD 'postgres'" >&2
  url="postgres://postgres:postgres@127.0.0.1:5432/test"
fi
base="${url%/test}/postgres"
if ! psql "$url" -Atqc 'select 1' >/dev/null 2>&1; then
  say "creating database test"
  psql "$base" -qc 'CREATE DATABASE test' >&2
fi
echo "$url"

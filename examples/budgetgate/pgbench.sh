#!/usr/bin/env bash
# Compares budgetgate's Reserve+Commit throughput on one hot budget with
# pgbench updating one hot row, with the same number of clients, on the same
# PostgreSQL, in the same run. Loopback only.
#
#   examples/budgetgate/pgbench.sh [URL] [SECONDS] [CLIENTS]
#
# URL defaults to PERSIST_TEST_POSTGRES, then DATABASE_URL, then
# postgres://postgres@127.0.0.1:5432/test. The script creates and drops its
# own table, budgetgate_pgbench_hot.
set -euo pipefail

url="${1:-${PERSIST_TEST_POSTGRES:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}}"
secs="${2:-10}"
clients="${3:-8}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'psql "$url" -qc "DROP TABLE IF EXISTS budgetgate_pgbench_hot" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

psql "$url" -qc "DROP TABLE IF EXISTS budgetgate_pgbench_hot" \
  -c "CREATE TABLE budgetgate_pgbench_hot (id int PRIMARY KEY, v bigint NOT NULL)" \
  -c "INSERT INTO budgetgate_pgbench_hot VALUES (1, 0)"
echo 'UPDATE budgetgate_pgbench_hot SET v = v + 1 WHERE id = 1;' > "$work/hot.sql"

echo "== pgbench: single-row UPDATE on one hot row, $clients clients, ${secs}s"
pgbench -n -c "$clients" -j 2 -T "$secs" -f "$work/hot.sql" "$url" | tee "$work/pgbench.out"
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pgbench.out" | head -n 1)

(cd "$here" && go build -o "$work/budgetgate" .)
# The same number of workers as pgbench has clients, then more: a gateway
# has as many requests in flight as it has callers, and the budget path
# combines what is in flight.
for workers in $clients $((clients * 2)) $((clients * 8)); do
  echo "== budgetgate -max: Reserve+Commit on one hot budget, $workers workers, ${secs}s"
  "$work/budgetgate" -max -workers "$workers" -duration "${secs}s" -db "$url" | tee "$work/max.out"
  pairs=$(sed -n 's/.* \([0-9]*\) pairs\/s.*/\1/p' "$work/max.out" | head -n 1)
  awk -v p="$pairs" -v t="$tps" -v w="$workers" -v c="$clients" 'BEGIN {
    printf "== ratio, %d workers against pgbench with %d clients: %.0f Reserve+Commit pairs/s / %.0f tps = %.2f\n", w, c, p, t, p / t
  }'
done

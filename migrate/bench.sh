#!/usr/bin/env bash
# Times persist-migrate against pgloader on the same data, in the same run.
#
#   migrate/bench.sh [ROWS]          default 1000000
#
# 1. migrate/internal/gendata writes ROWS pipeline-run documents (~270
#    bytes of JSON each, nested, non-ASCII) into a SQLite file in the
#    earlier portal's layout (id TEXT PRIMARY KEY, data TEXT).
# 2. persist-migrate copies it into a fresh PostgreSQL database, verification
#    of every record included (it opens the SQLite file read-only and reads
#    the old layout as it is; the check after the run confirms the file is
#    unchanged. The target gets persist's schema, JSONB, and with
#    query_index=true in its URL the GIN index, as the figures in
#    BENCHMARKS.md were measured).
# 3. pgloader loads a pristine copy of the same file into another fresh
#    database, casting data to jsonb; it verifies nothing.
# 4. For equal work on the server, the same GIN index (jsonb_path_ops on
#    data) is then built on pgloader's table, timed apart.
# Each runs under /usr/bin/time -v for wall time and peak RSS. Both connect
# with sslmode=disable: on loopback, TLS would only add the same cipher cost
# to both.
#
# Environment: PGADMIN, an admin URL (default
# postgres://postgres@127.0.0.1:5432/postgres); BENCH_DIR, a scratch
# directory (default: a new temporary one, removed at the end).
# Needs: go, psql, pgloader and GNU time (Debian: apt-get install -y
# pgloader time postgresql-client).
set -euo pipefail

rows=${1:-1000000}
admin=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir"
for tool in go psql pgloader /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

base=${admin%/*}
db_persist=bench_persist_migrate
db_pgloader=bench_pgloader
recreate() {
  psql "$admin" -qX -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
}

echo "bench: building" >&2
(cd "$root" && go build -o "$dir/gendata" ./migrate/internal/gendata && go build -o "$dir/persist-migrate" ./cmd/persist-migrate)

echo "bench: generating $rows rows" >&2
"$dir/gendata" -n "$rows" -out "$dir/portal.db"
cp "$dir/portal.db" "$dir/portal-pgloader.db"
size=$(du -m "$dir/portal.db" | cut -f1)

# field NAME FILE: a value from /usr/bin/time -v output.
field() { grep -F "$1" "$2" | sed 's/.*: //'; }
# seconds H:MM:SS.ss or M:SS.ss -> seconds
secs() { awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }' <<<"$1"; }

recreate "$db_persist"
echo "bench: persist-migrate" >&2
/usr/bin/time -v -o "$dir/persist.time" "$dir/persist-migrate" \
  --source "sqlite:///$dir/portal.db" --target "$base/$db_persist?sslmode=disable&query_index=true" \
  --report "$dir/report.json" --quiet || { echo "bench: persist-migrate failed" >&2; cat "$dir/report.json" >&2; exit 1; }
unchanged=no
cmp -s "$dir/portal.db" "$dir/portal-pgloader.db" && unchanged=yes

recreate "$db_pgloader"
# With its default prefetch of 100000 rows pgloader 3.6.9 exhausts its 1 GB
# Lisp heap on a million of these rows ("Heap exhausted, game over"); 10000
# keeps it within about 300 MB and is no slower.
cat >"$dir/load.pgloader" <<EOF
LOAD DATABASE
  FROM sqlite://$dir/portal-pgloader.db
  INTO $base/$db_pgloader?sslmode=disable
  WITH include drop, create tables, create indexes, reset sequences, prefetch rows = 10000
  CAST column pipeline_runs.data to jsonb drop typemod
;
EOF
echo "bench: pgloader" >&2
/usr/bin/time -v -o "$dir/pgloader.time" pgloader "$dir/load.pgloader" >"$dir/pgloader.log" 2>&1 \
  || { echo "bench: pgloader failed" >&2; tail -20 "$dir/pgloader.log" >&2; exit 1; }

gin_start=$(date +%s.%N)
psql "$base/$db_pgloader" -qX -c 'CREATE INDEX ON pipeline_runs USING gin (data jsonb_path_ops)' >/dev/null
w_gin=$(awk "BEGIN{print $(date +%s.%N) - $gin_start}")

n_persist=$(psql "$base/$db_persist" -AtqX -c 'SELECT count(*) FROM pipeline_runs')
n_pgloader=$(psql "$base/$db_pgloader" -AtqX -c 'SELECT count(*) FROM pipeline_runs')
w_persist=$(secs "$(field 'Elapsed (wall clock)' "$dir/persist.time")")
w_pgloader=$(secs "$(field 'Elapsed (wall clock)' "$dir/pgloader.time")")
rss_persist=$(( $(field 'Maximum resident set size' "$dir/persist.time") / 1024 ))
rss_pgloader=$(( $(field 'Maximum resident set size' "$dir/pgloader.time") / 1024 ))
phases=$(grep -oE '"(prepare|copy|index|verify)_seconds": [0-9.]+' "$dir/report.json" | head -4 | sed 's/"//g' | tr '\n' ' ')

echo
echo "rows: $rows (SQLite file ${size} MB)"
printf '| tool | verifies | rows in PostgreSQL | wall s | peak RSS MB | rows/s |\n'
printf '|---|---|---|---|---|---|\n'
printf '| persist-migrate | yes (sha256 per record) | %s | %.1f | %s | %.0f |\n' "$n_persist" "$w_persist" "$rss_persist" "$(awk "BEGIN{print $rows/$w_persist}")"
printf '| pgloader | no | %s | %.1f | %s | %.0f |\n' "$n_pgloader" "$w_pgloader" "$rss_pgloader" "$(awk "BEGIN{print $rows/$w_pgloader}")"
w_equal=$(awk "BEGIN{print $w_pgloader + $w_gin}")
printf '| pgloader + GIN index (%.1f s) | no | %s | %.1f | %s | %.0f |\n' "$w_gin" "$n_pgloader" "$w_equal" "$rss_pgloader" "$(awk "BEGIN{print $rows/$w_equal}")"
echo "persist-migrate phases: $phases"
echo "source file byte-for-byte unchanged by persist-migrate: $unchanged"
awk "BEGIN{printf \"wall ratio persist-migrate / pgloader: %.2f; / pgloader + GIN index: %.2f\n\", $w_persist/$w_pgloader, $w_persist/$w_equal}"

psql "$admin" -qX -c "DROP DATABASE IF EXISTS $db_persist" -c "DROP DATABASE IF EXISTS $db_pgloader" >/dev/null 2>&1 || true

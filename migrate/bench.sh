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
#    unchanged). The target gets persist's default schema: JSONB, primary
#    key, no GIN index.
# 3. pgloader loads a pristine copy of the same file into another fresh
#    database, casting data to jsonb; it verifies nothing.
# 4. The GIN index (jsonb_path_ops on data) is then built on pgloader's
#    table, timed apart, and persist-migrate runs again into a fresh
#    database whose URL asks for the same index (query_index=true): the
#    same work on the server both ways, for the operator who wants Query
#    filters indexed.
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
# recreate DB: a fresh, empty database, then a checkpoint, so that no run
# pays for the writes of the one before.
recreate() {
  psql "$admin" -qX -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" -c "CHECKPOINT" >/dev/null 2>&1
}

echo "bench: building" >&2
(cd "$root" && go build -o "$dir/gendata" ./migrate/internal/gendata && go build -o "$dir/persist-migrate" ./cmd/persist-migrate)

echo "bench: generating $rows rows" >&2
"$dir/gendata" -n "$rows" -out "$dir/portal.db"
cp "$dir/portal.db" "$dir/portal-pgloader.db"
sync # the first timed run must not pay for writing the files back
size=$(du -m "$dir/portal.db" | cut -f1)

# field NAME FILE: a value from /usr/bin/time -v output.
field() { grep -F "$1" "$2" | sed 's/.*: //'; }
# seconds H:MM:SS.ss or M:SS.ss -> seconds
secs() { awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }' <<<"$1"; }

# migrate NAME QUERY: persist-migrate into a fresh database, URL query QUERY.
migrate() {
  recreate "$db_persist"
  echo "bench: persist-migrate ($1)" >&2
  /usr/bin/time -v -o "$dir/$1.time" "$dir/persist-migrate" \
    --source "sqlite:///$dir/portal.db" --target "$base/$db_persist?sslmode=disable$2" \
    --report "$dir/$1.json" --quiet || { echo "bench: persist-migrate failed" >&2; cat "$dir/$1.json" >&2; exit 1; }
  n_persist=$(psql "$base/$db_persist" -AtqX -c 'SELECT count(*) FROM pipeline_runs')
  [ "$n_persist" = "$rows" ] || { echo "bench: $n_persist rows in the target, want $rows" >&2; exit 1; }
}

migrate persist ""

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

migrate persist-gin "&query_index=true"
unchanged=no
cmp -s "$dir/portal.db" "$dir/portal-pgloader.db" && unchanged=yes

n_pgloader=$(psql "$base/$db_pgloader" -AtqX -c 'SELECT count(*) FROM pipeline_runs')
wall() { secs "$(field 'Elapsed (wall clock)' "$dir/$1.time")"; }
rss() { echo $(( $(field 'Maximum resident set size' "$dir/$1.time") / 1024 )); }
phases() { grep -oE '"(copy|index|verify)_seconds": [0-9.e-]+' "$dir/$1.json" | head -3 | sed 's/"//g; s/_seconds//' | tr '\n' ' '; }
w_persist=$(wall persist)
w_gin_persist=$(wall persist-gin)
w_pgloader=$(wall pgloader)
w_equal=$(awk "BEGIN{print $w_pgloader + $w_gin}")
row() { printf '| %s | %s | %.1f | %s | %.0f |\n' "$1" "$2" "$3" "$4" "$(awk "BEGIN{print $rows/$3}")"; }

echo
echo "rows: $rows (SQLite file ${size} MB), $n_pgloader in pgloader's table"
printf '| run | verifies | wall s | peak RSS MB | rows/s |\n'
printf '|---|---|---|---|---|\n'
row "persist-migrate" "yes, every record" "$w_persist" "$(rss persist)"
row "pgloader" "no" "$w_pgloader" "$(rss pgloader)"
row "persist-migrate, query_index=true" "yes, every record" "$w_gin_persist" "$(rss persist-gin)"
row "pgloader + GIN index ($(printf %.1f "$w_gin") s)" "no" "$w_equal" "$(rss pgloader)"
echo "persist-migrate phases (s): $(phases persist); with query_index=true: $(phases persist-gin)"
echo "source file byte-for-byte unchanged by persist-migrate: $unchanged"
awk "BEGIN{printf \"wall ratio persist-migrate / pgloader: %.2f; with the GIN index on both: %.2f\n\", $w_persist/$w_pgloader, $w_gin_persist/$w_equal}"

psql "$admin" -qX -c "DROP DATABASE IF EXISTS $db_persist" -c "DROP DATABASE IF EXISTS $db_pgloader" >/dev/null 2>&1 || true

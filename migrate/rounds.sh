#!/usr/bin/env bash
# Times persist-migrate against pgloader in alternating rounds, on one table
# or on several, and prints each round's wall times, peak RSS and ratio,
# and the median ratio.
#
#   migrate/rounds.sh [ROWS [TABLES [ROUNDS [PARALLEL]]]]   defaults 1000000 1 5 1
#
# migrate/internal/gendata writes ROWS documents into a SQLite file in the
# earlier portal's layout, spread over TABLES tables. Each round runs
# persist-migrate (verifying every record, and checking the source did not
# change) with --parallel PARALLEL, then pgloader (its defaults: four
# workers), each into a fresh PostgreSQL database after a CHECKPOINT, as
# migrate/bench.sh does; the next round starts with pgloader, so neither
# always runs first. With OLD_BIN set to another persist-migrate binary, it
# runs too, right after persist-migrate, for an A/B of two versions (one
# table at a time: a version before --parallel has no such flag).
#
# Environment: PGADMIN, an admin URL (default
# postgres://postgres@127.0.0.1:5432/postgres); BENCH_DIR, a scratch
# directory (default: a new temporary one, removed at the end).
# Needs: go, psql, pgloader and GNU time.
set -euo pipefail

rows=${1:-1000000}
ntables=${2:-1}
rounds=${3:-5}
parallel=${4:-1}
admin=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir"
for tool in go psql pgloader /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "rounds: $tool not found" >&2; exit 1; }
done
base=${admin%/*}
db=bench_rounds

(cd "$root" && go build -o "$dir/gendata" ./migrate/internal/gendata && go build -o "$dir/persist-migrate" ./cmd/persist-migrate)
"$dir/gendata" -n "$rows" -tables "$ntables" -out "$dir/portal.db"
tables=(pipeline_runs)
if [ "$ntables" -gt 1 ]; then
  tables=()
  for i in $(seq 1 "$ntables"); do tables+=("pipeline_runs_$i"); done
fi
casts=$(printf 'column %s.data to jsonb drop typemod, ' "${tables[@]}")
cat >"$dir/load.pgloader" <<EOF
LOAD DATABASE
  FROM sqlite://$dir/portal.db
  INTO $base/$db?sslmode=disable
  WITH include drop, create tables, create indexes, reset sequences, prefetch rows = 10000
  CAST ${casts%, }
;
EOF
sync

recreate() { psql "$admin" -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" -c "CHECKPOINT" >/dev/null 2>&1; }
field() { grep -F "$1" "$2" | sed 's/.*: //'; }
secs() { awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }' <<<"$1"; }
wall() { secs "$(field 'Elapsed (wall clock)' "$1")"; }
rss() { echo $(( $(field 'Maximum resident set size' "$1") / 1024 )); }
count() {
  local n=0 t
  for t in "${tables[@]}"; do n=$(( n + $(psql "$base/$db" -AtqX -c "SELECT count(*) FROM $t") )); done
  echo "$n"
}

persist() { # BIN NAME
  recreate
  local par=()
  [ "$parallel" -gt 1 ] && [ "$2" = new ] && par=(--parallel "$parallel")
  /usr/bin/time -v -o "$dir/$2.time" "$1" --source "sqlite:///$dir/portal.db" --target "$base/$db?sslmode=disable" \
    "${par[@]}" --report "$dir/$2.json" --quiet || { echo "rounds: $2 failed" >&2; cat "$dir/$2.json" >&2; exit 1; }
  [ "$(count)" = "$rows" ] || { echo "rounds: $2 left $(count) rows, want $rows" >&2; exit 1; }
}
pgloader_run() {
  recreate
  /usr/bin/time -v -o "$dir/pgloader.time" pgloader "$dir/load.pgloader" >"$dir/pgloader.log" 2>&1 \
    || { echo "rounds: pgloader failed" >&2; tail -20 "$dir/pgloader.log" >&2; exit 1; }
  [ "$(count)" = "$rows" ] || { echo "rounds: pgloader left $(count) rows, want $rows" >&2; exit 1; }
}

echo "rows: $rows in $ntables table(s), persist-migrate --parallel $parallel, load average $(cut -d' ' -f1-3 /proc/loadavg)"
header='| round | persist-migrate s, MB | pgloader s, MB | ratio |'
[ -n "${OLD_BIN:-}" ] && header+=' OLD_BIN s, MB | new / old |'
echo "$header"
ratios=()
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then persist "$dir/persist-migrate" new; [ -n "${OLD_BIN:-}" ] && persist "$OLD_BIN" old; pgloader_run
  else pgloader_run; [ -n "${OLD_BIN:-}" ] && persist "$OLD_BIN" old; persist "$dir/persist-migrate" new; fi
  wn=$(wall "$dir/new.time"); wp=$(wall "$dir/pgloader.time")
  ratio=$(awk "BEGIN{printf \"%.2f\", $wn/$wp}")
  ratios+=("$ratio")
  line="| $r | $wn, $(rss "$dir/new.time") | $wp, $(rss "$dir/pgloader.time") | $ratio |"
  if [ -n "${OLD_BIN:-}" ]; then
    wo=$(wall "$dir/old.time")
    line+=" $wo, $(rss "$dir/old.time") | $(awk "BEGIN{printf \"%.2f\", $wn/$wo}") |"
  fi
  echo "$line"
done
echo "median ratio persist-migrate / pgloader: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
psql "$admin" -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true

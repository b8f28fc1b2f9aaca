#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" at the end of -fuzztime when a worker is slow to stop
# (go.dev/issue/75804, fixed in Go 1.27). Such a run wrote no failing
# input; it counts as passed only if replaying the target's corpus passes.
# Any other failure, or one that wrote a failing input, fails the script.
set -euo pipefail
fuzztime="${1:-10s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target ($fuzztime)"
    corpus="$dir/testdata/fuzz/$target"
    before=$(ls "$corpus" 2>/dev/null | sort || true)
    if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
      echo "$out"
      continue
    fi
    echo "$out"
    after=$(ls "$corpus" 2>/dev/null | sort || true)
    if [ "$before" = "$after" ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      echo "fuzz: $target stopped on the fuzz coordinator's deadline race, with no failing input; replaying its corpus"
      go test -count=1 -run "^${target}\$" "$pkg"
      continue
    fi
    exit 1
  done
done

#!/usr/bin/env bash
# Runs every fuzz target in the tree — each func FuzzX(f *testing.F) in a
# package's _test.go files, found here, not listed by hand — for FUZZTIME
# each (default 30s), one after the other. New failing inputs are written
# to the package's testdata/fuzz/FuzzX/, where `go test` replays them from
# then on. `make fuzz` runs this; CI runs a short pass (FUZZTIME=5s).
# With --list it prints the targets ("package Name", one a line) and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
targets=()
while read -r pkg dir files; do
  [ -n "$files" ] || continue
  for f in $files; do
    for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(\w* \*testing\.F).*/\1/p' "$dir/$f"); do
      targets+=("$pkg $name")
    done
  done
done < <($GO list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./...)
if [ "${1:-}" = --list ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, $FUZZTIME each" >&2
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz: $name ($pkg)" >&2
  $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
done

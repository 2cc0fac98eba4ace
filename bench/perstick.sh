#!/bin/sh
# bench/perstick.sh: what a stick of a profile with 1,000 generated files
# (step "file") costs before its write — the file steps evaluated for the
# stick and its plan compiled, the shared content's 256 MiB hashed once —
# as a share of the time the same plan takes to write to an image file
# (faster than any stick, so the share is an upper bound). docs/performance.md.
set -eu
cd "$(dirname "$0")/.."
go test -run '^$' -bench PerStickPrepare1000Files -benchtime "${BENCHTIME:-20x}" -count "${RUNS:-3}" ./steps/

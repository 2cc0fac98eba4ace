#!/bin/bash
# probe.sh: the probe step's time and bytes written (issue 15), target
# <= 15 s at 20 MB/s write on a genuine stick, writing at most twice its
# measured cache + 64 MiB:
#   1. a genuine stick: an 8 GB sparse loop device on tmpfs, throttled
#      with cgroup v1 blkio to WRITE_BPS and READ_BPS (bench/loops.sh);
#   2. fake sticks in process (blockdev/fakedev; this host's kernel may have
#      no device-mapper): "64 GB" sticks that store 8 GB, wrapping or
#      dropping writes, with no cache and with a 16 MiB cache that lies, at
#      the same speeds.
#
#   flock /tmp/flashpipe-loop.lock bench/probe.sh
#
# Env: WRITE_BPS (20000000), READ_BPS (40000000), SIZE (8000000000), WORK
# (a tmpfs dir). Needs root and losetup for part 1; part 2 runs anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE_BPS=${WRITE_BPS:-20000000}
READ_BPS=${READ_BPS:-40000000}
SIZE=${SIZE:-8000000000}
WORK=${WORK:-/dev/shm/flashpipe-bench-probe}
BIN=$(mktemp -d)/probe
go build -o "$BIN" ./bench/probe
trap 'rm -rf "$(dirname "$BIN")"' EXIT

echo "probe at $((WRITE_BPS / 1000000)) MB/s write, $((READ_BPS / 1000000)) MB/s read"
if [ "$(id -u)" = 0 ]; then
	. bench/loops.sh
	trap 'cleanup; rm -rf "$(dirname "$BIN")"' EXIT
	attach 1 "$SIZE"
	printf '%-34s ' "genuine loop stick, $((SIZE / 1000000000)) GB:"
	"$BIN" -dev "${LOOPS[0]}"
else
	echo "genuine loop stick skipped: needs root (loop devices, cgroup blkio)"
fi
for f in "genuine 0" "wrap 0" "wrap 16777216" "zeros 0" "zeros 16777216"; do
	set -- $f
	printf '%-34s ' "fake $1, 64 GB claimed, cache $(($2 >> 20)) MiB:"
	"$BIN" -fake "$1" -claimed 64000000000 -real 8000000000 -cache "$2" -write-bps "$WRITE_BPS" -read-bps "$READ_BPS"
done

#!/usr/bin/env bash
# Soak: a station (`flashpipe run`) writes JOBS sticks — loop devices of
# 73 MiB, attached one after the other, each detached once its receipt is
# written — and this prints the station's resident memory (VmRSS) and
# open file descriptors after the first WARM jobs and after the last, and
# the results of the receipts. Growth between the two samples is a leak.
#
#   sudo flock /tmp/flashpipe-loop.lock bench/soak.sh        # JOBS=150 WARM=5
#
# Needs root and losetup. A station takes every matching loop device
# attached while it runs, so run it under the lock the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-150}
WARM=${WARM:-5}
GO=${GO:-go}
work=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
. bench/station.sh
build_station
mkdir -p "$work/content/docs"
head -c 3000000 /dev/urandom >"$work/content/video.bin"
for i in $(seq 1 20); do echo "page $i" >"$work/content/docs/page$i.txt"; done
receipts="$work/receipts.jsonl"
start_station --receipts "$receipts" <<HCL
station {
  name        = "soak"
  allow_buses = ["loop"]
}
profile "soak" {
  match {
    bus  = "loop"
    size = "73MiB..73MiB"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
HCL
sample() {
  echo "$1: rss $(awk '/VmRSS/ {print $2/1000 " MB"}' "/proc/$pid/status"), fds $(ls "/proc/$pid/fd" | wc -l)"
}
for i in $(seq 1 "$JOBS"); do
  img="$work/stick.img"
  truncate -s 73M "$img"
  dev=$(losetup --find --show "$img")
  until [ "$( (wc -l <"$receipts") 2>/dev/null || echo 0)" -ge "$i" ]; do sleep 0.05; done
  losetup -d "$dev"
  rm -f "$img"
  if [ "$i" = "$WARM" ]; then sample "after $i jobs"; fi
done
sleep 1
sample "after $JOBS jobs"
echo "results: $(grep -o '"result":"[a-z]*"' "$receipts" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"

#!/usr/bin/env bash
# SSE: opens CLIENTS (500) dashboard event streams (/events) to a station
# (`flashpipe run --listen`) and prints the station's open file descriptors
# before, while the streams are open, and after they are closed: each
# stream is one socket, and every one must be given back.
#
#   sudo flock /tmp/flashpipe-loop.lock bench/sse.sh         # CLIENTS=500
#
# The station's profile matches no disk, so it writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-500}
GO=${GO:-go}
work=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
. bench/station.sh
build_station
mkdir -p "$work/content"
echo hello >"$work/content/a.txt"
port=$((20000 + RANDOM % 20000))
start_station --listen "127.0.0.1:$port" --receipts "$work/r.jsonl" <<HCL
station {
  name        = "sse"
  allow_buses = ["loop"]
}
profile "none" {
  match { size = "1TB..1TB" }
  step "wipe" {}
}
HCL
sleep 0.5
fds() { ls "/proc/$pid/fd" | wc -l; }
before=$(fds)
streams=()
for i in $(seq 1 "$CLIENTS"); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /events HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' "$port" >&"$fd"
  streams+=("$fd")
done
sleep 2
during=$(fds)
for fd in "${streams[@]}"; do exec {fd}>&-; done
sleep 2
after=$(fds)
echo "station fds: $before before, $during with $CLIENTS event streams open, $after after they closed"

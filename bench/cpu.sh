#!/bin/bash
# cpu.sh: what the CPU costs when the sticks are as fast as memory (issue
# 16). Sticks are loop devices over sparse files in /dev/shm, unthrottled,
# so only the CPU limits. Three parts:
#
#   1. N = 1 4 8 (N_LIST), content of 800 MB: 3 x 200 MB random files and
#      2,000 x 100 kB random files, sticks of STICK_MIB (1024) MiB.
#      flashpipe: `flashpipe flash -c SRC --fs vfat --table mbr
#      --i-know-what-i-am-doing LOOP...` (compile, wipe, write, verify)
#      against a dd baseline on the same number of fresh sticks: the same
#      content prebuilt into an image by `flashpipe build` (outside the
#      timing, cut after its last byte of data), then per stick, all at
#      once, `dd bs=4M oflag=direct` and `dd bs=4M iflag=direct | sha1sum`
#      compared with the image's. Prints wall time, CPU seconds (user +
#      system of the process and its children, GNU time) and CPU seconds
#      per GB written + read back, for both, and flashpipe ÷ baseline.
#   2. RSS_N (32) sticks of 128 MiB at once with small content (a 32 MB
#      file and 100 x 100 kB): flashpipe flash's peak RSS.
#   3. SSE_N (64) sticks of 128 MiB with the same small content, written by
#      a station (`flashpipe run --listen`, concurrency SSE_N) while
#      bench/cpu's helper reads its event stream and asks /api/jobs every
#      250 ms: how late the board's updates arrive, and the station's peak
#      RSS (VmHWM).
#
#   flock /tmp/flashpipe-loop.lock bench/cpu.sh
#   N_LIST=4 RSS_N=0 SSE_N=0 bench/cpu.sh          # part 1 at N = 4 only
#   N_LIST= SSE_N=0 bench/cpu.sh                  # the 32-stick RSS only
#
# Env: N_LIST ("1 4 8"), RUNS (1: runs per N of each side, the best
# counts), RSS_N (32; 0 skips), SSE_N (64; 0 skips), STICK_MIB (1024),
# WORK (a tmpfs directory). Needs root,
# losetup, python3, GNU time; the loop devices' parts under the lock the
# tests take (a station test takes every loop device attached while it
# runs).
set -euo pipefail
cd "$(dirname "$0")/.."

N_LIST=${N_LIST-"1 4 8"}
RUNS=${RUNS:-1}
RSS_N=${RSS_N:-32}
SSE_N=${SSE_N:-64}
STICK_MIB=${STICK_MIB:-1024}
WORK=${WORK:-/dev/shm/flashpipe-bench-cpu}
WRITE_BPS=0 READ_BPS=0 # unthrottled
mkdir -p "$WORK"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

for tool in losetup python3 sha1sum dd /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "missing $tool (util-linux, python3, coreutils, time)" >&2; exit 1; }
done
. bench/loops.sh
. bench/station.sh

go build -o "$WORK/flashpipe" ./cmd/flashpipe
go build -o "$WORK/cpu" ./bench/cpu

# content DIR BIG_BYTES BIG_COUNT SMALL_COUNT: BIG_COUNT random files of
# BIG_BYTES and SMALL_COUNT random files of 100 kB in DIR/small.
content() {
	local dir=$1 i
	mkdir -p "$dir/small"
	for i in $(seq 1 "$3"); do head -c "$2" /dev/urandom >"$dir/big$i.bin"; done
	head -c $(($4 * 100000)) /dev/urandom | split -b 100000 -a 4 -d - "$dir/small/f"
}

# flash_run N SRC: flashpipe flash on the attached sticks; prints
# "wall cpu rss bytes" (bytes written + read back, from the receipts).
flash_run() {
	local n=$1 src=$2
	rm -f "$WORK/r.jsonl"
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$WORK/flashpipe" flash -c "$src" --fs vfat --table mbr \
		--i-know-what-i-am-doing --receipts "$WORK/r.jsonl" --log-level warn "${LOOPS[@]}" >/dev/null 2>"$WORK/err" ||
		{ echo "flashpipe FAILED:" >&2; tail -n 5 "$WORK/err" >&2; return 1; }
	python3 - "$n" "$WORK/r.jsonl" "$WORK/time" <<'EOF'
import json, sys
n, path, tpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
recs = [json.loads(l) for l in open(path) if l.strip()]
bad = [r for r in recs if r["result"] != "done"]
if len(recs) != n or bad:
    sys.exit("flashpipe: %d receipts, %d not done: %s" % (len(recs), len(bad), [r.get("error") for r in bad]))
wall, user, sys_, rss = open(tpath).read().split()[-4:]
print(wall, "%.2f" % (float(user) + float(sys_)), rss, sum(r["bytes_written"] + r["bytes_verified"] for r in recs))
EOF
}

# dd_one DEV: the baseline on one stick.
dd_one() {
	dd if="$IMG" of="$1" bs=4M oflag=direct status=none
	got=$(dd if="$1" bs=4M iflag=direct count=$((IMG_BYTES / 4194304)) status=none | sha1sum | cut -c1-40)
	[ "$got" = "$IMG_SHA" ] || { echo "dd baseline $1: SHA1 $got, want $IMG_SHA" >&2; return 1; }
}
export -f dd_one

# dd_run N: the baseline on the attached sticks; prints "wall cpu rss bytes".
dd_run() {
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/time" bash -c '
		pids=(); for d in "$@"; do dd_one "$d" & pids+=($!); done
		rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done; exit $rc' _ "${LOOPS[@]}" ||
		{ echo "dd baseline FAILED" >&2; return 1; }
	read -r wall user sys rss <<<"$(tail -n 1 "$WORK/time")"
	echo "$wall $(echo "$user + $sys" | bc -l) $rss $((2 * IMG_BYTES * $1))"
}

# best RUNS CMD...: runs CMD on fresh sticks RUNS times; prints the line of
# the fastest run.
best() {
	local runs=$1 n=$2 size=$3 i out bestline=""
	shift 3
	for i in $(seq 1 "$runs"); do
		attach "$n" "$size"
		out=$("$@") || { detach_all; return 1; }
		detach_all
		if [ -z "$bestline" ] || python3 -c 'import sys; sys.exit(not float(sys.argv[1].split()[0]) < float(sys.argv[2].split()[0]))' "$out" "$bestline"; then
			bestline=$out
		fi
	done
	echo "$bestline"
}

if [ -n "$N_LIST" ]; then
	src=$WORK/src
	content "$src" 200000000 3 2000
	stick=$((STICK_MIB * 1048576))
	# The baseline's image: the same content, built by flashpipe, cut
	# after its last byte of data (rounded up to 4 MiB).
	"$WORK/flashpipe" build -c "$src" --fs vfat --table mbr --size "$stick" -o "$WORK/full.img" >/dev/null
	used=$(python3 - "$WORK/full.img" <<'EOF'
import os, sys
fd, off, last = os.open(sys.argv[1], os.O_RDONLY), 0, 0
while True:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    last = off = os.lseek(fd, d, os.SEEK_HOLE)
print(last)
EOF
	)
	IMG=$WORK/baseline.img
	IMG_BYTES=$(((used + 4194303) / 4194304 * 4194304))
	mv "$WORK/full.img" "$IMG"
	truncate -s "$IMG_BYTES" "$IMG"
	IMG_SHA=$(sha1sum "$IMG" | cut -c1-40)
	export IMG IMG_BYTES IMG_SHA
	echo "== unthrottled: $(find "$src" -type f | wc -l) files, $(du -sb "$src" | cut -f1) bytes; sticks of $stick bytes; baseline image $IMG_BYTES bytes; best of $RUNS"
	echo "N | flashpipe s | CPU-s | CPU-s/GB | dd s | CPU-s | CPU-s/GB | wall ratio | CPU ratio | flashpipe RSS MB"
	for n in $N_LIST; do
		read -r fw fc frss fb <<<"$(best "$RUNS" "$n" "$stick" flash_run "$n" "$src")"
		read -r dw dc _ db <<<"$(best "$RUNS" "$n" "$stick" dd_run "$n")"
		awk -v n="$n" -v fw="$fw" -v fc="$fc" -v fb="$fb" -v frss="$frss" -v dw="$dw" -v dc="$dc" -v db="$db" 'BEGIN {
			printf "%d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f\n",
				n, fw, fc, fc / (fb / 1e9), dw, dc, dc / (db / 1e9), fw / dw, (fc / (fb / 1e9)) / (dc / (db / 1e9)), frss / 1000 }'
	done
	rm -rf "$src" "$IMG"
fi

small=$WORK/small
if [ "$RSS_N" -gt 0 ] || [ "$SSE_N" -gt 0 ]; then
	content "$small" 32000000 1 100
fi

if [ "$RSS_N" -gt 0 ]; then
	read -r w c rss b <<<"$(best 1 "$RSS_N" $((128 * 1048576)) flash_run "$RSS_N" "$small")"
	echo "== $RSS_N sticks of 128 MiB at once, $(du -sb "$small" | cut -f1) bytes of content: flashpipe flash $w s, $c CPU-s, peak RSS $((rss / 1000)) MB"
fi

if [ "$SSE_N" -gt 0 ]; then
	port=$((20000 + RANDOM % 20000))
	rm -rf "$WORK/content" && mv "$small" "$WORK/content" && small=$WORK/content
	work=$WORK
	rm -f "$WORK/station-receipts.jsonl"
	start_station --listen "127.0.0.1:$port" --receipts "$WORK/station-receipts.jsonl" <<HCL
station {
  name        = "cpu-bench"
  allow_buses = ["loop"]
  concurrency = $SSE_N
}
profile "bench" {
  match {
    bus  = "loop"
    size = "128MiB..128MiB"
  }
  step "wipe" { mode = "quick" }
  step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
HCL
	spid=$pid
	"$WORK/cpu" sse -url "http://127.0.0.1:$port" -jobs "$SSE_N" >"$WORK/sse.txt" &
	wpid=$!
	sleep 0.5
	t0=$(date +%s.%N)
	attach "$SSE_N" $((128 * 1048576))
	wait "$wpid" || { echo "sse helper FAILED" >&2; }
	t1=$(date +%s.%N)
	hwm=$(awk '/VmHWM/ {print int($2 / 1000)}' "/proc/$spid/status")
	kill "$spid"; wait "$spid" || true
	detach_all
	results=$(grep -o '"result":"[a-z]*"' "$WORK/station-receipts.jsonl" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
	echo "== station, $SSE_N sticks of 128 MiB at once: $(echo "$t1 - $t0" | bc -l | cut -c1-6) s from the first attach to the last result; results:$results; peak RSS $hwm MB"
	sed 's/^/   /' "$WORK/sse.txt"
fi

#!/bin/sh
# fsimage.sh measures the fsimage pipeline against coreutils baselines and
# prints a table:
#   1. plan building for 20,000 files / 5 GB (synthetic entries, no data);
#   2. manifest hashing (manifest.Hash, all cores) vs sha1sum, one process
#      and one per core, over the same files;
#   3. writing an image (fsimage.WriteImagePlan, exFAT and FAT32 plans) vs
#      cp of the same bytes on the same disk, each followed by fsync.
#
# usage: bench/fsimage.sh [content-MiB]      (default 1024)
# env:   FLASHPIPE_BENCH_WORK  work directory (default /var/tmp/flashpipe-bench);
#        it must be on the disk you want to measure. RUNS (default 3): best of.
# Every timing is hot-cache (the content is read once first), like a station
# copying the same content to stick after stick. Run it on a quiet machine.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FLASHPIPE_BENCH_WORK:-/var/tmp/flashpipe-bench}
MIB=${1:-1024}
RUNS=${RUNS:-3}
C=$WORK/content-$MIB
OUT=$WORK/out
mkdir -p "$OUT"

# Content: half in ~1 MiB files (in 16 directories), half in 64 MiB files,
# random bytes; plus all.bin, the same bytes in one file, for cp.
if [ ! -f "$C/.done" ]; then
	rm -rf "$C"
	mkdir -p "$C/tree"
	small=$((MIB / 2))
	i=0
	while [ $i -lt $small ]; do
		d=$C/tree/dir$((i % 16))
		mkdir -p "$d"
		head -c $((1048576 - (i % 100) * 1000)) /dev/urandom >"$d/file$i.bin"
		i=$((i + 1))
	done
	i=0
	while [ $i -lt $(((MIB - small) / 64)) ]; do
		head -c 67108864 /dev/urandom >"$C/tree/big$i.bin"
		i=$((i + 1))
	done
	find "$C/tree" -type f -print0 | sort -z | xargs -0 cat >"$C/all.bin"
	touch "$C/.done"
fi
BYTES=$(stat -c %s "$C/all.bin")
NFILES=$(find "$C/tree" -type f | wc -l)
cat "$C/all.bin" >/dev/null
find "$C/tree" -type f -print0 | xargs -0 cat >/dev/null

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
# once 'SHELL COMMAND': runs it under /usr/bin/time; prints its wall time and
# CPU time (user + system, children included), in seconds.
once() {
	/usr/bin/time -f "%e %U %S" -o "$R/time" sh -c "$1"
	awk '{ print $1, $2 + $3 }' "$R/time"
}
# bestof FILE: the smallest wall and the smallest CPU time of "WALL CPU" lines
bestof() { awk 'NR == 1 || $1 < w { w = $1 } NR == 1 || $2 < c { c = $2 } END { print w, c }' "$1"; }
# best 'SHELL COMMAND': runs it RUNS times; prints the fastest wall time and
# the smallest CPU time.
best() {
	: >"$R/best"
	i=0
	while [ $i -lt "$RUNS" ]; do
		once "$1" >>"$R/best"
		i=$((i + 1))
	done
	bestof "$R/best"
}
mbs() { awk -v n="$BYTES" -v s="$1" 'BEGIN { if (s <= 0) s = 0.001; printf "%.0f", n / 1e6 / s }'; }
# row NAME "WALL CPU": a baseline row
row() {
	set -- "$1" $2
	printf "  %-44s %6s MB/s %8s MB/cpu-s\n" "$1" "$(mbs "$2")" "$(mbs "$3")"
}
gobench() { # gobench PKG REGEXP: prints "name MB/s MB/cpu-s" lines
	(cd "$ROOT" && FLASHPIPE_BENCH_DIR=$C/tree FLASHPIPE_BENCH_OUT=$OUT \
		go test -run '^$' -bench "$2" -benchtime "${RUNS}x" -count 1 "$1") |
		awk '/MB\/s/ { for (i = 3; i <= NF; i++) v[$(i)] = $(i-1); printf "%s %.0f %.0f\n", $1, v["MB/s"], v["MB/cpu-s"] }'
}

sha1_one="find '$C/tree' -type f -print0 | xargs -0 sha1sum >/dev/null"
sha1_all="find '$C/tree' -type f -print0 | xargs -0 -P $(nproc) -n 8 sha1sum >/dev/null"
cp_one="cp '$C/all.bin' '$OUT/copy.bin' && sync '$OUT/copy.bin'"
cp_tree="cp -r '$C/tree' '$OUT/tree' && find '$OUT/tree' -type f -print0 | xargs -0 sync"
# fresh: removes every output and commits the filesystem, untimed, so that no
# timed command pays for freeing (and discarding) the previous run's blocks.
fresh() {
	rm -rf "$OUT/copy.bin" "$OUT/tree" "$OUT/bench.img"
	sync -f "$OUT"
}

echo "flashpipe fsimage benchmark: $NFILES files, $BYTES bytes, $(nproc) cores, work dir $WORK ($(df --output=source "$WORK" | tail -1)), best of $RUNS"
echo
echo "## Plan: 20,000 files / 5 GB, 16 GiB stick, MBR (target < 1 s, < 100 MB)"
(cd "$ROOT" && go test -run '^$' -bench 'BenchmarkPlan' -benchmem -count 1 ./fsimage/compile/) |
	awk '/^BenchmarkPlan/ { for (i = 3; i <= NF; i++) v[$(i)] = $(i-1)
		printf "  %-24s %6.3f s wall %6.3f s CPU   %5.1f MB allocated   %5.1f MB live heap   %d extents\n", $1, v["ns/op"] / 1e9, v["cpu-s/op"], v["B/op"] / 1e6, v["heap-MB"], v["extents"] }'
echo
echo "## Hashing (target >= 90 % of sha1sum on all cores)"
row "sha1sum, one process" "$(best "$sha1_one")"
ALL=$(best "$sha1_all")
row "sha1sum, $(nproc) processes (xargs -P)" "$ALL"
gobench ./fsimage/manifest/ 'BenchmarkHash$' | while read -r name v c; do
	printf "  %-44s %6s MB/s %8s MB/cpu-s   %3.0f %% of sha1sum on all cores\n" "manifest.Hash" "$v" "$c" \
		"$(awk -v g="$v" -v w="$(echo "$ALL" | cut -d' ' -f1)" -v n="$BYTES" 'BEGIN { print 100 * g / (n / 1e6 / w) }')"
done
echo
echo "## Writing an image (target >= 90 % of cp)"
# Rounds alternate cp, cp -r and the image writer, so a slow spell of the
# (virtual) disk hits all of them alike; each row is the best of RUNS rounds.
TEST=$WORK/compile.test
(cd "$ROOT" && go test -c -o "$TEST" ./fsimage/compile/)
round=0
while [ $round -lt "$RUNS" ]; do
	fresh
	once "$cp_one" >>"$R/one"
	fresh
	once "$cp_tree" >>"$R/tree"
	fresh
	FLASHPIPE_BENCH_DIR=$C/tree FLASHPIPE_BENCH_OUT=$OUT "$TEST" -test.run '^$' -test.bench BenchmarkWriteImage -test.benchtime 1x |
		awk '/MB\/s/ { for (i = 3; i <= NF; i++) v[$(i)] = $(i-1); print $1, v["ns/op"] / 1e9, v["MB/s"], v["MB/cpu-s"] }' >>"$R/go"
	round=$((round + 1))
done
fresh
rm -f "$TEST"
ONE=$(bestof "$R/one")
row "cp all.bin (one file) + fsync" "$ONE"
row "cp -r tree + fsync each file" "$(bestof "$R/tree")"
sort -k1,1 "$R/go" | awk '
	$1 != name { if (name != "") print name, best, cpu; name = $1; best = $3; cpu = $4; next }
	$3 > best { best = $3 } $4 > cpu { cpu = $4 }
	END { if (name != "") print name, best, cpu }' | while read -r name v c; do
	printf "  %-44s %6.0f MB/s %8.0f MB/cpu-s   %3.0f %% of cp one file\n" "WriteImagePlan ${name#BenchmarkWriteImage/}" "$v" "$c" \
		"$(awk -v g="$v" -v w="$(echo "$ONE" | cut -d' ' -f1)" -v n="$BYTES" 'BEGIN { print 100 * g / (n / 1e6 / w) }')"
done
echo
echo "MB/s is wall-clock throughput; MB/cpu-s is bytes per CPU second (user + system of the"
echo "process and its children), which hardly depends on other load. Kernel writeback done by"
echo "flusher threads is in neither column's CPU."

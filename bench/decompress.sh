#!/bin/bash
# decompress.sh measures image decompression (issue 13, benchmark 3): for
# each format, flashpipe's image cache filling from the file (decoding, the
# sparse write, the image's and the file's SHA-256) against the format's
# own CLI decompressing the same file into a file on the same filesystem:
#   zstd -d, pigz -d and gzip -d, xz -d -T0, bzip2 -d.
# It prints MB/s of image bytes for both, their ratio, flashpipe's MB per
# CPU-second and its peak RSS.
#
# usage: bench/decompress.sh [image-MiB]      (default 512)
# env:   FLASHPIPE_BENCH_WORK  where the test image and its compressed copies
#        are kept between runs (default /var/tmp/flashpipe-bench);
#        FLASHPIPE_BENCH_SHM   where both sides write their output (default
#        /dev/shm/flashpipe-bench: memory, so the disk is not measured);
#        RUNS (default 3): best of.
# The image: an MBR, then 4 MiB pieces in a fixed pattern of 7 pieces of
# files from /usr (binaries, libraries, text), 1 random piece, 8 of zeros:
# about what a half-full root filesystem looks like to a compressor.
# Compressed once with the formats' defaults and all cores: zstd -3 -T0,
# pigz -6, xz -6 -T0 (several blocks, as xz -T0 writes), bzip2 -9.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FLASHPIPE_BENCH_WORK:-/var/tmp/flashpipe-bench}
SHM=${FLASHPIPE_BENCH_SHM:-/dev/shm/flashpipe-bench}
MIB=${1:-512}
RUNS=${RUNS:-3}
IMG=$WORK/image-$MIB.img
mkdir -p "$WORK" "$SHM"
R=$(mktemp -d)
trap 'rm -rf "$R" "$SHM"/cli.img "$SHM"/cache-*' EXIT

if [ ! -f "$IMG.done" ]; then
	echo "making a $MIB MiB test image and compressing it (once; xz takes minutes)" >&2
	find /usr/lib /usr/share/doc /usr/bin -type f -size -8M -print0 2>/dev/null | sort -z |
		xargs -0 cat 2>/dev/null | head -c $((MIB * 1024 * 1024)) >"$R/content" || true
	: >"$IMG"
	i=0
	off=0
	while [ $i -lt $((MIB / 4)) ]; do
		case $((i % 16)) in
		[0-6]) dd if="$R/content" bs=4M skip=$off count=1 status=none >>"$IMG"; off=$((off + 1)) ;;
		7) head -c 4194304 /dev/urandom >>"$IMG" ;;
		*) head -c 4194304 /dev/zero >>"$IMG" ;;
		esac
		i=$((i + 1))
	done
	truncate -s $((MIB * 1024 * 1024)) "$IMG"
	printf '\x55\xaa' | dd of="$IMG" bs=1 seek=510 conv=notrunc status=none
	zstd -q -3 -T0 -f -o "$IMG.zst" "$IMG"
	pigz -6 -c "$IMG" >"$IMG.gz"
	xz -6 -T0 -c "$IMG" >"$IMG.xz"
	bzip2 -9 -c "$IMG" >"$IMG.bz2"
	touch "$IMG.done"
fi
BYTES=$(stat -c %s "$IMG")

(cd "$ROOT" && go test -c -o "$R/diskimage.test" ./diskimage/)

# best 'SHELL COMMAND': the fastest wall time of RUNS runs, in seconds.
best() {
	: >"$R/best"
	for _ in $(seq "$RUNS"); do
		rm -f "$SHM/cli.img"
		/usr/bin/time -f "%e" -o "$R/t" sh -c "$1"
		cat "$R/t" >>"$R/best"
	done
	sort -n "$R/best" | head -1
}
mbs() { awk -v n="$BYTES" -v s="$1" 'BEGIN { if (s <= 0) s = 0.001; printf "%.0f", n / 1e6 / s }'; }

# flashpipe FILE: "MB/s MB/cpu-s maxRSS-MB", best of RUNS fills into a new cache.
flashpipe() {
	: >"$R/fp"
	for _ in $(seq "$RUNS"); do
		FLASHPIPE_BENCH_IMAGE=$1 FLASHPIPE_BENCH_OUT=$SHM /usr/bin/time -f "rss %M" -o "$R/rss" \
			"$R/diskimage.test" -test.run '^$' -test.bench BenchmarkCacheFill -test.benchtime 1x >"$R/out"
		awk -v rss="$(awk '{ print $2 }' "$R/rss")" '/MB\/s/ { for (i = 3; i <= NF; i++) v[$(i)] = $(i-1);
			printf "%.0f %.0f %.0f\n", v["MB/s"], v["MB/cpu-s"], rss / 1024 }' "$R/out" >>"$R/fp"
	done
	sort -n -r "$R/fp" | head -1
}

printf "%s MiB image (%s bytes), best of %s, output in %s\n" "$MIB" "$BYTES" "$RUNS" "$SHM"
printf "  %-7s %10s %9s %-22s %9s %7s %11s %9s\n" format compressed flashpipe "reference CLI" CLI ratio "MB/cpu-s" "peak RSS"
row() { # row FORMAT FILE 'CLI COMMAND' NAME
	cat "$2" >/dev/null
	read -r fmbs fcpu frss <<<"$(flashpipe "$2")"
	cmbs=$(mbs "$(best "$3")")
	printf "  %-7s %9sM %6s MB/s %-22s %4s MB/s %6.2f %8s %7s MB\n" "$1" "$(($(stat -c %s "$2") / 1048576))" \
		"$fmbs" "$4" "$cmbs" "$(awk -v a="$fmbs" -v b="$cmbs" 'BEGIN { print a / b }')" "$fcpu" "$frss"
}
row raw "$IMG" "cp '$IMG' '$SHM/cli.img'" "cp"
row zstd "$IMG.zst" "zstd -q -d -c '$IMG.zst' >'$SHM/cli.img'" "zstd -d"
row gzip "$IMG.gz" "pigz -d -c '$IMG.gz' >'$SHM/cli.img'" "pigz -d"
row gzip "$IMG.gz" "gzip -d -c '$IMG.gz' >'$SHM/cli.img'" "gzip -d"
row xz "$IMG.xz" "xz -d -T0 -c '$IMG.xz' >'$SHM/cli.img'" "xz -d -T0"
row bzip2 "$IMG.bz2" "bzip2 -d -c '$IMG.bz2' >'$SHM/cli.img'" "bzip2 -d"

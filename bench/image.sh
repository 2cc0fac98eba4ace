#!/bin/bash
# image.sh: image mode on throttled loop sticks (issue 13, benchmarks 1, 2
# and 4). A 25 %-used image (IMAGE_MIB, default 1024 MiB: in every 4 MiB,
# two 512 KiB runs of files from /usr at pseudo-random 4 KiB-aligned places,
# the rest holes), its block map by bmaptool create, compressed with xz -6
# -T0, written to N sticks at once, compared on the same sticks in the same
# run:
#   1. flashpipe flash --image IMG.xz (bmap "auto" finds IMG.bmap): wipe
#      quick, the mapped ranges, verify; cold cache, so decompression is in
#      the time; against the physical limit counted on mapped bytes (mapped
#      ÷ WRITE_BPS + mapped ÷ READ_BPS) and on the bytes it sent and read;
#   2. Etcher-style, per stick in parallel: dd if=RAW of=DEV bs=4M
#      oflag=direct, then dd if=DEV iflag=direct | sha256sum over the
#      image's length (RAW decompressed beforehand, outside the timing);
#   4. flashpipe's peak RSS (GNU time %M) against 64 MB + 16 MB per stick.
#
#   flock /tmp/flashpipe-loop.lock bench/image.sh
#   N_LIST="1 8" BASELINE=0 bench/image.sh
#
# Env: N_LIST ("1 4 8"), IMAGE_MIB (1024), WRITE_BPS (25000000), READ_BPS
# (60000000), BASELINE (1), WORK (a tmpfs dir: sticks, raw image, cache),
# FLASHPIPE_BENCH_WORK (where the image is kept between runs, default
# /var/tmp/flashpipe-bench). Needs root, losetup, bmaptool, xz, zstd, python3,
# GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

N_LIST=${N_LIST:-"1 4 8"}
IMAGE_MIB=${IMAGE_MIB:-1024}
WRITE_BPS=${WRITE_BPS:-25000000}
READ_BPS=${READ_BPS:-60000000}
BASELINE=${BASELINE:-1}
FORMATS=${FORMATS:-"zst xz"}
WORK=${WORK:-/dev/shm/flashpipe-bench-image}
KEEP=${FLASHPIPE_BENCH_WORK:-/var/tmp/flashpipe-bench}

for tool in losetup bmaptool xz zstd python3 sha256sum /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "missing $tool (util-linux, bmap-tools, xz-utils, zstd, python3, coreutils, time)" >&2; exit 1; }
done
. bench/loops.sh
mkdir -p "$KEEP"

# The image, made once: IMG (sparse), IMG.bmap, IMG.xz.
IMG=$KEEP/image25-$IMAGE_MIB.img
if [ ! -f "$IMG.done" ]; then
	echo "making a $IMAGE_MIB MiB image, 25 % used, and compressing it (once; xz takes minutes)" >&2
	find /usr/lib /usr/share/doc /usr/bin -type f -size -8M -print0 2>/dev/null | sort -z |
		xargs -0 cat 2>/dev/null | head -c $((IMAGE_MIB * 262144)) >"$WORK/content" || true
	rm -f "$IMG"
	truncate -s "${IMAGE_MIB}M" "$IMG"
	# Runs of 128 blocks of 4 KiB: window w's first starts in its first
	# 2 MiB, the second in its last 2 MiB (block 0 holds the first run, so
	# the image starts with data, as a partition table would).
	awk -v w="$((IMAGE_MIB / 4))" 'BEGIN { srand(13); for (i = 0; i < w; i++) {
		a = (i == 0) ? 0 : int(rand() * 384); b = 512 + int(rand() * 384)
		print i * 1024 + a, 2 * i * 128; print i * 1024 + b, (2 * i + 1) * 128 } }' |
		while read -r seek skip; do
			dd if="$WORK/content" of="$IMG" bs=4K count=128 skip="$skip" seek="$seek" conv=notrunc status=none
		done
	printf '\x55\xaa' | dd of="$IMG" bs=1 seek=510 conv=notrunc status=none
	rm -f "$WORK/content"
	bmaptool -q create -o "$IMG.bmap" "$IMG"
	xz -6 -T0 -k -c "$IMG" >"$IMG.xz"
	touch "$IMG.done"
fi
for f in $FORMATS; do
	case $f in
	xz) ;;
	zst) [ -f "$IMG.zst" ] || zstd -q -3 -T0 -o "$IMG.zst" "$IMG" ;;
	gz) [ -f "$IMG.gz" ] || pigz -6 -c "$IMG" >"$IMG.gz" ;;
	*) echo "FORMATS: $f is not xz, zst or gz" >&2; exit 1 ;;
	esac
done
IMAGE_BYTES=$(stat -c %s "$IMG")
STICK_BYTES=$((IMAGE_BYTES / 4 * 5))

go build -o "$WORK/flashpipe" ./cmd/flashpipe
RAW=$WORK/raw.img
xz -d -T0 -c "$IMG.xz" >"$RAW"
RAW_SHA=$(sha256sum "$RAW" | cut -d' ' -f1)

# etcher_one DEV: write the whole raw image, read it all back, compare.
etcher_one() {
	dd if="$RAW" of="$1" bs=4M oflag=direct status=none
	got=$(dd if="$1" bs=4M iflag=direct count=$((IMAGE_BYTES / 4194304)) status=none | sha256sum | cut -d' ' -f1)
	[ "$got" = "$RAW_SHA" ] || { echo "etcher-style $1: SHA-256 $got, want $RAW_SHA" >&2; return 1; }
}
export -f etcher_one
export RAW RAW_SHA IMAGE_BYTES

# summary WHAT N WALL RSS RECEIPTS: two lines from flashpipe's receipts.
summary() {
	python3 - "$@" "$WRITE_BPS" "$READ_BPS" <<'EOF'
import json, sys
what, n, wall, rss, path, wbps, rbps = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6]), float(sys.argv[7])
recs = [json.loads(l) for l in open(path) if l.strip()]
bad = [r for r in recs if r["result"] != "done"]
if len(recs) != n or bad:
    sys.exit("flashpipe: %d receipts, %d not done: %s" % (len(recs), len(bad), [r.get("error") for r in bad]))
img = next(s["details"] for s in recs[0]["steps"] if s["kind"] == "image")
mapped = img["mapped_bytes"]
sent = max(r["bytes_written"] / wbps + r["bytes_verified"] / rbps for r in recs)
limit = mapped / wbps + mapped / rbps
print("   flashpipe %s: %.2f s; mapped %d of %d bytes; limit on mapped bytes %.2f s: %.3f; on bytes sent and read %.2f s: %.3f"
      % (what, wall, mapped, img["image_bytes"], limit, limit / wall, sent, sent / wall))
print("   flashpipe %s: peak RSS %.1f MB, target %d MB (64 + 16 x %d)" % (what, rss / 1000, 64 + 16 * n, n))
EOF
}

# flash FILE WHAT N: flashpipe flash --image FILE onto the sticks (the
# image cache in $WORK/fp); sets wall.
flash() {
	mkdir -p "$WORK/fp"
	rm -f "$WORK/fp/r.jsonl"
	/usr/bin/time -f "%e %M" -o "$WORK/fp/time" "$WORK/flashpipe" flash --image "$1" --i-know-what-i-am-doing \
		--receipts "$WORK/fp/r.jsonl" --log-level warn "${LOOPS[@]}" >/dev/null 2>"$WORK/fp/err" ||
		{ echo "   flashpipe $2 FAILED:"; tail -n 5 "$WORK/fp/err"; }
	read -r wall rss <"$WORK/fp/time"
	summary "$2" "$3" "$wall" "$rss" "$WORK/fp/r.jsonl" || true
	walls+=("$2=$wall")
}

echo "== image: $IMAGE_MIB MiB, $(stat -c %s "$IMG.xz") bytes as .xz, bmap $(sed -n 's:^ *<MappedBlocksCount> *\([0-9]*\) *</.*:\1:p' "$IMG.bmap") blocks of 4 KiB mapped; sticks of $STICK_BYTES bytes; write $WRITE_BPS B/s, read $READ_BPS B/s"
for n in $N_LIST; do
	attach "$n" "$STICK_BYTES"
	echo "-- N=$n"
	walls=()
	for f in $FORMATS; do
		rm -rf "$WORK/fp"
		flash "$IMG.$f" "$f/cold-cache" "$n"
	done
	# Again with the cache the last run filled: what every stick after the
	# first batch gets.
	flash "$IMG.$f" "$f/warm-cache" "$n"
	if [ "$BASELINE" = 1 ]; then
		/usr/bin/time -f "%e" -o "$WORK/etcher.time" bash -c '
			pids=(); for d in "$@"; do etcher_one "$d" & pids+=($!); done
			rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done; exit $rc' _ "${LOOPS[@]}" ||
			echo "   etcher-style FAILED"
		et=$(cat "$WORK/etcher.time")
		awk -v e="$et" -v b="$IMAGE_BYTES" -v w="$WRITE_BPS" -v r="$READ_BPS" -v walls="${walls[*]}" 'BEGIN {
			l = b / w + b / r
			printf "   etcher-style (dd oflag=direct + dd iflag=direct | sha256sum) %.2f s; its limit %.2f s: %.3f\n", e, l, l / e
			n = split(walls, ws, " ")
			for (i = 1; i <= n; i++) {
				split(ws[i], kv, "=")
				printf "   flashpipe (%s) %.2fx faster than etcher-style\n", kv[1], e / kv[2]
			} }'
	fi
	detach_all
done

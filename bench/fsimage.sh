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

now() { date +%s.%N; }
# best CMD...: runs CMD RUNS times, prints the fastest wall time in seconds.
best() {
	b=""
	r=0
	while [ $r -lt "$RUNS" ]; do
		t0=$(now)
		"$@"
		t1=$(now)
		b=$(awk -v a="$t0" -v z="$t1" -v b="$b" 'BEGIN { d = z - a; if (b == "" || d < b) b = d; printf "%.4f", b }')
		r=$((r + 1))
	done
	echo "$b"
}
mbs() { awk -v n="$BYTES" -v s="$1" 'BEGIN { printf "%.0f", n / 1e6 / s }'; }
gobench() { # gobench PKG REGEXP: prints "name MB/s" lines
	(cd "$ROOT" && FLASHPIPE_BENCH_DIR=$C/tree FLASHPIPE_BENCH_OUT=$OUT \
		go test -run '^$' -bench "$2" -benchtime "${RUNS}x" -count 1 "$1") |
		awk '/MB\/s/ { for (i = 1; i <= NF; i++) if ($(i) == "MB/s") print $1, $(i-1) }'
}

sha1_one() { find "$C/tree" -type f -print0 | xargs -0 sha1sum >/dev/null; }
sha1_all() { find "$C/tree" -type f -print0 | xargs -0 -P "$(nproc)" -n 8 sha1sum >/dev/null; }
cp_one() { rm -f "$OUT/copy.bin"; cp "$C/all.bin" "$OUT/copy.bin" && sync "$OUT/copy.bin"; }
cp_tree() { rm -rf "$OUT/tree"; cp -r "$C/tree" "$OUT/tree" && find "$OUT/tree" -type f -print0 | xargs -0 sync; }

echo "flashpipe fsimage benchmark: $NFILES files, $BYTES bytes, $(nproc) cores, work dir $WORK ($(df --output=source "$WORK" | tail -1)), best of $RUNS"
echo
echo "## Plan: 20,000 files / 5 GB, 16 GiB stick, MBR (target < 1 s, < 100 MB)"
(cd "$ROOT" && go test -run '^$' -bench 'BenchmarkPlan' -benchmem -count 1 ./fsimage/compile/) |
	awk '/^BenchmarkPlan/ { for (i = 3; i <= NF; i++) v[$(i)] = $(i-1)
		printf "  %-28s %8.3f s   %6.1f MB allocated   %6.1f MB live heap   %d extents\n", $1, v["ns/op"] / 1e9, v["B/op"] / 1e6, v["heap-MB"], v["extents"] }'
echo
echo "## Hashing (target >= 90 % of sha1sum on all cores)"
H_GO=$(gobench ./fsimage/manifest/ 'BenchmarkHash$' | awk '{ print $2 }')
H_ONE=$(mbs "$(best sha1_one)")
H_ALL=$(mbs "$(best sha1_all)")
printf "  %-40s %6s MB/s\n" "sha1sum, one process" "$H_ONE" "sha1sum, $(nproc) processes (xargs -P)" "$H_ALL" "manifest.Hash" "$H_GO"
awk -v g="$H_GO" -v a="$H_ALL" 'BEGIN { printf "  manifest.Hash / sha1sum all cores = %.0f %%\n", 100 * g / a }'
echo
echo "## Writing an image (target >= 90 % of cp)"
W=$(gobench ./fsimage/compile/ 'BenchmarkWriteImage')
C_ONE=$(mbs "$(best cp_one)")
C_TREE=$(mbs "$(best cp_tree)")
rm -rf "$OUT/copy.bin" "$OUT/tree"
printf "  %-40s %6s MB/s\n" "cp all.bin (one file) + fsync" "$C_ONE" "cp -r tree + fsync each file" "$C_TREE"
echo "$W" | while read -r name v; do
	printf "  %-40s %6s MB/s   %3.0f %% of cp one file\n" "$name" "$v" "$(awk -v g="$v" -v c="$C_ONE" 'BEGIN { print 100 * g / c }')"
done

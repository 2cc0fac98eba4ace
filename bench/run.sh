#!/bin/bash
# make bench: every benchmark of docs/performance.md, in one run.
#   1. fsimage: plan building, manifest hashing vs sha1sum, image writing vs cp;
#   2. exec (root): wipe + write + verify on N throttled loop devices vs a
#      standard-tools baseline and the physical limit;
#   3. decompress: image decompression into the image cache, per format, vs
#      zstd -d, pigz -d, gzip -d, xz -d -T0 and bzip2 -d on the same file;
#   3b. perstick: the per-stick part of a plan with 1,000 generated files;
#   4. image (root): flashpipe flash --image with a bmap on N throttled loop
#      sticks vs the physical limit and an Etcher-style dd write + read-back,
#      and its peak RSS.
# Set FSIMAGE_MIB, N_LIST, WORKLOADS, DECOMPRESS_MIB, IMAGE_MIB to shrink a
# run (see each script). The loop-device parts run under
# /tmp/flashpipe-loop.lock, the lock the tests that attach loop devices take
# (so do not run make bench itself under that lock: it would wait for itself).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== fsimage (bench/fsimage.sh ${FSIMAGE_MIB:-1024}) =="
sh bench/fsimage.sh "${FSIMAGE_MIB:-1024}"
echo
echo "== per-stick generated files (bench/perstick.sh) =="
sh bench/perstick.sh
echo
echo "== image decompression (bench/decompress.sh ${DECOMPRESS_MIB:-512}) =="
bash bench/decompress.sh "${DECOMPRESS_MIB:-512}"
echo
if [ "$(id -u)" = 0 ]; then
	echo "== executor on throttled loop devices (bench/exec/run.sh) =="
	flock /tmp/flashpipe-loop.lock bash bench/exec/run.sh
	echo
	echo "== image mode on throttled loop devices (bench/image.sh) =="
	flock /tmp/flashpipe-loop.lock bash bench/image.sh
else
	echo "== executor and image benchmarks skipped: bench/exec/run.sh and bench/image.sh need root (loop devices, cgroup blkio) =="
fi

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
#      and its peak RSS;
#   5. capture (root): flashpipe capture of a throttled 25 %-used master
#      stick to each format vs dd | zstd/pigz/xz/cp and a read-back;
#   6. probe: the probe step's time and bytes written on a genuine throttled
#      loop stick (root) and on fake sticks in process;
#   7. cpu (root): flashpipe flash vs dd on unthrottled loop sticks (only
#      the CPU limits), 32-stick peak RSS, 64-stick board latency.
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
	echo
	echo "== capturing a master stick on a throttled loop device (bench/capture.sh) =="
	flock /tmp/flashpipe-loop.lock bash bench/capture.sh
	echo
	echo "== probe on a throttled loop stick and on fakes (bench/probe.sh) =="
	flock /tmp/flashpipe-loop.lock bash bench/probe.sh
	echo
	echo "== CPU cost on unthrottled loop devices (bench/cpu.sh) =="
	flock /tmp/flashpipe-loop.lock bash bench/cpu.sh
else
	echo "== executor, image, capture and CPU benchmarks skipped: bench/exec/run.sh, bench/image.sh, bench/capture.sh and bench/cpu.sh need root (loop devices, cgroup blkio) =="
	echo
	echo "== probe on fakes (bench/probe.sh; the loop stick needs root) =="
	bash bench/probe.sh
fi

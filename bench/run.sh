#!/bin/bash
# make bench: every benchmark of docs/performance.md, in one run.
#   1. fsimage: plan building, manifest hashing vs sha1sum, image writing vs cp;
#   2. exec (root): wipe + write + verify on N throttled loop devices vs a
#      standard-tools baseline and the physical limit;
#   3. decompress: image decompression into the image cache, per format, vs
#      zstd -d, pigz -d, gzip -d, xz -d -T0 and bzip2 -d on the same file.
# Set FSIMAGE_MIB, N_LIST, WORKLOADS, DECOMPRESS_MIB to shrink a run (see each
# script).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== fsimage (bench/fsimage.sh ${FSIMAGE_MIB:-1024}) =="
sh bench/fsimage.sh "${FSIMAGE_MIB:-1024}"
echo
echo "== image decompression (bench/decompress.sh ${DECOMPRESS_MIB:-512}) =="
bash bench/decompress.sh "${DECOMPRESS_MIB:-512}"
echo
if [ "$(id -u)" = 0 ]; then
	echo "== executor on throttled loop devices (bench/exec/run.sh) =="
	bash bench/exec/run.sh
else
	echo "== executor benchmark skipped: bench/exec/run.sh needs root (loop devices, cgroup blkio) =="
fi

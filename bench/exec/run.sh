#!/bin/bash
# Benchmark: flashpipe's executor (Wipe quick + Write + Verify, all sticks in
# one process) against a standard-tools baseline (wipefs, sfdisk, mkfs.fat,
# mcopy, blockdev --flushbufs, mcopy out + sha1sum, one pipeline per stick in
# parallel), on N loop devices over image files on tmpfs, each throttled
# with cgroup v1 blkio to a slow stick's speed. Needs root, util-linux,
# dosfstools, mtools, GNU time (package "time").
#
#   bench/exec/run.sh                        # N = 1 4 8, workloads small large
#   N_LIST="1 4" WORKLOADS=small bench/exec/run.sh
#
# Env: N_LIST, WORKLOADS (small: 20,000 files / 300 MB; large: 3 x 400 MB),
# SMALL_FILES, SMALL_BYTES, LARGE_FILES, LARGE_BYTES, WRITE_BPS (25000000),
# READ_BPS (60000000), BASELINE (1 to run it, default 1), WORK (a tmpfs dir).
set -euo pipefail
cd "$(dirname "$0")/../.."

N_LIST=${N_LIST:-"1 4 8"}
WORKLOADS=${WORKLOADS:-"small large"}
SMALL_FILES=${SMALL_FILES:-20000}
SMALL_BYTES=${SMALL_BYTES:-300000000}
LARGE_FILES=${LARGE_FILES:-3}
LARGE_BYTES=${LARGE_BYTES:-1200000000}
WRITE_BPS=${WRITE_BPS:-25000000}
READ_BPS=${READ_BPS:-60000000}
BASELINE=${BASELINE:-1}
WORK=${WORK:-/dev/shm/flashpipe-bench}

for tool in losetup wipefs sfdisk mkfs.fat mcopy sha1sum blockdev /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "missing $tool (util-linux, fdisk, dosfstools, mtools, coreutils, time)" >&2; exit 1; }
done
. bench/loops.sh

go build -o "$WORK/fpexec" ./bench/exec

# baseline_one DEV SRC OUT: the standard tools, one stick.
baseline_one() {
	local dev=$1 src=$2 out=$3
	# The partition is addressed by offset (1 MiB): there is no udev here
	# to create partition nodes.
	wipefs -a -q "$dev" 2>/dev/null
	echo 'label: dos
start=2048, type=c' | sfdisk -q "$dev" >/dev/null 2>&1
	mkfs.fat -F 32 -n BENCH --offset 2048 "$dev" $(( $(blockdev --getsize64 "$dev") / 1024 - 1024 )) >/dev/null
	MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$dev@@1M" "$src"/* ::/
	blockdev --flushbufs "$dev"
	if [ "$(wc -l <"$WORK/src.sha1")" -gt 100 ]; then
		# Many files: copy the tree out, then hash it.
		rm -rf "$out"; mkdir -p "$out"
		MTOOLS_SKIP_CHECK=1 mcopy -s -Q -n -i "$dev@@1M" '::/*' "$out"/
		(cd "$out" && find . -type f -print0 | sort -z | xargs -0 sha1sum) >"$out.sha1"
	else
		# Few large files: stream each one into sha1sum (no room on tmpfs
		# for N copies).
		cut -c43- "$WORK/src.sha1" | while IFS= read -r f; do
			echo "$(MTOOLS_SKIP_CHECK=1 mcopy -n -i "$dev@@1M" "::/${f#./}" - | sha1sum | cut -c1-40)  $f"
		done >"$out.sha1"
	fi
	cmp -s "$out.sha1" "$WORK/src.sha1" || { echo "baseline $dev: SHA1 mismatch" >&2; return 1; }
	rm -rf "$out"
}
export -f baseline_one
export WORK

for wl in $WORKLOADS; do
	src=$WORK/src-$wl
	rm -rf "$src"
	if [ "$wl" = small ]; then
		"$WORK/fpexec" gen -dir "$src" -files "$SMALL_FILES" -bytes "$SMALL_BYTES"
		size=$(( (SMALL_BYTES * 3 / 2 / 1048576 + 64) * 1048576 ))
	else
		"$WORK/fpexec" gen -dir "$src" -files "$LARGE_FILES" -bytes "$LARGE_BYTES"
		size=$(( (LARGE_BYTES * 5 / 4 / 1048576 + 64) * 1048576 ))
	fi
	(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha1sum) >"$WORK/src.sha1"
	echo "== workload $wl: $(find "$src" -type f | wc -l) files, $(du -sb "$src" | cut -f1) bytes; sticks of $size bytes; write $WRITE_BPS B/s, read $READ_BPS B/s"
	for n in $N_LIST; do
		attach "$n" "$size"
		devs=$(IFS=,; echo "${LOOPS[*]}")
		echo "-- N=$n flashpipe executor (wipe quick + write + verify, one process)"
		/usr/bin/time -v "$WORK/fpexec" run -src "$src" -devs "$devs" 2>"$WORK/time.txt" | sed 's/^/   /' || echo "   executor FAILED"
		grep -E 'Elapsed|Maximum resident' "$WORK/time.txt" | sed 's/^\s*/   /'
		if [ "$BASELINE" = 1 ]; then
			echo "-- N=$n baseline (wipefs, sfdisk, mkfs.fat -F 32, mcopy -s, flushbufs, mcopy out + sha1sum; per stick in parallel)"
			/usr/bin/time -v bash -c '
				pids=(); i=0
				for d in "$@"; do i=$((i+1)); baseline_one "$d" "'"$src"'" "$WORK/out$i" & pids+=($!); done
				rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done; exit $rc' _ "${LOOPS[@]}" 2>"$WORK/time.txt" || echo "   baseline FAILED"
			grep -E 'Elapsed|Maximum resident' "$WORK/time.txt" | sed 's/^\s*/   /'
		fi
		detach_all
	done
	rm -rf "$src"
done

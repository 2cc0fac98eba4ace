# loops.sh: throttled loop sticks for the benchmarks (sourced, bash).
# Each stick is a sparse file in $WORK on tmpfs attached as a loop device
# and throttled with cgroup v1 blkio to WRITE_BPS and READ_BPS, so the
# throttle and not the host is the limit (both 0: not throttled). Needs
# root and losetup. On a machine where other tests attach loop devices, run
# the benchmark under their lock (flock /tmp/flashpipe-loop.lock ...): a
# station test takes every loop device attached while it runs.
#
#   attach N SIZE   N sticks of SIZE bytes; their paths in LOOPS
#   detach_all      unthrottle, detach and delete them
# Sourcing it checks for root, creates $WORK and, on exit, detaches every
# stick and removes $WORK.
BLKIO=/sys/fs/cgroup/blkio
LOOPS=()
[ "$(id -u)" = 0 ] || { echo "$0 needs root (loop devices, cgroup throttling)" >&2; exit 1; }

if [ "${WRITE_BPS:-}" = 0 ] && [ "${READ_BPS:-}" = 0 ]; then
	throttle() { :; } # unthrottled sticks (bench/cpu.sh): no cgroup needed
elif [ -w "$BLKIO/blkio.throttle.write_bps_device" ]; then
	# throttle MAJ:MIN WRITE_BPS READ_BPS (0 removes the limit).
	throttle() { echo "$1 $2" >"$BLKIO/blkio.throttle.write_bps_device"; echo "$1 $3" >"$BLKIO/blkio.throttle.read_bps_device"; }
elif [ -f /sys/fs/cgroup/io.max ] || [ -f /sys/fs/cgroup/unified/io.max ]; then
	echo "cgroup v2 io.max throttling is not wired up here; the benchmarks use v1 blkio" >&2; exit 1
else
	echo "no cgroup blkio throttling available" >&2; exit 1
fi

# attach N SIZE: N sparse images on tmpfs as throttled loop devices.
attach() {
	local n=$1 size=$2 i d
	for i in $(seq 1 "$n"); do
		truncate -s "$size" "$WORK/stick$i.img"
		d=$(losetup --find --show "$WORK/stick$i.img")
		LOOPS+=("$d")
		throttle "$(majmin "$d")" "$WRITE_BPS" "$READ_BPS"
	done
}

# majmin DEV: "MAJOR:MINOR" of a device node, as cgroup blkio wants it.
majmin() { printf '%d:%d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"; }

# detach_all: unthrottle and detach every loop device attach made.
detach_all() {
	local d
	for d in "${LOOPS[@]}"; do
		throttle "$(majmin "$d")" 0 0 || true
		losetup -d "$d" || true
	done
	LOOPS=()
	rm -f "$WORK"/stick*.img
}

cleanup() {
	detach_all
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK"

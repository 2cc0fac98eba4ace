# lib.sh: helpers for e2e scenarios, sourced by /init and by each scenario
# (busybox ash). A scenario runs in its own subshell with $NAME set (its file
# name without .sh) and $W its scratch directory; it ends with pass or fail.

GADGETS=/sys/kernel/config/usb_gadget
STICKS=/tmp/sticks
mkdir -p "$STICKS"

say() { echo "$*" >/dev/console; }
info() { say "E2E INFO $NAME: [$(now)s] $*"; }

# pass ends the scenario as passed.
pass() { say "E2E PASS $NAME"; touch "$W/.verdict"; exit 0; }

# fail REASON... ends the scenario as failed, with the station log tail.
fail() {
	say "E2E FAIL $NAME: $*"
	touch "$W/.verdict" "$W/.failed"
	for f in "$W"/station*.log "$W"/hook.log; do
		[ -s "$f" ] || continue
		say "E2E LOG $NAME: ---- $(basename "$f") (last 60 lines)"
		tail -n 60 "$f" | while IFS= read -r l; do say "E2E LOG $NAME: $l"; done
	done
	for f in "$W"/*.jsonl; do
		[ -s "$f" ] || continue
		say "E2E LOG $NAME: ---- $(basename "$f")"
		while IFS= read -r l; do say "E2E LOG $NAME: $l"; done <"$f"
	done
	exit 1
}

# expect_eq WHAT GOT WANT fails with "WHAT = GOT, want WANT" unless equal.
expect_eq() { [ "$2" = "$3" ] || fail "$1 = '$2', want '$3'"; }

# check_eq WHAT GOT WANT records a mismatch and lets the scenario go on, so
# one failure does not hide the next check; finish then reports them all.
check_eq() {
	[ "$2" = "$3" ] && return 0
	echo "$1 = '$2', want '$3'" >>"$W/problems"
	info "problem: $1 = '$2', want '$3'"
	return 1
}

# finish passes, or fails with every problem check_eq recorded.
finish() {
	[ -s "$W/problems" ] || pass
	fail "$(awk 'NR > 1 {printf "; "} {printf "%s", $0}' "$W/problems")"
}

# now prints seconds since boot (integer).
now() { cut -d. -f1 /proc/uptime; }

# wait_for SECONDS CMD... polls CMD every 0.2 s until it succeeds; 1 on timeout.
wait_for() {
	_wf_end=$(($(now) + $1)); shift
	until "$@"; do
		[ "$(now)" -lt "$_wf_end" ] || return 1
		usleep 200000
	done
}

# ---- sticks ------------------------------------------------------------------

# free_udc prints a UDC no gadget is bound to.
free_udc() {
	local u
	for u in /sys/class/udc/*; do
		u=${u##*/}
		grep -qx "$u" "$GADGETS"/*/UDC 2>/dev/null || { echo "$u"; return 0; }
	done
	return 1
}

# stick_dev_of SERIAL prints "sdX PORT" for the disk whose USB device carries SERIAL.
stick_dev_of() {
	local b d
	for b in /sys/block/sd*; do
		[ -e "$b" ] || continue
		d=$(readlink -f "$b")
		while [ "$d" != /sys ] && [ -n "$d" ]; do
			if [ -f "$d/idVendor" ] && [ -f "$d/serial" ]; then
				if [ "$(cat "$d/serial")" = "$1" ]; then
					echo "${b##*/} ${d##*/}"
					return 0
				fi
				break
			fi
			d=${d%/*}
		done
	done
	return 1
}

_stick_ready() {
	# shellcheck disable=SC2046 # split "sdX PORT" on purpose
	set -- $(stick_dev_of "$1")
	[ -n "$1" ] && [ -b "/dev/$1" ] && [ "$(cat "/sys/block/$1/size" 2>/dev/null || echo 0)" -gt 0 ]
}

# plug NAME VID PID SERIAL MANUFACTURER PRODUCT SIZE_MB [UDC]
# creates (once) a backing file on tmpfs (random first 4 MiB and last 1 MiB,
# sparse in between) and a configfs mass-storage gadget with those ids
# (removable=1), binds it to UDC or a free one, waits for /dev/sdX and prints
# sdX. plug NAME alone re-plugs an existing gadget. Port in $STICKS/NAME.port.
plug() {
	local n g img udc ser
	n=$1 g=$GADGETS/$1 img=$STICKS/$1.img
	[ -f "$STICKS/$1.backing" ] && img=$(cat "$STICKS/$1.backing")
	if [ ! -d "$g" ]; then
		[ $# -ge 7 ] || { say "plug: usage: plug NAME VID PID SERIAL MANUFACTURER PRODUCT SIZE_MB [UDC]"; return 2; }
		if [ ! -e "$img" ]; then
			truncate -s "${7}M" "$img"
			dd if=/dev/urandom of="$img" bs=1M count=4 conv=notrunc 2>/dev/null
			dd if=/dev/urandom of="$img" bs=1M count=1 seek=$(($7 - 1)) conv=notrunc 2>/dev/null
		fi
		mkdir "$g" "$g/strings/0x409" "$g/functions/mass_storage.0" "$g/configs/c.1" "$g/configs/c.1/strings/0x409"
		echo "0x$2" >"$g/idVendor"
		echo "0x$3" >"$g/idProduct"
		echo "$4" >"$g/strings/0x409/serialnumber"
		echo "$5" >"$g/strings/0x409/manufacturer"
		echo "$6" >"$g/strings/0x409/product"
		echo "e2e" >"$g/configs/c.1/strings/0x409/configuration"
		echo 1 >"$g/functions/mass_storage.0/lun.0/removable"
		echo "$img" >"$g/functions/mass_storage.0/lun.0/file"
		ln -s "$g/functions/mass_storage.0" "$g/configs/c.1/"
		echo "$4" >"$STICKS/$n.serial"
		echo "${8:-}" >"$STICKS/$n.udc"
	fi
	# An eject (START STOP UNIT, loej=1) unloads the gadget's medium: a stick
	# plugged again must get its backing file back.
	[ -n "$(cat "$g/functions/mass_storage.0/lun.0/file")" ] || echo "$img" >"$g/functions/mass_storage.0/lun.0/file"
	udc=$(cat "$STICKS/$n.udc")
	[ -n "$udc" ] || udc=$(free_udc) || { say "plug $n: no free UDC"; return 1; }
	echo "$udc" >"$g/UDC" || { say "plug $n: cannot bind to $udc"; return 1; }
	ser=$(cat "$STICKS/$n.serial")
	wait_for 60 _stick_ready "$ser" || { say "plug $n: no /dev/sdX for serial $ser after 60s"; return 1; }
	# shellcheck disable=SC2046 # split "sdX PORT" on purpose
	set -- $(stick_dev_of "$ser")
	echo "$1" >"$STICKS/$n.dev"
	echo "$2" >"$STICKS/$n.port"
	echo "$1"
}

# unplug NAME unbinds the gadget (the USB cable is pulled) and waits for the
# block device, then its USB device, to go away.
unplug() {
	echo "" >"$GADGETS/$1/UDC" 2>/dev/null
	wait_for 30 _unplugged "$(cat "$STICKS/$1.serial")" &&
		wait_for 30 _usb_gone "$(cat "$STICKS/$1.port" 2>/dev/null)"
}
_unplugged() { ! stick_dev_of "$1" >/dev/null; }
# The disk goes before its USB device: wait for that too.
_usb_gone() { [ -z "$1" ] || [ ! -e "/sys/bus/usb/devices/$1" ]; }

# stick_dev NAME / stick_port NAME / stick_img NAME print what plug recorded.
stick_dev() { cat "$STICKS/$1.dev"; }
stick_port() { cat "$STICKS/$1.port"; }
stick_img() { echo "$STICKS/$1.img"; }

# remove_stick NAME unplugs and deletes the gadget and its backing file
# (for a dm stick: its device-mapper device and loop device too).
remove_stick() {
	local g
	g=$GADGETS/$1
	# A suspended dm device holds the gadget's thread: resume it first.
	[ -f "$STICKS/$1.loop" ] && e2etool dm resume "dm-$1" 2>/dev/null
	if [ -d "$g" ]; then
		[ -z "$(cat "$g/UDC" 2>/dev/null)" ] || unplug "$1"
		rm -f "$g/configs/c.1/mass_storage.0"
		rmdir "$g/configs/c.1/strings/0x409" "$g/configs/c.1" "$g/functions/mass_storage.0" "$g/strings/0x409" "$g" 2>/dev/null
	fi
	if [ -f "$STICKS/$1.loop" ]; then
		[ -f "$STICKS/$1.nocache" ] && kill "$(cat "$STICKS/$1.nocache")" 2>/dev/null && usleep 300000
		e2etool dm resume "dm-$1" 2>/dev/null
		e2etool dm remove "dm-$1" || say "E2E INFO $NAME: dm remove dm-$1 failed"
		losetup -d "$(cat "$STICKS/$1.loop")"
	fi
	rm -f "$STICKS/$1".*
}

remove_all_sticks() {
	local g
	for g in "$GADGETS"/*; do
		[ -d "$g" ] && remove_stick "${g##*/}"
	done
	for g in "$STICKS"/*.loop; do
		[ -f "$g" ] && g=${g##*/} && remove_stick "${g%.loop}"
	done
}

# make_dm NAME REAL_MB TABLE makes a misbehaving stick's medium: a REAL_MB
# file on tmpfs (random bytes in its first 4 MiB) on a loop device, and
# over it the device-mapper device dm-NAME with TABLE (dmsetup's format,
# targets separated by ";", "@" standing for the loop device), made by
# e2etool dm. plug NAME ... then backs the gadget with it (the size given
# to plug is ignored: the gadget's LUN is the dm device's size). A
# background loop writes back and drops dm-NAME's page cache every 0.1 s:
# the gadget writes to its backing file through the guest's page cache,
# which would otherwise answer every read of a written block itself and
# hide where the table sends it; so the stick's "cache" stays small, as a
# real stick's. Prints /dev/dm-N.
make_dm() {
	local real loop devno dev
	real=$STICKS/$1.real
	truncate -s "${2}M" "$real"
	dd if=/dev/urandom of="$real" bs=1M count=4 conv=notrunc 2>/dev/null
	loop=$(losetup -f) && losetup "$loop" "$real" || { say "make_dm $1: losetup failed"; return 1; }
	echo "$loop" >"$STICKS/$1.loop"
	devno=$(e2etool dm create "dm-$1" "$(echo "$3" | sed "s|@|$loop|g")") || { say "make_dm $1: e2etool dm create failed"; return 1; }
	dev=/dev/$(basename "$(readlink -f "/sys/dev/block/$devno")")
	wait_for 10 test -b "$dev" || { say "make_dm $1: no $dev"; return 1; }
	echo "$dev" >"$STICKS/$1.backing"
	(while :; do blockdev --flushbufs "$dev" 2>/dev/null; usleep 100000; done) </dev/null >/dev/null 2>&1 &
	echo $! >"$STICKS/$1.nocache"
	echo "$dev"
}

# small_dirty_cache BYTES caps the guest's dirty page cache (vm.dirty_bytes;
# background writeback from half of it): a gadget writing its dm device
# through the page cache then waits, in balance_dirty_pages, until that
# device has written back what it got, so a dm device that is slow or
# suspended makes the stick slow or hung for the host. Sticks backed by
# tmpfs files are not affected: tmpfs pages are never dirty for writeback.
# default_dirty_cache restores the kernel's defaults (init does after
# every scenario).
small_dirty_cache() {
	echo "$1" >/proc/sys/vm/dirty_bytes && echo $(($1 / 2)) >/proc/sys/vm/dirty_background_bytes
}
default_dirty_cache() {
	echo 20 >/proc/sys/vm/dirty_ratio && echo 10 >/proc/sys/vm/dirty_background_ratio
}

# dm_backing NAME prints the file behind NAME's dm device (its real bytes).
dm_backing() { echo "$STICKS/$1.real"; }

# mount_stick NAME FSTYPE DIR re-plugs NAME as a fresh device (no cached
# pages) and mounts its first partition read-only at DIR.
mount_stick() {
	local d opts
	unplug "$1"
	d=$(plug "$1") || return 1
	wait_for 20 test -b "/dev/${d}1" || { say "mount_stick $1: no /dev/${d}1"; return 1; }
	mkdir -p "$3"
	opts=ro
	[ "$2" = vfat ] && opts=ro,iocharset=utf8,shortname=mixed
	[ "$2" = exfat ] && opts=ro,iocharset=utf8
	mount -t "$2" -o "$opts" "/dev/${d}1" "$3" || return 1
	info "mounted $1 (/dev/${d}1, $2) at $3"
}

# tree_sums DIR [EXCLUDE_GLOB] prints "sha1  ./path" for every file under DIR
# and "dir ./path" for every directory, sorted.
tree_sums() {
	(
		cd "$1" || exit 1
		if [ -n "${2:-}" ]; then
			find . -type f ! -name "$2" -exec sha1sum {} +
		else
			find . -type f -exec sha1sum {} +
		fi
		find . -mindepth 1 -type d | sed 's/^/dir /'
	) | sort
}

# check_tree SRC MNT [EXCLUDE_GLOB] fails unless MNT holds exactly SRC's files
# (minus EXCLUDE_GLOB) with equal SHA1s.
check_tree() {
	tree_sums "$1" "${3:-}" >"$W/want.sums"
	tree_sums "$2" >"$W/got.sums"
	if ! diff "$W/want.sums" "$W/got.sums" >"$W/tree.diff"; then
		info "tree $2 differs from $1 (- want, + got):"
		head -n 30 "$W/tree.diff" | while IFS= read -r l; do say "E2E INFO $NAME:   $l"; done
		return 1
	fi
}

# ptable_kind DEV prints gpt, mbr or none for the disk DEV (read from the
# device: GPT header signature at LBA 1, else the MBR boot signature).
ptable_kind() {
	if [ "$(dd if="$1" bs=512 skip=1 count=1 2>/dev/null | head -c 8)" = "EFI PART" ]; then
		echo gpt
	elif [ "$(dd if="$1" bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 55aa ]; then
		echo mbr
	else
		echo none
	fi
}

# fs_kind DEV prints FAT32, FAT16, FAT12, exFAT or unknown from DEV's boot sector.
fs_kind() {
	if [ "$(dd if="$1" bs=1 skip=3 count=8 2>/dev/null)" = "EXFAT   " ]; then
		echo exFAT
		return
	fi
	case "$(dd if="$1" bs=1 skip=82 count=8 2>/dev/null)" in
	"FAT32   ") echo FAT32; return ;;
	esac
	case "$(dd if="$1" bs=1 skip=54 count=8 2>/dev/null)" in
	"FAT16   ") echo FAT16 ;;
	"FAT12   ") echo FAT12 ;;
	*) echo unknown ;;
	esac
}

# expect_label LABEL DEV fails unless busybox findfs maps LABEL to DEV.
expect_label() {
	got=$(findfs "LABEL=$1" 2>/dev/null)
	expect_eq "findfs LABEL=$1" "$got" "$2"
}

# ---- station -------------------------------------------------------------------

# station_start ARGS... starts `flashpipe ARGS...` in the background with its
# log in $W/station.log and waits until it listens to kernel uevents.
station_start() {
	flashpipe "$@" >"$W/station.log" 2>&1 &
	STATION_PID=$!
	echo "$STATION_PID" >"$W/station.pid"
	wait_for 60 _listening "$STATION_PID" || {
		kill -0 "$STATION_PID" 2>/dev/null || fail "flashpipe $* exited at start"
		fail "flashpipe never opened a NETLINK_KOBJECT_UEVENT socket"
	}
	sleep 1
	info "station up: flashpipe $*"
}

# _listening PID: PID owns a bound netlink socket of protocol 15 (uevents).
_listening() {
	kill -0 "$1" 2>/dev/null || return 1
	inodes=$(ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p')
	[ -n "$inodes" ] || return 1
	for i in $inodes; do
		awk -v i="$i" 'NR > 1 && $2 == 15 && $4 != "00000000" && $NF == i {f=1} END {exit !f}' /proc/net/netlink && return 0
	done
	return 1
}

# station_alive succeeds while the station runs (a zombie counts as exited).
station_alive() { ! _exited "$STATION_PID"; }
_exited() { ! kill -0 "$1" 2>/dev/null || awk '{exit $3 != "Z"}' "/proc/$1/stat" 2>/dev/null; }

# station_stop sends SIGTERM, waits up to 120 s, and fails unless it exits 0.
station_stop() {
	kill -TERM "$STATION_PID" 2>/dev/null || fail "station (pid $STATION_PID) was not running at stop"
	if ! wait_for 120 _exited "$STATION_PID"; then
		kill -KILL "$STATION_PID" 2>/dev/null
		fail "station did not exit within 120s of SIGTERM"
	fi
	wait "$STATION_PID"
	rc=$?
	expect_eq "station exit status after SIGTERM" "$rc" 0
}

# before_verify NAME CMDS makes the FLASHPIPE_TEST_BEFORE_VERIFY hook (only
# a -tags testhooks build runs it) and exports it: before the verify of
# NAME's stick it runs the shell commands CMDS, their output and then
# "hook done" (when they succeed) going to $W/hook.log; every call logs
# its device there first.
before_verify() {
	cat >"$W/hook.sh" <<EOT
#!/bin/sh
echo "dev=\$1" >>$W/hook.log
[ "\$1" = "/dev/\$(cat $STICKS/$1.dev)" ] || exit 0
{ $2; } >>$W/hook.log 2>&1 && echo "hook done" >>$W/hook.log
EOT
	chmod +x "$W/hook.sh"
	export FLASHPIPE_TEST_BEFORE_VERIFY=$W/hook.sh
}

# check_reads_back NAME FSTYPE SRC [EXCLUDE_GLOB] re-plugs NAME, mounts it
# read-only and records a problem (check_eq) unless it holds exactly SRC.
check_reads_back() {
	mount_stick "$1" "$2" "/tmp/mnt/$1" || fail "mount $1 read-only failed"
	check_tree "$3" "/tmp/mnt/$1" "${4:-}" || check_eq "files on $1" differ "as $3"
	umount "/tmp/mnt/$1"
}

# ---- receipts -----------------------------------------------------------------

# receipt FILE SERIAL FIELD prints FIELD (dotted path) of the last receipt for SERIAL.
receipt() { e2etool get "$1" "$2" "$3"; }

# receipt_count FILE [SERIAL]
receipt_count() { e2etool count "$@"; }

_has_receipts() { [ "$(e2etool count "$1" $2 2>/dev/null || echo 0)" -ge "$3" ]; }

# check_done FILE SERIAL records a problem (check_eq) unless SERIAL's last
# receipt says done and verified.
check_done() {
	check_eq "receipt($2).result (error: $(receipt "$1" "$2" error))" "$(receipt "$1" "$2" result)" done
	check_eq "receipt($2).verify.ok" "$(receipt "$1" "$2" verify.ok)" true
}

# wait_receipts FILE SERIAL N SECONDS waits until SERIAL has N receipts.
wait_receipts() {
	if wait_for "$4" _has_receipts "$1" "$2" "$3"; then
		info "receipt #$3 for $2: result=$(receipt "$1" "$2" result) failed_step=$(receipt "$1" "$2" failed_step)"
		return 0
	fi
	station_alive || fail "station exited while waiting for a receipt for $2"
	fail "no receipt #$3 for serial $2 after $4s"
}

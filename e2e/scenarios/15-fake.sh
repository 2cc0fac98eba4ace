# 15-fake: sticks that lie about their size, made by device-mapper behind
# the mass-storage gadgets (make_dm), screened by a probe step
# (profiles/probe.hcl). WRAP claims 512 MiB and its upper addresses map
# back onto its first 128 MiB (four dm-linear segments onto one 128 MiB
# loop device); DROP claims 512 MiB and what is written past 128 MiB
# vanishes (dm-zero: reads zeros); GOOD is a genuine 192 MiB dm-linear
# stick. The probe fails both fakes ("fake: ..." in the receipt, fake =
# true, usable size at most the real 128 MiB) and they stay on the bus with
# their first MiB as it was; GOOD passes the probe (usable = claimed), is
# written, verified and ejected, and reads back right.
R=$W/receipts.jsonl
M=1048576
S=262144 # 512-byte sectors in 128 MiB
make_dm wrap 128 "0 $S linear @ 0; $S $S linear @ 0; $((2 * S)) $S linear @ 0; $((3 * S)) $S linear @ 0" >/dev/null || fail "make_dm wrap"
make_dm drop 128 "0 $S linear @ 0; $S $((3 * S)) zero" >/dev/null || fail "make_dm drop"
make_dm good 192 "0 $((3 * S / 2)) linear @ 0" >/dev/null || fail "make_dm good"
for n in wrap drop; do
	dd if="$(dm_backing $n)" bs=1M count=1 2>/dev/null | sha1sum >"$W/$n.head"
done
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/probe.hcl
plug wrap 0781 5567 FAKE-WRAP SanDisk "Cruzer 512" 512 dummy_udc.0 >/dev/null || fail "plug wrap"
plug drop 0781 5567 FAKE-DROP SanDisk "Cruzer 512" 512 dummy_udc.1 >/dev/null || fail "plug drop"
plug good 0781 5581 GENUINE SanDisk Ultra 192 dummy_udc.2 >/dev/null || fail "plug good"
expect_eq "size of the wrap stick as the host sees it" "$(cat "/sys/block/$(stick_dev wrap)/size")" $((4 * S))
expect_eq "size of the drop stick as the host sees it" "$(cat "/sys/block/$(stick_dev drop)/size")" $((4 * S))
for s in FAKE-WRAP FAKE-DROP GENUINE; do wait_receipts "$R" "$s" 1 270; done

P=steps.kind=probe.details
for x in wrap:FAKE-WRAP drop:FAKE-DROP; do
	n=${x%%:*} s=${x#*:}
	info "$s: error=$(receipt "$R" "$s" error); fault=$(receipt "$R" "$s" $P.fault) usable=$(receipt "$R" "$s" $P.usable_bytes) first_bad=$(receipt "$R" "$s" $P.first_bad_offset) alias_of=$(receipt "$R" "$s" $P.alias_of_offset) written=$(receipt "$R" "$s" $P.probe_written)"
	check_eq "receipt($s).result" "$(receipt "$R" "$s" result)" failed
	check_eq "receipt($s).failed_step" "$(receipt "$R" "$s" failed_step)" probe
	case $(receipt "$R" "$s" error) in
	*fake:*) ;;
	*) check_eq "receipt($s).error" "$(receipt "$R" "$s" error)" "fake: ..." ;;
	esac
	check_eq "receipt($s).$P.fake" "$(receipt "$R" "$s" $P.fake)" true
	check_eq "receipt($s).$P.claimed_bytes" "$(receipt "$R" "$s" $P.claimed_bytes)" $((512 * M))
	u=$(receipt "$R" "$s" $P.usable_bytes)
	[ -n "$u" ] && [ "$u" -le $((128 * M)) ] ||
		check_eq "receipt($s).$P.usable_bytes at most the 128 MiB it stores" "$u" "<= $((128 * M))"
	# Not ejected: still on the bus, its disk still there.
	check_eq "USB device of $s on port $(stick_port "$n") after its job" "$(test -e "/sys/bus/usb/devices/$(stick_port "$n")" && echo present)" present
	check_eq "disk of $s after its job" "$(test -e "/sys/block/$(stick_dev "$n")" && echo present)" present
done
check_eq "receipt(FAKE-WRAP).$P.fault" "$(receipt "$R" FAKE-WRAP $P.fault)" "wraps onto lower addresses"

check_eq "receipt(GENUINE).result (error: $(receipt "$R" GENUINE error))" "$(receipt "$R" GENUINE result)" done
check_eq "receipt(GENUINE).verify.ok" "$(receipt "$R" GENUINE verify.ok)" true
check_eq "receipt(GENUINE).$P.fake" "$(receipt "$R" GENUINE $P.fake)" false
check_eq "receipt(GENUINE).$P.usable_bytes" "$(receipt "$R" GENUINE $P.usable_bytes)" $((192 * M))
info "GENUINE: probe wrote $(receipt "$R" GENUINE $P.probe_written) bytes, $(receipt "$R" GENUINE $P.write_mbps) MB/s write, $(receipt "$R" GENUINE $P.read_mbps) MB/s read"
_ejected() { [ ! -e "/sys/bus/usb/devices/$(stick_port good)" ]; }
wait_for 30 _ejected || check_eq "USB device of GENUINE 30s after its job" present gone
station_stop

# The fakes' first MiB is as it was: the probe wrote it back.
for n in wrap drop; do
	unplug "$n"
	blockdev --flushbufs "$(cat "$STICKS/$n.backing")"
	check_eq "sha1 of $n's first MiB after the probe" "$(dd if="$(dm_backing $n)" bs=1M count=1 2>/dev/null | sha1sum)" "$(cat "$W/$n.head")"
done
mount_stick good vfat /tmp/mnt/good || fail "mount good read-only failed"
check_tree /content/docs /tmp/mnt/good '*.jpg' || check_eq "files on GENUINE" differ "as /content/docs"
umount /tmp/mnt/good
finish

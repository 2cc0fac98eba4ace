# 21-hung-verify: a stick that stops answering when it is to be read back.
# VHUNG-1 is a dm device behind a mass-storage gadget, written with 64 MiB
# (big.hcl, whose timed profile gives verify a 20s timeout); the test
# hook before verify drops the dm device's page cache and suspends it (no
# dirty-cache cap needed here). Verify starts with an fsync of the stick:
# the host's flush becomes a SYNCHRONIZE CACHE, which the gadget passes on
# as a flush of the suspended dm device, and both the station's thread and
# the gadget's wait in blkdev_issue_flush (their kernel stacks, logged
# below). Its SCSI timeout is raised to 600 s (see 18-hung). VHUNG-1 fails
# in verify with "timed out after 20s: the stick stopped answering: verify
# did not return" while the gadget's thread is still held; a sound stick
# in the same run is done and verified and the station runs on; resumed,
# the device gives the flush back and the station closes it.
R=$W/receipts.jsonl
make_dm vhung 128 "0 262144 linear @ 0" >/dev/null || fail "make_dm vhung"
b=$(cat "$STICKS/vhung.backing")
before_verify vhung "blockdev --flushbufs $b && e2etool dm suspend dm-vhung && blockdev --flushbufs $b"
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
d=$(plug vhung 0781 5567 VHUNG-1 SanDisk Cruzer 128 dummy_udc.0) || fail "plug vhung"
echo 600 >"/sys/block/$d/device/timeout" || fail "cannot raise the SCSI timeout of $d"
plug ok 0781 5567 SOUND SanDisk Cruzer 128 dummy_udc.1 >/dev/null || fail "plug ok"
# _held: a mass-storage gadget's thread is waiting in the kernel (D state).
_held() {
	for f in /proc/[0-9]*/status; do
		grep -q '^Name:.file-storage' "$f" 2>/dev/null && grep -q '^State:.D' "$f" && return 0
	done
	return 1
}
for s in VHUNG-1 SOUND; do wait_receipts "$R" "$s" 1 240; done
check_eq "a gadget's thread held by the kernel after the receipts" "$(_held && echo held)" held
info "hook: $(tr '\n' ' ' <"$W/hook.log")"
for t in /proc/[0-9]*/task/[0-9]*; do
	case $(cat "$t/comm" 2>/dev/null) in file-storage | flashpipe) ;; *) continue ;; esac
	grep -q '^State:.D' "$t/status" && info "in D state: $(cat "$t/comm") $(cat "$t/wchan"); $(tr '\n' ' ' <"$t/stack" 2>/dev/null | cut -c1-300)"
done
grep -q '^hook done' "$W/hook.log" || fail "the hook did not suspend dm-vhung"
err=$(receipt "$R" VHUNG-1 error)
info "VHUNG-1: verify stage $(receipt "$R" VHUNG-1 steps.kind=verify.duration_ms) ms: $err"
check_eq "receipt(VHUNG-1).result" "$(receipt "$R" VHUNG-1 result)" failed
check_eq "receipt(VHUNG-1).failed_step" "$(receipt "$R" VHUNG-1 failed_step)" verify
case $err in
"timed out after 20s: the stick stopped answering: verify did not return"*) ;;
*) check_eq "receipt(VHUNG-1).error" "$err" "timed out after 20s: the stick stopped answering: verify did not return ..." ;;
esac
check_done "$R" SOUND
station_alive || fail "the station exited while VHUNG-1 hung"
e2etool dm resume dm-vhung || fail "e2etool dm resume dm-vhung"
_closed() { grep -q 'the stage the station gave up on returned; device closed' "$W/station.log"; }
wait_for 60 _closed || check_eq "station log 60s after dm-vhung resumed" "no 'device closed'" "the stage the station gave up on returned; device closed"
station_stop
check_reads_back ok vfat /content/big
finish

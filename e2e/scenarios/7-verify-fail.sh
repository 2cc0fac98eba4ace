# 7-verify-fail: a test hook corrupts the stick's backing file at the first
# file's offset right before verify. The verify must fail: the receipt names
# that file with verify.ok=false, and the stick is not ejected.
R=$W/receipts.jsonl
export E2E_HOOK_LOG=$W/hook.log
export E2E_CORRUPT_IMG=/tmp/sticks/vf.img
export FLASHPIPE_TEST_BEFORE_VERIFY=/e2e/hook-corrupt.sh
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/eject.hcl
unset FLASHPIPE_TEST_BEFORE_VERIFY
d=$(plug vf 0781 5567 VERIFY-1 SanDisk Cruzer 64 dummy_udc.2) || fail "plug vf"
port=$(stick_port vf)
wait_receipts "$R" VERIFY-1 1 240
[ -s "$W/hook.log" ] || fail "the FLASHPIPE_TEST_BEFORE_VERIFY hook never ran"
info "hook: $(tr '\n' ' ' <"$W/hook.log")"
grep -q '^corrupted ' "$W/hook.log" || fail "the hook did not corrupt anything: $(cat "$W/hook.log")"
path=$(sed -n 's/^path=//p' "$W/hook.log")
expect_eq "receipt(VERIFY-1).result" "$(receipt "$R" VERIFY-1 result)" failed
expect_eq "receipt(VERIFY-1).failed_step" "$(receipt "$R" VERIFY-1 failed_step)" verify
expect_eq "receipt(VERIFY-1).verify.ok" "$(receipt "$R" VERIFY-1 verify.ok)" false
got=$(receipt "$R" VERIFY-1 'verify.failed_files.*.path')
case ",$got," in
*",$path,"* | *",/$path,"* | *",${path#/},"*) ;;
*) fail "receipt(VERIFY-1).verify.failed_files paths = '$got', want one to be '$path'" ;;
esac
[ -e "/sys/bus/usb/devices/$port" ] || fail "the stick was ejected (/sys/bus/usb/devices/$port gone) although verify failed"
[ -e "/sys/block/$d" ] || fail "/sys/block/$d gone although verify failed"
station_stop
pass

# 4-unplug: a stick pulled in the middle of a 64 MiB write: its job fails
# naming the step (result failed or removed, failed_step set); the station
# keeps running; the same stick plugged again is written and verifies, and
# the guest kernel reads back the whole set.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
d=$(plug big 0781 5567 UNPLUG-1 SanDisk Cruzer 128 dummy_udc.0) || fail "plug big"

# Pull it once 16 MiB have been written to it (the copy is under way).
_written() { [ "$(awk '{print $7}' "/sys/block/$d/stat" 2>/dev/null || echo 0)" -ge $((16 * 2048)) ]; }
_written_or_done() { _written || _has_receipts "$R" UNPLUG-1 1; }
wait_for 240 _written_or_done || fail "no 16 MiB written to /dev/$d within 240s"
[ "$(receipt_count "$R" UNPLUG-1)" = 0 ] || fail "the job ended (result $(receipt "$R" UNPLUG-1 result)) before 16 MiB were seen written; the unplug came too late"
info "unplugging after $(($(awk '{print $7}' "/sys/block/$d/stat") / 2048)) MiB written"
unplug big

wait_receipts "$R" UNPLUG-1 1 120
res=$(receipt "$R" UNPLUG-1 result)
case $res in
failed | removed) ;;
*) fail "receipt(UNPLUG-1 #1).result = '$res', want failed or removed" ;;
esac
step=$(receipt "$R" UNPLUG-1 failed_step)
[ -n "$step" ] || fail "receipt(UNPLUG-1 #1).failed_step is empty, want the step that was running"
info "pulled stick: result=$res failed_step=$step error=$(receipt "$R" UNPLUG-1 error)"
station_alive || fail "the station exited after the stick was pulled"

plug big >/dev/null || fail "re-plug big"
wait_receipts "$R" UNPLUG-1 2 300
expect_eq "receipt(UNPLUG-1 #2).result (error: $(receipt "$R" UNPLUG-1 error))" "$(receipt "$R" UNPLUG-1 result)" "done"
expect_eq "receipt(UNPLUG-1 #2).verify.ok" "$(receipt "$R" UNPLUG-1 verify.ok)" true
station_stop

mount_stick big vfat /tmp/mnt/big || fail "mount big read-only failed"
check_tree /content/big /tmp/mnt/big || fail "files on the re-written stick differ from /content/big"
umount /tmp/mnt/big
pass

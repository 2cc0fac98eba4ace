# 8-include-present: with --include-present, a stick already plugged when
# the station starts is taken and written like a new one.
R=$W/receipts.jsonl
plug ip 0781 5567 INCLUDE-1 SanDisk Cruzer 64 dummy_udc.0 >/dev/null || fail "plug ip"
station_start run --include-present --receipts "$R" --log-format text --log-level debug /e2e/profiles/route.hcl
wait_receipts "$R" INCLUDE-1 1 240
expect_eq "receipt(INCLUDE-1).result (error: $(receipt "$R" INCLUDE-1 error))" "$(receipt "$R" INCLUDE-1 result)" "done"
expect_eq "receipt(INCLUDE-1).profile" "$(receipt "$R" INCLUDE-1 profile)" docs
station_stop
mount_stick ip vfat /tmp/mnt/ip || fail "mount ip read-only failed"
check_tree /content/docs /tmp/mnt/ip '*.jpg' || fail "files on the present stick differ from /content/docs"
umount /tmp/mnt/ip
pass

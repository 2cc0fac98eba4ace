# 9-sigterm: SIGTERM in the middle of a 64 MiB job: the station stops taking
# sticks (one plugged now keeps its bytes), lets the running job finish
# (receipt done, verified) and then exits 0.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
d=$(plug st 0781 5567 SIGTERM-1 SanDisk Cruzer 128 dummy_udc.0) || fail "plug st"
_written() { [ "$(awk '{print $7}' "/sys/block/$d/stat" 2>/dev/null || echo 0)" -ge $((8 * 2048)) ]; }
_written_or_done() { _written || _has_receipts "$R" SIGTERM-1 1; }
wait_for 240 _written_or_done || fail "no 8 MiB written to /dev/$d within 240s"
[ "$(receipt_count "$R" SIGTERM-1)" = 0 ] || fail "the job ended before SIGTERM could be sent mid-write"
kill -TERM "$STATION_PID"
info "SIGTERM sent after $(($(awk '{print $7}' "/sys/block/$d/stat") / 2048)) MiB written"
station_alive || fail "the station exited at once on SIGTERM, with a job running"
plug late 0781 5567 SIGTERM-2 SanDisk Cruzer 64 dummy_udc.1 >/dev/null || fail "plug late"
before=$(sha1sum "$(stick_img late)" | cut -d' ' -f1)
wait_for 180 _exited "$STATION_PID" || fail "the station did not exit within 180s of SIGTERM"
wait "$STATION_PID"
expect_eq "station exit status after SIGTERM" "$?" 0
expect_eq "receipts for SIGTERM-1" "$(receipt_count "$R" SIGTERM-1)" 1
expect_eq "receipt(SIGTERM-1).result (error: $(receipt "$R" SIGTERM-1 error))" "$(receipt "$R" SIGTERM-1 result)" "done"
expect_eq "receipt(SIGTERM-1).verify.ok" "$(receipt "$R" SIGTERM-1 verify.ok)" true
expect_eq "receipts for the stick plugged after SIGTERM" "$(receipt_count "$R" SIGTERM-2)" 0
expect_eq "sha1 of the stick plugged after SIGTERM" "$(sha1sum "$(stick_img late)" | cut -d' ' -f1)" "$before"
pass

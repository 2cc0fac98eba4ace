# 2-present: a stick present before the station starts is left alone (its
# backing file's bytes are unchanged) while a stick inserted afterwards is
# written.
R=$W/receipts.jsonl
plug pre 0781 5567 PRESENT-1 SanDisk Cruzer 64 dummy_udc.0 >/dev/null || fail "plug pre"
before=$(sha1sum "$(stick_img pre)" | cut -d' ' -f1)
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/route.hcl
plug post 0781 5567 PRESENT-2 SanDisk Cruzer 64 dummy_udc.1 >/dev/null || fail "plug post"
wait_receipts "$R" PRESENT-2 1 240
expect_eq "receipt(PRESENT-2).result (error: $(receipt "$R" PRESENT-2 error))" "$(receipt "$R" PRESENT-2 result)" "done"
station_stop
expect_eq "receipts for the present stick PRESENT-1" "$(receipt_count "$R" PRESENT-1)" 0
expect_eq "sha1 of the present stick's bytes" "$(sha1sum "$(stick_img pre)" | cut -d' ' -f1)" "$before"
pass

# 3-nomatch: a stick no profile matches (vendor 1234 on port 1-1) is left
# alone: bytes unchanged, no done receipt; a matching stick plugged after it
# is written, which proves the station saw both.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/route.hcl
plug odd 1234 abcd NOMATCH-1 Acme Odd 64 dummy_udc.0 >/dev/null || fail "plug odd"
before=$(sha1sum "$(stick_img odd)" | cut -d' ' -f1)
plug ok 0781 5567 NOMATCH-2 SanDisk Cruzer 64 dummy_udc.1 >/dev/null || fail "plug ok"
wait_receipts "$R" NOMATCH-2 1 240
expect_eq "receipt(NOMATCH-2).result (error: $(receipt "$R" NOMATCH-2 error))" "$(receipt "$R" NOMATCH-2 result)" "done"
station_stop
if [ "$(receipt_count "$R" NOMATCH-1)" != 0 ]; then
	info "receipt for the unmatched stick: profile='$(receipt "$R" NOMATCH-1 profile)' result='$(receipt "$R" NOMATCH-1 result)'"
	expect_eq "receipt(NOMATCH-1).profile" "$(receipt "$R" NOMATCH-1 profile)" ""
	[ "$(receipt "$R" NOMATCH-1 result)" != "done" ] || fail "receipt(NOMATCH-1).result = done, want no job"
fi
expect_eq "sha1 of the unmatched stick's bytes" "$(sha1sum "$(stick_img odd)" | cut -d' ' -f1)" "$before"
pass

# 10-concurrency: three 64 MiB jobs under a station with concurrency = 2:
# sampling /sys/block/sdX/inflight, at no instant do more than two sticks
# have I/O in flight, and at some instant two do; all three end done.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
d1=$(plug c1 0781 5567 CONC-1 SanDisk Cruzer 128 dummy_udc.0) || fail "plug c1"
d2=$(plug c2 0781 5567 CONC-2 SanDisk Cruzer 128 dummy_udc.1) || fail "plug c2"
d3=$(plug c3 0781 5567 CONC-3 SanDisk Cruzer 128 dummy_udc.2) || fail "plug c3"
max=0 samples=0 end=$(($(now) + 300))
while :; do
	c=0
	for d in $d1 $d2 $d3; do
		read -r r w <"/sys/block/$d/inflight" 2>/dev/null || continue
		[ $((r + w)) -gt 0 ] && c=$((c + 1))
	done
	[ $c -gt $max ] && max=$c
	samples=$((samples + 1))
	if [ $((samples % 20)) = 0 ]; then
		[ "$(receipt_count "$R")" -ge 3 ] && break
		[ "$(now)" -lt "$end" ] || fail "not all three jobs ended within 300s"
	fi
	usleep 50000
done
info "most sticks with I/O in flight at one instant: $max ($samples samples)"
for s in CONC-1 CONC-2 CONC-3; do
	expect_eq "receipt($s).result (error: $(receipt "$R" "$s" error))" "$(receipt "$R" "$s" result)" "done"
done
station_stop
[ "$max" -le 2 ] || fail "$max sticks had I/O in flight at once, want at most 2 (station concurrency = 2)"
expect_eq "most sticks with I/O in flight at once" "$max" 2
pass

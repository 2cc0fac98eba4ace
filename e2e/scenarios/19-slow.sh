# 19-slow: a slow stick on the real USB stack, failed by the probe's
# min_write_mbps (3 MB/s, the SPEED* profile of probe.hcl), in one run
# with a sound one.
# SPEED-SLOW is a dm-delay device (every write held 1 s, reads not delayed)
# behind a mass-storage gadget. The gadget writes its dm device through
# the guest's page cache, which would hide any delay; with the guest's
# dirty cache capped at 2 MiB (small_dirty_cache) its writes wait for
# writeback, and since a written byte stays dirty or under writeback for
# at least the 1 s delay, the stick cannot write faster than about
# 2 MiB/s (measured on 6.1: 1.5 and 1.7 MB/s; the sound tmpfs-backed
# stick beside it 8.6 and 23.7 MB/s under TCG). SPEED-SLOW fails in the
# probe, its receipt naming the rate measured and the minimum, and no
# step after the probe runs on it; SPEED-FAST passes the probe, is
# written, verified, and reads back.
R=$W/receipts.jsonl
M=1048576
small_dirty_cache $((2 * M)) || fail "cannot set vm.dirty_bytes"
make_dm slow 128 "0 262144 delay @ 0 0 @ 0 1000" >/dev/null || fail "make_dm slow"
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/probe.hcl
plug slow 0781 5567 SPEED-SLOW SanDisk Cruzer 128 dummy_udc.0 >/dev/null || fail "plug slow"
plug ok 0781 5567 SPEED-FAST SanDisk Cruzer 128 dummy_udc.1 >/dev/null || fail "plug ok"
for s in SPEED-SLOW SPEED-FAST; do wait_receipts "$R" "$s" 1 270; done
station_alive || fail "the station exited after the slow stick failed"
P=steps.kind=probe.details
for s in SPEED-SLOW SPEED-FAST; do
	info "$s: result=$(receipt "$R" $s result) error=$(receipt "$R" $s error) probe: write_mbps=$(receipt "$R" $s $P.write_mbps) read_mbps=$(receipt "$R" $s $P.read_mbps) written=$(receipt "$R" $s $P.probe_written)"
done
w=$(receipt "$R" SPEED-SLOW $P.write_mbps)
check_eq "receipt(SPEED-SLOW).result" "$(receipt "$R" SPEED-SLOW result)" failed
check_eq "receipt(SPEED-SLOW).failed_step" "$(receipt "$R" SPEED-SLOW failed_step)" probe
# The error names the rate measured (the receipt's, to 0.1) and the minimum.
err=$(receipt "$R" SPEED-SLOW error)
got=$(echo "$err" | sed -n 's/^too slow: writes \([0-9.]*\) MB\/s past its cache, the minimum is 3 MB\/s$/\1/p')
[ -n "$got" ] || check_eq "receipt(SPEED-SLOW).error" "$err" "too slow: writes N MB/s past its cache, the minimum is 3 MB/s"
awk -v w="$w" -v e="${got:-0}" 'BEGIN {d = w - e; exit !(w > 0 && w < 3 && d < 0.11 && d > -0.11)}' ||
	check_eq "receipt(SPEED-SLOW).$P.write_mbps (the error says $got)" "$w" "below 3, as the error says"
check_eq "receipt(SPEED-SLOW).$P.fake" "$(receipt "$R" SPEED-SLOW $P.fake)" false
check_eq "steps SPEED-SLOW ran after the probe" "$(receipt "$R" SPEED-SLOW steps.kind=wipe.kind)" ""
check_done "$R" SPEED-FAST
station_stop
default_dirty_cache
check_reads_back ok vfat /content/docs '*.jpg'
finish

# 20-flaky: sticks that fail now and then, on the real USB stack: dm-flakey
# devices behind mass-storage gadgets, sound while the wipe and the first
# 16 MiB of the 64 MiB write (big.hcl) go through, then given a flakey
# table (up 1 s, down 3 s, from the moment it is loaded). FLAKY-IO fails
# every read and write while down; FLAKY-DROP drops writes while down
# (drop_writes: acknowledged, never stored) and reads right. Neither is
# ever done: each fails in the write or verify stage, its receipt naming
# it; FLAKY-DROP, whose I/O never fails, in verify (what it read back
# differs). A sound stick in the same run is done, verified and reads
# back right, and the station goes on. Measured on 6.1: FLAKY-IO failed
# in the write stage ("the stick accepted all N bytes written, then
# failed to store some of them when its cache was flushed at the end
# (where is not known): ... input/output error": the host's flush at the
# end of the write failed, retries and all, after the gadget's "lost async page write"s on the dm device; see
# 16-badblocks for a single lost write-back, which a retry hides),
# FLAKY-DROP in verify ("verification failed on /dev/sdb: large.bin;
# sub/after.txt; metadata: dir /sub").
R=$W/receipts.jsonl
S=262144 # 512-byte sectors in 128 MiB
make_dm io 128 "0 $S linear @ 0" >/dev/null || fail "make_dm io"
make_dm drop 128 "0 $S linear @ 0" >/dev/null || fail "make_dm drop"
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
dio=$(plug io 0781 5567 FLAKY-IO SanDisk Cruzer 128 dummy_udc.0) || fail "plug io"
ddrop=$(plug drop 0781 5567 FLAKY-DROP SanDisk Cruzer 128 dummy_udc.1) || fail "plug drop"
plug ok 0781 5567 STEADY SanDisk Cruzer 128 dummy_udc.2 >/dev/null || fail "plug ok"
_written() { [ "$(awk '{print $7}' "/sys/block/$1/stat" 2>/dev/null || echo 0)" -ge $((16 * 2048)) ]; }
for x in io:FLAKY-IO:$dio:"" drop:FLAKY-DROP:$ddrop:"1 drop_writes"; do
	IFS=: read -r n s d feat <<EOT
$x
EOT
	wait_for 240 _written "$d" || fail "no 16 MiB written to $s within 240s"
	[ "$(receipt_count "$R" "$s")" = 0 ] || fail "$s's job ended before 16 MiB were written"
	e2etool dm load "dm-$n" "0 $S flakey $(cat "$STICKS/$n.loop") 0 1 3 $feat" && e2etool dm resume "dm-$n" ||
		fail "cannot load the flakey table into dm-$n"
	info "$s flakey after $(($(awk '{print $7}' "/sys/block/$d/stat") / 2048)) MiB written"
done
for s in FLAKY-IO FLAKY-DROP STEADY; do wait_receipts "$R" "$s" 1 270; done
station_alive || fail "the station exited after the flaky sticks failed"
for s in FLAKY-IO FLAKY-DROP; do
	step=$(receipt "$R" "$s" failed_step)
	info "$s: result=$(receipt "$R" "$s" result) failed_step=$step error=$(receipt "$R" "$s" error)"
	check_eq "receipt($s).result" "$(receipt "$R" "$s" result)" failed
	case $step in
	write | verify) ;;
	*) check_eq "receipt($s).failed_step" "$step" "write or verify" ;;
	esac
	[ -n "$(receipt "$R" "$s" error)" ] || check_eq "receipt($s).error" "" "the failure"
done
check_eq "receipt(FLAKY-DROP).failed_step" "$(receipt "$R" FLAKY-DROP failed_step)" verify
check_eq "receipt(FLAKY-DROP).verify.ok" "$(receipt "$R" FLAKY-DROP verify.ok)" false
check_done "$R" STEADY
station_stop
check_reads_back ok vfat /content/big
finish

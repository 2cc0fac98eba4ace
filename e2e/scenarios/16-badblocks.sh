# 16-badblocks: sticks with a bad region, made by device-mapper behind the
# mass-storage gadgets (make_dm), written with 64 MiB of content by
# profiles/big.hcl (no probe) in one run with a sound stick. BADW has a
# dm-error target over 40..48 MiB from the start, where the big file's
# data goes; BADV is sound while written, and the test hook before verify
# loads the same bad region into its table. Both fail at verify, the
# receipt naming the stage and the offset of the first unreadable block;
# the sound stick is done, verified and reads back right, and the station
# goes on. BADW's write does not fail: the gadget writes its backing file
# through the guest's page cache, so a refused write fails only there,
# later. The host hears of it once: the SYNCHRONIZE CACHE at the end of
# the write gets a write error (the gadget's fsync reports a lost
# write-back once), and the SCSI midlayer retries the command (a MEDIUM
# ERROR it takes for recoverable), which then succeeds, so the host's
# fsync returns 0 (traced with the scsi_dispatch_cmd_done event on 6.1).
# What it read back is what proves the region bad, as with a stick whose
# controller acknowledges writes it then loses.
R=$W/receipts.jsonl
M=1048576
bad="0 81920 linear @ 0; 81920 16384 error; 98304 163840 linear @ 98304" # sectors: 40..48 MiB fail
make_dm badw 128 "$bad" >/dev/null || fail "make_dm badw"
make_dm badv 128 "0 262144 linear @ 0" >/dev/null || fail "make_dm badv"
# The hook turns 40..48 MiB of badv bad.
before_verify badv "e2etool dm load dm-badv '$(echo "$bad" | sed "s|@|$(cat "$STICKS/badv.loop")|g")' &&
	e2etool dm resume dm-badv && blockdev --flushbufs $(cat "$STICKS/badv.backing")"
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
plug badw 0781 5567 BAD-WRITE SanDisk Cruzer 128 dummy_udc.0 >/dev/null || fail "plug badw"
plug badv 0781 5567 BAD-VERIFY SanDisk Cruzer 128 dummy_udc.1 >/dev/null || fail "plug badv"
plug ok 0781 5567 SOUND SanDisk Cruzer 128 dummy_udc.2 >/dev/null || fail "plug ok"
for s in BAD-WRITE BAD-VERIFY SOUND; do wait_receipts "$R" "$s" 1 270; done
station_alive || fail "the station exited after the bad sticks failed"
info "hook: $(tr '\n' ' ' <"$W/hook.log")"
grep -q '^hook done' "$W/hook.log" || fail "the hook did not load the bad region into badv"

# offset_of ERROR prints the number after the last " at " in ERROR.
offset_of() { echo "$1" | sed -n 's/.* at \([0-9][0-9]*\)[^0-9].*/\1/p'; }
for x in BAD-WRITE:verify BAD-VERIFY:verify; do
	s=${x%%:*} stage=${x#*:}
	err=$(receipt "$R" "$s" error)
	info "$s: failed_step=$(receipt "$R" "$s" failed_step) error=$err bytes_written=$(receipt "$R" "$s" bytes_written)"
	check_eq "receipt($s).result" "$(receipt "$R" "$s" result)" failed
	check_eq "receipt($s).failed_step" "$(receipt "$R" "$s" failed_step)" "$stage"
	off=$(offset_of "$err")
	# A read call (of a 2 MiB window at most) starts at most 2 MiB below it.
	[ -n "$off" ] && [ "$off" -ge $((38 * M)) ] && [ "$off" -lt $((48 * M)) ] ||
		check_eq "offset named in receipt($s).error" "$off" "38..48 MiB"
done
check_eq "receipt(SOUND).result (error: $(receipt "$R" SOUND error))" "$(receipt "$R" SOUND result)" done
check_eq "receipt(SOUND).verify.ok" "$(receipt "$R" SOUND verify.ok)" true
station_stop
mount_stick ok vfat /tmp/mnt/ok || fail "mount ok read-only failed"
check_tree /content/big /tmp/mnt/ok || check_eq "files on SOUND" differ "as /content/big"
umount /tmp/mnt/ok
finish

# 18-hung: sticks that stop answering mid-write, on the real USB stack.
# Each is a device-mapper device behind a mass-storage gadget (make_dm),
# suspended once 16 MiB of the 64 MiB write (big.hcl) reached the stick.
# The gadget writes its dm device through the guest's page cache, so the
# guest's dirty cache is capped at 4 MiB (small_dirty_cache): its thread
# then waits in balance_dirty_pages for a writeback the suspended device
# never completes (D state), and the host's WRITE command stays in flight.
# The hung sticks' SCSI timeout is raised from 30 s to 600 s, so the
# host's own error handling does not end the hang before the station
# does. (Measured with the default 30 s and no station timeout: the
# kernel reset the stick 32 s into the hang, the gadget, its thread
# stuck, could not restore its configuration, the stick left the bus,
# and the job ended "removed during write" 37 s into the hang.)
#
# 1. HUNG-1 (write timeout 40s) with two sound sticks: HUNG-1 fails in the
#    write stage with "timed out after 40s: the stick stopped answering"
#    while its write is still in flight in the kernel; the sound sticks
#    are done and verified meanwhile, and the station runs on. Resumed,
#    the device gives the write back and the station closes it.
# 2. STALL-2 (no timeout) hangs the same way, and the station gets SIGTERM
#    (grace 5s): STALL-2's receipt ("aborted during write (station shutting
#    down): the stick stopped answering") comes within the grace period,
#    the 3 s the station waits for a stage, and a margin, and so does the
#    exit of the station's main thread. The process is not gone then: the
#    threads whose writes the kernel holds stay in D state (a process
#    exits when its last thread does) until the device is resumed (on a
#    real stick: until the SCSI error handler gives up or the stick is
#    pulled); then it is reaped, exit status 0. Its locks go with the main
#    thread: meanwhile a new station on the same receipts starts, leaves
#    the sticks present alone and stops. Measured on 6.1: receipt and
#    main thread 8 s after SIGTERM, two threads left in blk_mq_get_tag,
#    reaped within 1 s of the resume.
R=$W/receipts.jsonl
M=1048576
small_dirty_cache $((4 * M)) || fail "cannot set vm.dirty_bytes"
make_dm hung 128 "0 262144 linear @ 0" >/dev/null || fail "make_dm hung"
make_dm stall 128 "0 262144 linear @ 0" >/dev/null || fail "make_dm stall"
station_start run -n 3 --grace 5s --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl
d=$(plug hung 0781 5567 HUNG-1 SanDisk Cruzer 128 dummy_udc.0) || fail "plug hung"
echo 600 >"/sys/block/$d/device/timeout" || fail "cannot raise the SCSI timeout of $d"
plug ok1 0781 5567 SOUND-1 SanDisk Cruzer 128 dummy_udc.1 >/dev/null || fail "plug ok1"
plug ok2 0781 5567 SOUND-2 SanDisk Cruzer 128 dummy_udc.2 >/dev/null || fail "plug ok2"

# written DEV MIB: the host wrote at least MIB MiB to DEV.
_written() { [ "$(awk '{print $7}' "/sys/block/$1/stat" 2>/dev/null || echo 0)" -ge $(($2 * 2048)) ]; }
# inflight DEV: I/O the host sent DEV that has not come back.
inflight() { awk '{print $1 + $2}' "/sys/block/$1/inflight" 2>/dev/null || echo 0; }
_hung() { [ "$(inflight "$1")" -gt 0 ]; }
hang() { # hang NAME DEV SERIAL
	wait_for 240 _written "$2" 16 || fail "no 16 MiB written to $3 within 240s"
	[ "$(receipt_count "$R" "$3")" = 0 ] || fail "$3's job ended before 16 MiB were written; the hang came too late"
	e2etool dm suspend "dm-$1" || fail "e2etool dm suspend dm-$1"
	wait_for 60 _hung "$2" || fail "no I/O held on $3's /dev/$2 60s after its dm device was suspended"
	info "$3 hung after $(($(awk '{print $7}' "/sys/block/$2/stat") / 2048)) MiB written"
}

hang hung "$d" HUNG-1
wait_receipts "$R" HUNG-1 1 120
check_eq "HUNG-1's write still held by the kernel when its receipt came" "$(_hung "$d" && echo held)" held
err=$(receipt "$R" HUNG-1 error)
info "HUNG-1: write stage $(receipt "$R" HUNG-1 steps.kind=write.duration_ms) ms: $err"
check_eq "receipt(HUNG-1).result" "$(receipt "$R" HUNG-1 result)" failed
check_eq "receipt(HUNG-1).failed_step" "$(receipt "$R" HUNG-1 failed_step)" write
case $err in
"timed out after 40s: the stick stopped answering: write did not return"*) ;;
*) check_eq "receipt(HUNG-1).error" "$err" "timed out after 40s: the stick stopped answering: write did not return ..." ;;
esac
for s in SOUND-1 SOUND-2; do
	wait_receipts "$R" "$s" 1 240
	check_done "$R" "$s"
done
check_eq "HUNG-1's write still held by the kernel when the sound sticks were done" "$(_hung "$d" && echo held)" held
station_alive || fail "the station exited while HUNG-1 hung"

# Resumed, the stick answers: the stage the station gave up on returns
# and closes the device.
e2etool dm resume dm-hung || fail "e2etool dm resume dm-hung"
_closed() { grep -q 'the stage the station gave up on returned; device closed' "$W/station.log"; }
wait_for 60 _closed || check_eq "station log 60s after dm-hung resumed" "no 'device closed'" "the stage the station gave up on returned; device closed"

# 2. A stick hung when SIGTERM comes (a free port first).
unplug ok1 || fail "unplug ok1"
d2=$(plug stall 0781 5567 STALL-2 SanDisk Cruzer 128 dummy_udc.1) || fail "plug stall"
echo 600 >"/sys/block/$d2/device/timeout" || fail "cannot raise the SCSI timeout of $d2"
hang stall "$d2" STALL-2
sleep 2
kill -TERM "$STATION_PID" || fail "station not running at SIGTERM"
t=$(now)
# grace 5 s + 3 s for the stage + 30 s margin
wait_receipts "$R" STALL-2 1 38
info "STALL-2's receipt $(($(now) - t))s after SIGTERM"
err=$(receipt "$R" STALL-2 error)
check_eq "receipt(STALL-2).result" "$(receipt "$R" STALL-2 result)" failed
check_eq "receipt(STALL-2).failed_step" "$(receipt "$R" STALL-2 failed_step)" write
case $err in
"aborted during write (station shutting down): the stick stopped answering"*) ;;
*) check_eq "receipt(STALL-2).error" "$err" "aborted during write (station shutting down): the stick stopped answering ..." ;;
esac
if wait_for 38 _exited "$STATION_PID"; then
	info "station's main thread exited $(($(now) - t))s after SIGTERM; threads left: $(ls "/proc/$STATION_PID/task" 2>/dev/null | wc -l), in:$(for f in /proc/"$STATION_PID"/task/*/wchan; do printf ' %s' "$(cat "$f" 2>/dev/null)"; done)"
else
	check_eq "station's main thread 38s after SIGTERM (grace 5s)" running exited
fi
grep -q '^flashpipe: stopped: 2 done, 0 unverified, 2 failed' "$W/station.log" ||
	check_eq "station's summary" "$(grep '^flashpipe: stopped' "$W/station.log")" "flashpipe: stopped: 2 done, 0 unverified, 2 failed, ..."
# Its locks are given up with its main thread: a new station (on the same
# receipts) starts, leaves the sticks present alone, and stops.
flashpipe run --receipts "$R" --log-format text --log-level debug /e2e/profiles/big.hcl >"$W/station-2.log" 2>&1 &
p2=$!
echo "$p2" >"$W/station-2.pid"
if wait_for 60 _listening "$p2"; then
	info "a new station is up while the old one's threads wait in the kernel"
	kill -TERM "$p2"
	wait_for 60 _exited "$p2" || check_eq "new station 60s after SIGTERM" running exited
	wait "$p2"
	check_eq "new station's exit status" "$?" 0
else
	check_eq "new station while the old one's threads wait in the kernel (log: $(tail -n 3 "$W/station-2.log" | tr '\n' ' '))" "not up after 60s" up
fi
e2etool dm resume dm-stall || fail "e2etool dm resume dm-stall"
t=$(now)
_gone() { [ "$(ls "/proc/$STATION_PID/task" 2>/dev/null | wc -l)" -le 1 ]; }
wait_for 60 _gone || fail "station still has threads 60s after dm-stall resumed"
wait "$STATION_PID"
rc=$?
info "station reaped $(($(now) - t))s after the resume"
check_eq "station exit status after SIGTERM" "$rc" 0
default_dirty_cache

check_reads_back ok2 vfat /content/big
finish

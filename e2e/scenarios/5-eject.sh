# 5-eject: after a successful job the stick's USB device is gone from the
# bus (its sysfs node disappears), and what was written reads back right.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/eject.hcl
d=$(plug ej 0781 5567 EJECT-1 SanDisk Cruzer 64 dummy_udc.1) || fail "plug ej"
port=$(stick_port ej)
[ -e "/sys/bus/usb/devices/$port" ] || fail "/sys/bus/usb/devices/$port missing right after plug"
wait_receipts "$R" EJECT-1 1 240
_gone() { ! [ -e "/sys/bus/usb/devices/$port" ]; }
wait_for 30 _gone || fail "/sys/bus/usb/devices/$port still present 30s after the job ended"
[ -e "/sys/block/$d" ] && fail "/sys/block/$d still present after eject"
info "USB device $port left the bus"
check_eq "receipt(EJECT-1).result (error: $(receipt "$R" EJECT-1 error))" "$(receipt "$R" EJECT-1 result)" "done"
case ",$(receipt "$R" EJECT-1 'steps.*.kind')," in
*,eject,*) ;;
*) fail "receipt(EJECT-1).steps kinds = $(receipt "$R" EJECT-1 'steps.*.kind'), want an eject step" ;;
esac
station_stop

mount_stick ej vfat /tmp/mnt/ej || fail "mount ej read-only failed"
check_tree /content/docs /tmp/mnt/ej '*.jpg' || fail "files on the ejected stick differ from /content/docs"
umount /tmp/mnt/ej
expect_label EJECTED "/dev/$(stick_dev ej)1"
finish

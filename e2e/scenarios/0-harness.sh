# 0-harness: the harness itself, no flashpipe: three sticks on three buses
# carry the ids we gave them, bytes written to /dev/sdX land in the backing
# file, unplug removes the disk, a re-plug shows the same bytes, and
# busybox findfs reads a FAT label (the label oracle later scenarios use).
a=$(plug ha 0781 5567 HARNESS-A SanDisk Cruzer 64) || fail "plug ha"
b=$(plug hb 0951 1666 HARNESS-B Kingston DataTraveler 64) || fail "plug hb"
c=$(plug hc 090c 1000 HARNESS-C SMI Generic 64) || fail "plug hc"
pa=$(stick_port ha) pb=$(stick_port hb) pc=$(stick_port hc)
info "ha=$a@$pa hb=$b@$pb hc=$c@$pc"
[ "${pa%%-*}" != "${pb%%-*}" ] && [ "${pb%%-*}" != "${pc%%-*}" ] && [ "${pa%%-*}" != "${pc%%-*}" ] ||
	fail "sticks share a bus: $pa $pb $pc"
u=/sys/bus/usb/devices/$pb
expect_eq "idVendor of $pb" "$(cat "$u/idVendor")" 0951
expect_eq "idProduct of $pb" "$(cat "$u/idProduct")" 1666
expect_eq "serial of $pb" "$(cat "$u/serial")" HARNESS-B
expect_eq "manufacturer of $pb" "$(cat "$u/manufacturer")" Kingston
expect_eq "removable of $b" "$(cat "/sys/block/$b/removable")" 1
expect_eq "size of $b (512-byte sectors)" "$(cat "/sys/block/$b/size")" $((64 * 2048))

# Write through the USB stack, read the backing file.
dd if=/dev/urandom of="$W/pattern" bs=64k count=16 2>/dev/null
dd if="$W/pattern" of="/dev/$b" bs=64k seek=32 conv=fsync 2>/dev/null || fail "dd to /dev/$b"
got=$(dd if="$(stick_img hb)" bs=64k skip=32 count=16 2>/dev/null | sha1sum | cut -d' ' -f1)
expect_eq "sha1 of backing file at 2 MiB" "$got" "$(sha1sum <"$W/pattern" | cut -d' ' -f1)"

unplug hb
[ -e "$u" ] && fail "$u still present after unplug"
[ -e "/sys/block/$b" ] && fail "/sys/block/$b still present after unplug"

# A FAT label made on the stick is visible after a re-plug.
mkdosfs -n HARNESS /dev/"$c" >/dev/null 2>&1 || fail "mkdosfs /dev/$c"
sync
unplug hc
c=$(plug hc) || fail "re-plug hc"
expect_label HARNESS "/dev/$c"
mkdir -p /tmp/mnt/hc
mount -t vfat -o ro "/dev/$c" /tmp/mnt/hc || fail "mount vfat /dev/$c"
umount /tmp/mnt/hc
pass

# 13-image: an xz-compressed two-partition image (MBR, FAT32 boot + ext4
# root, as Raspberry Pi OS ships) with its bmap, written by the station to
# two sticks of different sizes at once: one full of stale bytes (0xA5), one
# fresh. Read back by the guest kernel from re-plugged devices: both
# partitions of each mount (vfat, ext4) and hold the trees the host put in
# the image; every mapped range of each backing file equals the raw image
# (decoded by busybox, not flashpipe, and checked against the host's
# SHA-256), while stale bytes outside the map are left alone; receipts give
# the image's SHA-256 and the mapped bytes. A third stick, smaller than the
# image, is refused: receipt failed, "nothing written", backing file
# byte for byte unchanged.
I=/e2e/image
R=$W/receipts.jsonl
read -r isize _ <"$I/layout"
want_sha=$(cat "$I/pi.img.sha256")
unxz -c "$I/pi.img.xz" >"$W/raw.img" || fail "busybox unxz $I/pi.img.xz failed"
expect_eq "sha256 of pi.img.xz decoded by busybox" "$(sha256sum "$W/raw.img" | cut -d' ' -f1)" "$want_sha"

# pi1 (128 MiB): stale data, every byte 0xA5. pi2 (192 MiB): plug's usual
# random head and tail. pi3 (64 MiB): smaller than the 96 MiB image.
dd if=/dev/zero bs=1M count=128 2>/dev/null | tr '\000' '\245' >"$(stick_img pi1)"
truncate -s 64M "$(stick_img pi3)"
dd if=/dev/urandom of="$(stick_img pi3)" bs=1M count=4 conv=notrunc 2>/dev/null
small_before=$(sha256sum "$(stick_img pi3)" | cut -d' ' -f1)
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/image.hcl
plug pi3 0781 5567 IMAGE-SMALL SanDisk "Cruzer Fit" 64 dummy_udc.2 >/dev/null || fail "plug pi3"
plug pi1 0781 5581 IMAGE-1 SanDisk "Ultra" 128 dummy_udc.0 >/dev/null || fail "plug pi1"
plug pi2 0951 1666 IMAGE-2 Kingston "DataTraveler 3.0" 192 dummy_udc.1 >/dev/null || fail "plug pi2"
for s in IMAGE-SMALL IMAGE-1 IMAGE-2; do wait_receipts "$R" "$s" 1 240; done
station_stop
unplug pi3

# The small stick: refused before a byte was written.
expect_eq "receipt(IMAGE-SMALL).result" "$(receipt "$R" IMAGE-SMALL result)" failed
expect_eq "receipt(IMAGE-SMALL).failed_step" "$(receipt "$R" IMAGE-SMALL failed_step)" image
expect_eq "receipt(IMAGE-SMALL).bytes_written" "$(receipt "$R" IMAGE-SMALL bytes_written)" 0
err=$(receipt "$R" IMAGE-SMALL error)
case $err in
*"nothing written"*) ;;
*) fail "receipt(IMAGE-SMALL).error = '$err', want it to say nothing was written" ;;
esac
expect_eq "sha256 of the small stick's backing file after the station saw it" "$(sha256sum "$(stick_img pi3)" | cut -d' ' -f1)" "$small_before"
expect_eq "image files in the station's cache (decoded once for all sticks)" "$(ls "$W"/image-cache/*.img 2>/dev/null | wc -l)" 1

# remount NAME: a fresh device (no cached pages); partition 1 (vfat) at
# /tmp/mnt/NAME-boot and 2 (ext4) at /tmp/mnt/NAME-root, read-only.
remount() {
	unplug "$1"
	d=$(plug "$1") || return 1
	wait_for 20 test -b "/dev/${d}2" || { info "no /dev/${d}2"; return 1; }
	mkdir -p "/tmp/mnt/$1-boot" "/tmp/mnt/$1-root"
	mount -t vfat -o ro,iocharset=utf8,shortname=mixed "/dev/${d}1" "/tmp/mnt/$1-boot" || return 1
	mount -t ext4 -o ro "/dev/${d}2" "/tmp/mnt/$1-root" || return 1
}

for x in pi1:IMAGE-1:128 pi2:IMAGE-2:192; do
	IFS=: read -r n s mib <<EOT
$x
EOT
	expect_eq "receipt($s).result (error: $(receipt "$R" "$s" error))" "$(receipt "$R" "$s" result)" done
	expect_eq "receipt($s).verify.ok" "$(receipt "$R" "$s" verify.ok)" true
	img=steps.kind=image.details
	expect_eq "receipt($s).$img.image_sha256" "$(receipt "$R" "$s" $img.image_sha256)" "$want_sha"
	expect_eq "receipt($s).$img.image_bytes" "$(receipt "$R" "$s" $img.image_bytes)" "$isize"
	expect_eq "receipt($s).$img.bytes_past_image" "$(receipt "$R" "$s" $img.bytes_past_image)" $((mib * 1048576 - isize))
	expect_eq "receipt($s).$img.bmap (the block map used)" "$(receipt "$R" "$s" $img.bmap)" "$I/pi.img.bmap"

	# Every mapped range of the stick is the image's: no stale byte shows through.
	cmp=$(e2etool bmapcmp "$I/pi.img.bmap" "$W/raw.img" "$(stick_img "$n")" 2>"$W/bmapcmp.err") ||
		fail "stick $n is not the image inside the block map: $(cat "$W/bmapcmp.err")"
	set -- $cmp
	mapped=$1 unmapped_diff=$3
	[ "$n" = pi1 ] && stale_left=$unmapped_diff
	info "$n: $mapped of $2 image bytes mapped and equal; $unmapped_diff bytes outside the map differ from the image"
	[ "$mapped" -lt "$isize" ] || fail "the block map maps $mapped of $isize bytes: the test image should be sparse"
	expect_eq "receipt($s).$img.mapped_bytes" "$(receipt "$R" "$s" $img.mapped_bytes)" "$mapped"

	remount "$n" || fail "mounting both partitions of $n read-only failed"
	d=$(stick_dev "$n")
	expect_eq "partition table of $n" "$(ptable_kind "/dev/$d")" mbr
	expect_eq "filesystem of ${d}1 ($n)" "$(fs_kind "/dev/${d}1")" FAT32
	check_tree "$I/boot" "/tmp/mnt/$n-boot" || fail "boot partition of $n differs from the image's"
	check_tree "$I/root" "/tmp/mnt/$n-root" || fail "root partition of $n differs from the image's"
	expect_eq "symlink /bin on $n's root" "$(readlink "/tmp/mnt/$n-root/bin")" usr/bin
	umount "/tmp/mnt/$n-boot" "/tmp/mnt/$n-root"
done
# The stale stick proves the check can fail: its pattern is still there
# outside the map, where the image step writes nothing.
[ "$stale_left" -gt 0 ] ||
	fail "no stale byte of pi1 survived outside the block map: the stale-data check proves nothing"
pass

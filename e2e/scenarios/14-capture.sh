# 14-capture: a master stick captured and written again. The station
# writes scenario 13's image to a 128 MiB stick (the master); the guest
# mounts its boot partition read-write, adds a file and deletes one, and
# `flashpipe capture` of the stick is refused while that mount stands.
# Mounted read-only (both partitions), it is captured to .img.zst with a
# block map: FAT32 and ext4 mapped by what they use, the master's backing
# file byte for byte unchanged. A station with `run --image` of that
# capture writes a fresh 192 MiB stick; it reads back equal to the master
# in every mapped range (backing files compared), and the guest kernel
# mounts both partitions of each and finds the same trees, the added file
# there and the deleted one not.
R1=$W/master.jsonl
R=$W/receipts.jsonl
station_start run --receipts "$R1" --log-format text --log-level debug /e2e/profiles/image.hcl
plug cm 0781 5581 CAPTURE-MASTER SanDisk "Ultra" 128 dummy_udc.0 >/dev/null || fail "plug cm"
wait_receipts "$R1" CAPTURE-MASTER 1 240
station_stop
expect_eq "receipt(CAPTURE-MASTER).result (error: $(receipt "$R1" CAPTURE-MASTER error))" "$(receipt "$R1" CAPTURE-MASTER result)" done

# mount_parts NAME OPTS: re-plug NAME as a fresh device and mount partition
# 1 (vfat) at /tmp/mnt/NAME-boot and 2 (ext4) at /tmp/mnt/NAME-root with
# OPTS (ro or rw); prints the device (sdX).
mount_parts() {
	unplug "$1"
	d=$(plug "$1") || return 1
	wait_for 20 test -b "/dev/${d}2" || { info "no /dev/${d}2"; return 1; }
	mkdir -p "/tmp/mnt/$1-boot" "/tmp/mnt/$1-root"
	mount -t vfat -o "$2,iocharset=utf8,shortname=mixed" "/dev/${d}1" "/tmp/mnt/$1-boot" || return 1
	mount -t ext4 -o "$2" "/dev/${d}2" "/tmp/mnt/$1-root" || return 1
	echo "$d"
}

# The master changes: a file the image does not have, one it has deleted.
d=$(mount_parts cm rw) || fail "mounting the master's partitions read-write failed"
echo "only on the master, $(date)" >/tmp/mnt/cm-boot/master-only.txt
rm /tmp/mnt/cm-boot/LICENCE.broadcom /tmp/mnt/cm-root/var/log/messages
flashpipe capture "/dev/$d" -o "$W/refused.img.zst" >"$W/refused.log" 2>&1 &&
	fail "capture of /dev/$d with partitions mounted read-write succeeded"
grep -q "is mounted read-write at /tmp/mnt/cm-" "$W/refused.log" ||
	fail "capture of a read-write mounted stick: want a refusal naming the mount, got: $(tail -n 3 "$W/refused.log")"
[ ! -e "$W/refused.img.zst" ] && [ ! -e "$W/refused.img.zst.part" ] || fail "a refused capture left an image"
umount /tmp/mnt/cm-boot /tmp/mnt/cm-root

# Mounted read-only, the master is captured and does not change.
d=$(mount_parts cm ro) || fail "mounting the master's partitions read-only failed"
before=$(sha256sum "$(stick_img cm)" | cut -d' ' -f1)
flashpipe capture "/dev/$d" -o "$W/master.img.zst" --bmap >"$W/capture.log" 2>&1 ||
	fail "capture /dev/$d failed: $(tail -n 5 "$W/capture.log")"
while IFS= read -r l; do info "| $l"; done <"$W/capture.log"
expect_eq "sha256 of the master's backing file after the capture" "$(sha256sum "$(stick_img cm)" | cut -d' ' -f1)" "$before"
expect_eq "partitions mapped by what their filesystem uses" "$(grep -c -e 'fat32 .*(what the filesystem uses)' -e 'ext4 .*(what the filesystem uses)' "$W/capture.log")" 2
sum=$(sed -n 's/^image SHA-256 \([0-9a-f]*\) .*/\1/p' "$W/capture.log")
[ ${#sum} = 64 ] || fail "capture printed no image SHA-256"
[ -s "$W/master.img.bmap" ] || fail "capture --bmap wrote no $W/master.img.bmap"

# A station writes the capture to a fresh stick (the master, present at
# start, is left alone).
station_start run --image "$W/master.img.zst" -n 1 --receipts "$R" --log-format text --log-level debug
plug cf 0951 1666 CAPTURE-COPY Kingston "DataTraveler 3.0" 192 dummy_udc.1 >/dev/null || fail "plug cf"
wait_receipts "$R" CAPTURE-COPY 1 240
station_stop
expect_eq "receipt(CAPTURE-COPY).result (error: $(receipt "$R" CAPTURE-COPY error))" "$(receipt "$R" CAPTURE-COPY result)" done
expect_eq "receipt(CAPTURE-COPY).verify.ok" "$(receipt "$R" CAPTURE-COPY verify.ok)" true
img=steps.kind=image.details
expect_eq "receipt(CAPTURE-COPY).$img.image_sha256" "$(receipt "$R" CAPTURE-COPY $img.image_sha256)" "$sum"
expect_eq "receipt(CAPTURE-COPY).$img.bmap" "$(receipt "$R" CAPTURE-COPY $img.bmap)" "$W/master.img.bmap"
expect_eq "receipts for the master during the second run" "$(receipt_count "$R" CAPTURE-MASTER)" 0
expect_eq "sha256 of the master's backing file after the second run" "$(sha256sum "$(stick_img cm)" | cut -d' ' -f1)" "$before"

# The copy equals the master wherever the block map maps.
cmp=$(e2etool bmapcmp "$W/master.img.bmap" "$(stick_img cm)" "$(stick_img cf)" 2>"$W/bmapcmp.err") ||
	fail "the copy is not the master inside the block map: $(cat "$W/bmapcmp.err")"
set -- $cmp
info "copy: $1 of $2 master bytes mapped and equal; $3 bytes outside the map differ"
[ "$1" -lt "$2" ] || fail "the block map maps $1 of $2 bytes: only what the filesystems use should be"
expect_eq "receipt(CAPTURE-COPY).$img.mapped_bytes" "$(receipt "$R" CAPTURE-COPY $img.mapped_bytes)" "$1"

# The guest kernel reads the same trees from both.
mount_parts cf ro >/dev/null || fail "mounting the copy's partitions read-only failed"
check_tree /tmp/mnt/cm-boot /tmp/mnt/cf-boot || fail "boot partition of the copy differs from the master's"
check_tree /tmp/mnt/cm-root /tmp/mnt/cf-root || fail "root partition of the copy differs from the master's"
[ -f /tmp/mnt/cf-boot/master-only.txt ] || fail "the copy lacks the file added to the master"
[ ! -e /tmp/mnt/cf-boot/LICENCE.broadcom ] || fail "the copy holds the file deleted from the master"
expect_eq "symlink /bin on the copy's root" "$(readlink /tmp/mnt/cf-root/bin)" usr/bin
umount /tmp/mnt/cm-boot /tmp/mnt/cm-root /tmp/mnt/cf-boot /tmp/mnt/cf-root
pass

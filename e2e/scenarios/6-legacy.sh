# 6-legacy: the original tool's flags, no config file:
# `flashpipe run -c DIR -x jpg --label L -n 2` writes both sticks, FAT32,
# labelled L, with every file but no *.jpg.
R=$W/receipts.jsonl
station_start run -c /content/docs -x jpg --label LEGACY -n 2 --receipts "$R" --log-format text --log-level debug
plug l1 0781 5567 LEGACY-1 SanDisk Cruzer 64 dummy_udc.0 >/dev/null || fail "plug l1"
plug l2 090c 1000 LEGACY-2 SMI "USB DISK" 64 dummy_udc.1 >/dev/null || fail "plug l2"
for s in LEGACY-1 LEGACY-2; do
	wait_receipts "$R" "$s" 1 240
	check_eq "receipt($s).result (error: $(receipt "$R" "$s" error))" "$(receipt "$R" "$s" result)" "done"
done
station_stop
for n in l1 l2; do
	mount_stick "$n" vfat "/tmp/mnt/$n" || fail "mount $n read-only failed"
	d=$(stick_dev "$n")
	check_eq "partition table of $n" "$(ptable_kind "/dev/$d")" mbr
	check_eq "filesystem of ${d}1 ($n)" "$(fs_kind "/dev/${d}1")" FAT32
	check_tree /content/docs "/tmp/mnt/$n" '*.jpg' || fail "files on $n differ from /content/docs minus *.jpg"
	jpgs=$(find "/tmp/mnt/$n" -iname '*.jpg' | wc -l)
	expect_eq "number of .jpg files on $n" "$jpgs" 0
	umount "/tmp/mnt/$n"
	expect_label LEGACY "/dev/$(stick_dev "$n")1"
done
finish

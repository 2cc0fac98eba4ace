# 11-label: a label step with an expression: each stick's label is computed
# from its job number (format("FAT%03d", job.seq) on FAT32,
# upper(format("exf%03d", job.seq)) on exFAT); the guest's findfs sees it and
# the receipt records it.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/label.hcl
plug lf 0781 5567 LABEL-F SanDisk Cruzer 64 dummy_udc.0 >/dev/null || fail "plug lf"
wait_receipts "$R" LABEL-F 1 240
plug lx 0951 1666 LABEL-X Kingston DataTraveler 64 dummy_udc.1 >/dev/null || fail "plug lx"
wait_receipts "$R" LABEL-X 1 240
station_stop
for x in lf:LABEL-F:vfat:FAT:FAT32 lx:LABEL-X:exfat:EXF:exFAT; do
	IFS=: read -r n s fs prefix kind <<EOT
$x
EOT
	check_eq "receipt($s).result (error: $(receipt "$R" "$s" error))" "$(receipt "$R" "$s" result)" "done"
	want=$(printf '%s%03d' "$prefix" "$(receipt "$R" "$s" job)")
	check_eq "receipt($s).label" "$(receipt "$R" "$s" label)" "$want"
	mount_stick "$n" "$fs" "/tmp/mnt/$n" || fail "mount $n ($fs) read-only failed"
	d=$(stick_dev "$n")
	check_eq "filesystem of ${d}1 ($n)" "$(fs_kind "/dev/${d}1")" "$kind"
	check_tree /content/docs "/tmp/mnt/$n" '*.jpg' || check_eq "files on $n" differ same
	umount "/tmp/mnt/$n"
	check_eq "findfs LABEL=$want" "$(findfs "LABEL=$want" 2>/dev/null)" "/dev/${d}1"
done
finish

# 1-route: with the station running, three sticks from two vendors arrive on
# three buses. The two SanDisk sticks get the docs set (FAT32/MBR, label
# DOCS, no *.jpg), the Kingston on port 3-1 the media set (exFAT/GPT, label
# MEDIA). Read back by the guest kernel from a re-plugged device: every
# file's SHA1 equals its source, no extra files, the right label; three
# receipts with the right serials, ports and profiles.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/route.hcl
plug r1 0781 5567 ROUTE-1 SanDisk "Cruzer Blade" 64 dummy_udc.0 >/dev/null || fail "plug r1"
plug r2 0781 5581 ROUTE-2 SanDisk "Ultra" 64 dummy_udc.1 >/dev/null || fail "plug r2"
plug r3 0951 1666 ROUTE-3 Kingston "DataTraveler 3.0" 64 dummy_udc.2 >/dev/null || fail "plug r3"
for s in ROUTE-1 ROUTE-2 ROUTE-3; do wait_receipts "$R" "$s" 1 240; done
station_stop

expect_eq "number of receipts" "$(receipt_count "$R")" 3
for x in r1:ROUTE-1:docs r2:ROUTE-2:docs r3:ROUTE-3:media; do
	n=${x%%:*} s=${x#*:} p=${x##*:}
	s=${s%%:*}
	expect_eq "receipt($s).result (error: $(receipt "$R" "$s" error))" "$(receipt "$R" "$s" result)" "done"
	expect_eq "receipt($s).profile" "$(receipt "$R" "$s" profile)" "$p"
	expect_eq "receipt($s).device.port" "$(receipt "$R" "$s" device.port)" "$(stick_port "$n")"
	expect_eq "receipt($s).verify.ok" "$(receipt "$R" "$s" verify.ok)" true
done

for x in r1:vfat:DOCS:docs:mbr:FAT32:'*.jpg' r2:vfat:DOCS:docs:mbr:FAT32:'*.jpg' r3:exfat:MEDIA:media:gpt:exFAT:; do
	IFS=: read -r n fs label src table kind ex <<EOT
$x
EOT
	mount_stick "$n" "$fs" "/tmp/mnt/$n" || fail "mount $n ($fs) read-only failed"
	d=$(stick_dev "$n")
	expect_eq "partition table of $n" "$(ptable_kind "/dev/$d")" "$table"
	expect_eq "filesystem of ${d}1 ($n)" "$(fs_kind "/dev/${d}1")" "$kind"
	check_tree "/content/$src" "/tmp/mnt/$n" "$ex" || fail "files on $n differ from /content/$src"
	umount "/tmp/mnt/$n"
	expect_label "$label" "/dev/$(stick_dev "$n")1"
done
pass

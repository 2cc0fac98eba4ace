# 17-perstick: three gadget sticks, one profile with a pool and two file
# steps: each stick gets a distinct licence key (its own row of the pool)
# and a README naming its own serial. The guest kernel mounts each stick
# and reads both files; the receipts name the rows and the files' SHA1s,
# and the pool's journal shows the three rows spent.
R=$W/receipts.jsonl
station_start run --receipts "$R" --log-format text --log-level debug /e2e/profiles/perstick.hcl
plug k1 0781 5567 PERSTICK-1 SanDisk Cruzer 64 dummy_udc.0 >/dev/null || fail "plug k1"
plug k2 0951 1666 PERSTICK-2 Kingston DataTraveler 64 dummy_udc.1 >/dev/null || fail "plug k2"
plug k3 0781 5581 PERSTICK-3 SanDisk Ultra 64 dummy_udc.2 >/dev/null || fail "plug k3"
for s in PERSTICK-1 PERSTICK-2 PERSTICK-3; do wait_receipts "$R" "$s" 1 240; done
station_stop
rows=""
for x in k1:PERSTICK-1 k2:PERSTICK-2 k3:PERSTICK-3; do
	IFS=: read -r n s <<EOT
$x
EOT
	check_eq "receipt($s).result (error: $(receipt "$R" "$s" error))" "$(receipt "$R" "$s" result)" "done"
	row=$(receipt "$R" "$s" pool_rows.0.row)
	key=$(receipt "$R" "$s" pool_rows.0.values.key)
	check_eq "receipt($s).pool_rows.0.outcome" "$(receipt "$R" "$s" pool_rows.0.outcome)" "spent"
	case " $rows " in *" $row "*) check_eq "row of $s" "$row (given before)" "a row no other stick got" ;; esac
	rows="$rows $row"
	mount_stick "$n" vfat "/tmp/mnt/$n" || fail "mount $n read-only failed"
	check_eq "licence.txt on $s" "$(cat "/tmp/mnt/$n/licence.txt")" "$key"
	check_eq "README.txt on $s" "$(cat "/tmp/mnt/$n/README.txt")" "E2E: this stick is serial $s, job $(receipt "$R" "$s" job)."
	check_eq "receipt($s) SHA1s of README.txt and licence.txt" "$(receipt "$R" "$s" files.0.sha1)$(receipt "$R" "$s" files.1.sha1)" \
		"$(sha1sum "/tmp/mnt/$n/README.txt" | cut -d' ' -f1)$(sha1sum "/tmp/mnt/$n/licence.txt" | cut -d' ' -f1)"
	check_tree /content/docs "/tmp/mnt/$n/docs" '*.jpg' || check_eq "files in /docs on $n" differ same
	umount "/tmp/mnt/$n"
done
check_eq "spent lines in the pool journal" "$(grep -c '"op":"spent"' "$R.pool-keys.journal")" "3"
finish

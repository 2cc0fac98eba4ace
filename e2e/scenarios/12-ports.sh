# 12-ports: `flashpipe devices --ports` reads the real hub ports from sysfs:
# every dummy_hcd root hub's port is listed, empty or not; a plugged stick's
# port carries its product string and is the port path the station reports
# for the stick; station.ports decides which ports get a dashboard tile.
p=$(plug pt 0781 5567 PORTS-1 SanDisk PortProbe 64) >/dev/null || fail "plug pt"
port=$(stick_port pt)
info "stick pt on port $port"
cat >"$W/ports.hcl" <<HCL
station { ports = ["$port"] }
profile "p" {
  step "wipe" {}
}
HCL
flashpipe devices --ports "$W/ports.hcl" >"$W/ports.txt" 2>&1 || fail "flashpipe devices --ports exited $?"
while IFS= read -r l; do info "$l"; done <"$W/ports.txt"
row=$(awk -v p="$port" '$1 == p' "$W/ports.txt")
expect_eq "row of port $port" "$(echo "$row" | tr -s ' ')" "$port PortProbe yes"
# dummy_hcd num=3: three root hubs with a port each, listed empty or not.
n=$(awk 'NR > 1 && $1 ~ /^[0-9]+-1$/' "$W/ports.txt" | wc -l)
[ "$n" -ge 3 ] || fail "$n root-hub ports listed, want the 3 of dummy_hcd"
others=$(awk -v p="$port" 'NR > 1 && $1 != p && $NF == "yes"' "$W/ports.txt")
expect_eq "ports with a tile other than $port" "$others" ""
unplug pt
flashpipe devices --ports "$W/ports.hcl" >"$W/ports.txt" 2>&1 || fail "flashpipe devices --ports exited $?"
expect_eq "row of port $port after unplug" "$(awk -v p="$port" '$1 == p' "$W/ports.txt" | tr -s ' ')" "$port - yes"
pass

# Sourced by bench/soak.sh and bench/sse.sh: a real `flashpipe run` to
# measure. Needs GO and work (a temporary directory the caller removes).

# build_station builds flashpipe into $work.
build_station() {
  $GO build -o "$work/flashpipe" ./cmd/flashpipe
}

# start_station writes $work/station.hcl from stdin (a source "c" of
# $work/content is added), starts `flashpipe run` with the arguments given
# and that file, sets pid, and waits until the station runs.
start_station() {
  { cat; printf 'source "c" { paths = ["%s"] }\n' "$work/content"; } >"$work/station.hcl"
  "$work/flashpipe" run --no-table "$@" "$work/station.hcl" >"$work/log" 2>&1 &
  pid=$!
  until grep -q "station running" "$work/log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.1
  done
}

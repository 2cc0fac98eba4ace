#!/usr/bin/env bash
# Checks the Debian packages that make package wrote to dist/, as CI runs
# it (.ci/run, as root, on a throwaway machine): their contents, lintian on
# both, the amd64 one installed with dpkg -i (and purged at the end), its
# unit checked by systemd-analyze, the examples validated from the
# installed package, and the arm64 binary run under qemu-aarch64-static.
# Needs: dpkg, lintian, systemd (systemd-analyze), man-db,
# qemu-user-static, dosfstools and mtools.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-dist}
fail() { echo "package-check: $*" >&2; exit 1; }
for cmd in lintian systemd-analyze qemu-aarch64-static man fsck.fat mtype; do
  command -v "$cmd" >/dev/null || fail "$cmd is missing (CI installs it: .ci/run)"
done
amd=$(ls "$OUT"/flashpipe_*_amd64.deb)
arm=$(ls "$OUT"/flashpipe_*_arm64.deb)
describe=$(git describe --tags --match 'v[0-9]*' --always --dirty)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Contents: what the issue lists, in both packages.
for deb in "$amd" "$arm"; do
  dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/list"
  for f in /usr/bin/flashpipe /usr/lib/systemd/system/flashpipe.service \
    /etc/flashpipe/station.hcl /usr/share/doc/flashpipe/copyright \
    /usr/share/doc/flashpipe/changelog.gz /usr/share/doc/flashpipe/operator.md \
    /usr/share/doc/flashpipe/examples/station.hcl \
    /usr/share/doc/flashpipe/contrib/prometheus/rules.yml \
    /usr/share/doc/flashpipe/contrib/grafana/flashpipe.json \
    /usr/share/man/man1/flashpipe.1.gz /usr/share/man/man1/flashpipe-run.1.gz \
    /usr/share/bash-completion/completions/flashpipe \
    /usr/share/zsh/vendor-completions/_flashpipe \
    /usr/share/fish/vendor_completions.d/flashpipe.fish; do
    grep -qx "$f" "$tmp/list" || fail "$deb has no $f"
  done
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$(basename "$deb" .deb | sed 's/.*_//')" ] || fail "$deb: wrong Architecture"
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/flashpipe/station.hcl ||
    fail "$deb: /etc/flashpipe/station.hcl is not a conffile"
done
echo "package-check: contents of both packages as listed"

# lintian: no error and no warning (overrides, each with its reason, are in
# packaging/debian/lintian-overrides).
status=0
lintian --fail-on error,warning "$amd" "$arm" >"$tmp/lintian" 2>&1 || status=$?
grep -v 'root privileges is not recommended' "$tmp/lintian" || true
[ "$status" -eq 0 ] || fail "lintian found errors or warnings (above)"
echo "package-check: lintian clean on both"

# The amd64 package installed on this machine.
dpkg -i "$amd" >/dev/null
/usr/bin/flashpipe version | tee "$tmp/version"
grep -qx "flashpipe $describe" "$tmp/version" || fail "flashpipe version does not say $describe"
/usr/bin/flashpipe validate /usr/share/doc/flashpipe/examples/*.hcl
/usr/bin/flashpipe validate /etc/flashpipe
man -w flashpipe-run >/dev/null || fail "man flashpipe-run: no page"

# The unit: systemd-analyze verify, and the exposure score, which must not
# be worse than docs/operator.md says.
systemd-analyze verify /usr/lib/systemd/system/flashpipe.service
score=$(systemd-analyze security --offline=true --no-pager /usr/lib/systemd/system/flashpipe.service 2>&1 |
  sed -n 's/.*Overall exposure level for flashpipe.service: \([0-9.]*\).*/\1/p')
documented=$(sed -n 's/.*exposure level of \*\*\([0-9.]*\)\*\*.*/\1/p' docs/operator.md | head -1)
[ -n "$score" ] && [ -n "$documented" ] || fail "no exposure score (systemd-analyze: '$score', docs/operator.md: '$documented')"
awk -v s="$score" -v d="$documented" 'BEGIN { exit !(s <= d) }' ||
  fail "systemd-analyze security: exposure $score, worse than the $documented docs/operator.md states"
echo "package-check: unit verified; exposure $score (docs/operator.md: $documented)"

# The arm64 binary, run: validate, and build an image that fsck.fat and
# mtools then read.
dpkg-deb -x "$arm" "$tmp/arm64"
fp="qemu-aarch64-static $tmp/arm64/usr/bin/flashpipe"
$fp version | grep -q 'linux/arm64' || fail "the arm64 binary does not say linux/arm64"
$fp validate "$tmp"/arm64/usr/share/doc/flashpipe/examples/*.hcl
$fp build -c "$tmp/arm64/usr/share/doc/flashpipe/examples/content/station" --fs vfat --table none \
  --label ARM64 --size 64MiB -o "$tmp/arm64.img"
fsck.fat -n "$tmp/arm64.img" >/dev/null || fail "fsck.fat finds the arm64 build's image broken"
mtype -i "$tmp/arm64.img" ::/info.txt | cmp - examples/content/station/info.txt ||
  fail "the arm64 build's image does not hold info.txt as it is"
echo "package-check: arm64 binary ran validate and build under qemu-aarch64-static"

# Purge: the binary goes, the receipts directory stays.
mkdir -p /var/lib/flashpipe
dpkg --purge flashpipe >/dev/null
[ ! -e /usr/bin/flashpipe ] || fail "dpkg --purge left /usr/bin/flashpipe"
echo "package-check: purged"

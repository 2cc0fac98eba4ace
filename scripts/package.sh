#!/usr/bin/env bash
# make package: the Debian packages of flashpipe, one per architecture
# (ARCHES, default amd64 arm64), into OUT (default dist/). Pure Go, static
# (CGO_ENABLED=0), cross-compiled; built with dpkg-deb (docs/architecture.md
# says why). The version is git describe of the last v* tag; see
# debian_version for how it becomes a Debian version.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=${OUT:-dist}
ARCHES=${ARCHES:-amd64 arm64}
MAINTAINER=${MAINTAINER:-flashpipe maintainers <maintainers@flashpipe.invalid>}

describe=$(git describe --tags --match 'v[0-9]*' --always --dirty)
commit=$(git rev-parse HEAD)
# Every file's date, the man pages' and the changelog's: the commit's, so
# that the same commit gives the same packages.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

# debian_version turns git describe into a Debian version that sorts the
# way the commits do: v1.2.0 → 1.2.0; v1.2.0-5-gabc1234 → 1.2.0+5.gabc1234;
# no tag yet (describe gives the bare commit) → 0~YYYYMMDDhhmmss.gabc1234
# from the commit's time; "-dirty" → "+dirty".
debian_version() {
  local d=$1 dirty=""
  case $d in *-dirty) dirty="+dirty"; d=${d%-dirty} ;; esac
  if [[ $d =~ ^v([0-9][0-9A-Za-z.~+]*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
    echo "${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}$dirty"
  elif [[ $d =~ ^v([0-9][0-9A-Za-z.~+]*)$ ]]; then
    echo "${BASH_REMATCH[1]}$dirty"
  else
    echo "0~$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).g${d:0:7}$dirty"
  fi
}
version=$(debian_version "$describe")
ldflags="-X main.version=$describe -X main.commit=$commit"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"

# Man pages and completions come from the commands themselves: a build for
# this machine with the gendocs command (-tags gendocs) writes them.
CGO_ENABLED=0 $GO build -trimpath -tags gendocs -ldflags "$ldflags" -o "$work/flashpipe-gendocs" ./cmd/flashpipe
"$work/flashpipe-gendocs" gendocs --man "$work/man" --version "$describe" --date "$SOURCE_DATE_EPOCH" >/dev/null
for sh in bash zsh fish; do
  "$work/flashpipe-gendocs" completion "$sh" >"$work/completion.$sh"
done

# copyright: flashpipe's, then that of every Go module linked into the
# binary, from the module's own license file. Licenses Debian ships in
# /usr/share/common-licenses are referred to; the others are quoted.
write_copyright() {
  cat <<EOT
flashpipe — a USB stick duplication station.

Copyright: the flashpipe authors.
License: the flashpipe source states no license yet; this package is
distributed for the people who run flashpipe stations.

The flashpipe binary (/usr/bin/flashpipe) is statically linked with these
Go modules, whose copyright and licenses follow; and with the Go standard
library (Copyright 2009 The Go Authors, BSD-3-Clause, quoted at the end).
EOT
  local path ver dir lic text
  while read -r path ver dir; do
    lic=$(find "$dir" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'COPYING*' \) | sort | head -1)
    printf '\n--------\n%s %s\n\n' "$path" "$ver"
    text=$(cat "$lic")
    if grep -q 'Apache License' <<<"$text" && grep -q 'Version 2.0' <<<"$text"; then
      echo "License: Apache-2.0, in /usr/share/common-licenses/Apache-2.0."
    elif grep -q 'GNU GENERAL PUBLIC LICENSE' <<<"$text" && grep -q 'Version 3' <<<"$text"; then
      echo "License: GPL-3, in /usr/share/common-licenses/GPL-3."
    elif grep -q 'Mozilla Public License' <<<"$text" && grep -q '2.0' <<<"$text"; then
      grep -i '^copyright' <<<"$text" || true
      echo "License: MPL-2.0, in /usr/share/common-licenses/MPL-2.0."
    else
      sed 's/^/  /; s/^  $/  ./' <<<"$text"
    fi
  done < <(CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $GO list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/flashpipe | sort -u)
  printf '\n--------\nThe Go standard library %s\n\n' "$($GO env GOVERSION)"
  sed 's/^/  /; s/^  $/  ./' "$($GO env GOROOT)/LICENSE"
}
write_copyright >"$work/copyright"

cat >"$work/changelog" <<EOT
flashpipe ($version) unstable; urgency=medium

  * Built from git describe $describe,
    commit $commit.
    What changed is the git history of the flashpipe source.

 -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOT

# stage lays out the package's files for one architecture under $1.
stage() {
  local root=$1 arch=$2 doc=$1/usr/share/doc/flashpipe
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch $GO build -trimpath -buildvcs=false \
    -ldflags "-s -w $ldflags" -o "$root/usr/bin/flashpipe" ./cmd/flashpipe
  install -D -m 0644 packaging/flashpipe.service "$root/usr/lib/systemd/system/flashpipe.service"
  install -D -m 0644 packaging/station.hcl "$root/etc/flashpipe/station.hcl"
  install -d "$root/usr/share/man/man1"
  for page in "$work"/man/*.1; do
    gzip -9n <"$page" >"$root/usr/share/man/man1/$(basename "$page").gz"
  done
  install -D -m 0644 "$work/completion.bash" "$root/usr/share/bash-completion/completions/flashpipe"
  install -D -m 0644 "$work/completion.zsh" "$root/usr/share/zsh/vendor-completions/_flashpipe"
  install -D -m 0644 "$work/completion.fish" "$root/usr/share/fish/vendor_completions.d/flashpipe.fish"
  install -d "$doc"
  install -m 0644 README.md docs/operator.md docs/config.md docs/architecture.md docs/reliability.md "$doc/"
  install -m 0644 "$work/copyright" "$doc/copyright"
  gzip -9n <"$work/changelog" >"$doc/changelog.gz"
  cp -r examples "$doc/examples"
  if [ -d contrib ]; then cp -r contrib "$doc/contrib"; fi
  find "$doc" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +

  install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/flashpipe"

  install -d "$root/DEBIAN"
  install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
  echo /etc/flashpipe/station.hcl >"$root/DEBIAN/conffiles"
  local size
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@MAINTAINER@/$MAINTAINER/" packaging/debian/control >"$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
    sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles" "$root/DEBIAN/control"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

for arch in $ARCHES; do
  root="$work/root-$arch"
  stage "$root" "$arch"
  deb="$OUT/flashpipe_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "$deb"
done

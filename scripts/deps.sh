#!/usr/bin/env bash
# Installs the Debian packages flashpipe's tests use as oracles and real
# parts, when any is missing. Safe to run again; needs root (or sudo) only
# when something is missing.
set -euo pipefail

# command → Debian package
declare -A need=(
  [fsck.fat]=dosfstools
  [mkfs.fat]=dosfstools
  [fsck.exfat]=exfatprogs
  [mcopy]=mtools
  [mount.exfat-fuse]=exfat-fuse
  [sgdisk]=gdisk
  [sfdisk]=fdisk
  [mke2fs]=e2fsprogs
  [debugfs]=e2fsprogs
  [losetup]=mount
  [wipefs]=util-linux
  [script]=bsdutils
  [tmux]=tmux
  [chromium]=chromium
  [7zz]=7zip
  [promtool]=prometheus
)
missing=()
for cmd in "${!need[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/sbin/$cmd" ] && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("${need[$cmd]}")
  fi
done
[ -x /usr/bin/time ] || missing+=(time)  # GNU time, for peak RSS in make bench
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "deps: installing ${pkgs[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian packages flashpipe's tests use as oracles and real
# parts, when any is missing. Safe to run again; needs root (or sudo) only
# when something is missing. The list of commands and their packages is
# internal/testreq/tools.txt, the same table the tests look commands up in:
# a test cannot need a command this script does not know.
set -euo pipefail
table="$(dirname "$0")/../internal/testreq/tools.txt"

missing=()
while read -r cmd pkg; do
  case $cmd in '' | '#'*) continue ;; esac
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/sbin/$cmd" ] && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("$pkg")
  fi
done <"$table"
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

#!/usr/bin/env bash
# The system packages the test suite drives for real: PostgreSQL 15, swtpm + tpm2-tools, shellcheck,
# bats, Chromium, SoftHSM2 (PKCS#11), and the tools the installers and fixtures call (jq, strace, openssl, curl). Installs what is missing with apt-get when run as root; otherwise prints the command.
set -euo pipefail

declare -A probe=(
  [postgresql]=/usr/lib/postgresql/15/bin/pg_ctl
  [swtpm]=/usr/bin/swtpm
  [swtpm-tools]=/usr/bin/swtpm_setup
  [tpm2-tools]=/usr/bin/tpm2_quote
  [shellcheck]=/usr/bin/shellcheck
  [bats]=/usr/bin/bats
  [chromium]=/usr/bin/chromium
  [jq]=/usr/bin/jq
  [strace]=/usr/bin/strace
  [softhsm2]=/usr/lib/softhsm/libsofthsm2.so
  [openssl]=/usr/bin/openssl
  [curl]=/usr/bin/curl
)
missing=()
for pkg in postgresql swtpm swtpm-tools tpm2-tools shellcheck bats chromium jq strace softhsm2 openssl curl; do
  [ -e "${probe[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "The test suite needs system packages that are missing: ${missing[*]}" >&2
  echo "Install them, then run npm test again:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
echo "Installing system packages for the test suite: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# shellcheck disable=SC2086
$cmd >/tmp/noderr-apt.log 2>&1 || { tail -n 30 /tmp/noderr-apt.log >&2; exit 1; }

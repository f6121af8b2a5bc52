#!/usr/bin/env bats
# installers/linux/install.sh: argument parsing, every precondition error (exact message and exit
# code), the dry run, and the helpers it shares with noderr-heartbeat.
#
# Real parts: the real Worker under wrangler dev with PostgreSQL 15 and a real swtpm (both started once
# by helpers/stack.ts in setup_file), tpm2-tools, curl, jq, shellcheck. The only test doubles are
# stubs/docker and stubs/systemctl (no Docker engine or systemd here), which record their calls.

ROOT="$(cd "$(dirname "$BATS_TEST_FILENAME")/../../.." && pwd)"
INSTALLER="$ROOT/installers/linux/install.sh"
PSQL=/usr/lib/postgresql/15/bin/psql

setup_file() {
  local dir=$BATS_FILE_TMPDIR
  mkfifo "$dir/stack.in"
  sleep 900 >"$dir/stack.in" &
  echo $! >"$dir/stack.keepalive"
  (cd "$ROOT" && exec npx tsx installers/linux/test/helpers/stack.ts <"$dir/stack.in" >"$dir/stack.json" 2>"$dir/stack.err") &
  echo $! >"$dir/stack.pid"
  local i
  for i in $(seq 1 120); do
    [ -s "$dir/stack.json" ] && break
    sleep 0.5
  done
  [ -s "$dir/stack.json" ] || {
    cat "$dir/stack.err" >&2
    return 1
  }
}

teardown_file() {
  local dir=$BATS_FILE_TMPDIR pid i
  kill "$(cat "$dir/stack.keepalive")" 2>/dev/null || true
  pid=$(cat "$dir/stack.pid")
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
}

setup() {
  S="$BATS_FILE_TMPDIR/stack.json"
  API=$(jq -r .url "$S")
  TCTI=$(jq -r .tcti "$S")
  ADMIN=$(jq -r .adminToken "$S")
  DB=$(jq -r .databaseUrl "$S")
  T=$BATS_TEST_TMPDIR
  export NODERR_CONFIG_DIR="$T/etc" NODERR_INSTALL_DIR="$T/opt" NODERR_LOG_FILE="$T/install.log"
  export NODERR_SYSTEMD_DIR="$T/systemd" NODERR_CRON_DIR="$T/cron" NODERR_INIT_SYSTEM=systemd
  export NODERR_STUB_LOG="$T/stub-calls.log"
  export PATH="$ROOT/installers/linux/test/stubs:$PATH"
  : >"$NODERR_STUB_LOG"
  # Hardware minimums that this machine meets, unless a test says otherwise.
  LOW=(--min-cpu 1 --min-ram-gb 1 --min-disk-gb 1)
}

# A fresh install token from the admin API: `new_token TIER` prints "id token".
new_token() {
  curl -fsS -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    --data "{\"applicationId\":\"$(cat /proc/sys/kernel/random/uuid)\",\"tier\":\"${1:-ALL}\",\"os\":\"linux\",\"expiresInDays\":1}" \
    "$API/api/v1/admin/install-tokens" | jq -r '"\(.id) \(.token)"'
}

# Writes a fresh ALL-tier token to $T/token and prints the path.
token_file() {
  local id token
  read -r id token < <(new_token "${1:-ALL}")
  printf '%s' "$token" >"$T/token"
  printf '%s' "$T/token"
}

sql() {
  "$PSQL" -q -v ON_ERROR_STOP=1 "$DB" -c "$1"
}

persistent_handles() {
  TPM2TOOLS_TCTI=$TCTI tpm2_getcap handles-persistent | tr -d '\n'
}

# ---- lint ------------------------------------------------------------------------------------------

@test "shellcheck: install.sh is clean" {
  run shellcheck "$INSTALLER"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "shellcheck: the noderr-heartbeat it writes is clean" {
  NODERR_INSTALL_SOURCE_ONLY=1 bash -c 'source "$1" && heartbeat_script /etc/noderr' _ "$INSTALLER" >"$T/noderr-heartbeat"
  run shellcheck "$T/noderr-heartbeat"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q '^hb_main "\$@"$' "$T/noderr-heartbeat"
}

@test "the default API URL is one marked line the Worker can replace" {
  run grep -c '^NODERR_DEFAULT_API_URL="https://api.noderr.xyz"  # replaced when served by the API$' "$INSTALLER"
  [ "$output" = 1 ]
}

# ---- argument parsing ------------------------------------------------------------------------------

@test "--help prints the usage with every option and exits 0" {
  run bash "$INSTALLER" --help
  [ "$status" -eq 0 ]
  for opt in --api-url --tcti --config-dir --install-dir --no-docker --dry-run --yes --uninstall --verbose --min-cpu --min-ram-gb --min-disk-gb --token-file --log-file; do
    [[ $output == *"$opt"* ]] || { echo "missing $opt"; false; }
  done
}

@test "--version prints the version" {
  run bash "$INSTALLER" --version
  [ "$status" -eq 0 ]
  [ "$output" = "noderr installer 0.1.0" ]
}

@test "an unknown option exits 2 and names it" {
  run bash "$INSTALLER" --bogus=1
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: Unknown option: --bogus" ]
  [ "${lines[1]}" = "Run with --help for usage." ]
}

@test "an option without its value exits 2" {
  run bash "$INSTALLER" --api-url
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --api-url needs a value." ]
}

@test "a malformed token exits 2 without echoing it" {
  run bash "$INSTALLER" ndr_install_NOTHEX-secret-value
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: The install token is malformed: it must be ndr_install_ followed by 64 lowercase hex characters. Copy it again from your welcome email or the dApp." ]
  [[ $output != *secret-value* ]]
}

@test "two tokens exit 2" {
  local t
  t=ndr_install_$(printf 'a%.0s' $(seq 64))
  run bash "$INSTALLER" "$t" "$t"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: Too many arguments: expected at most one install token." ]
}

@test "a plain-http API URL is refused unless it is localhost" {
  run bash "$INSTALLER" --api-url http://api.example.com
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --api-url must use https:// (plain http is accepted for localhost only): http://api.example.com" ]
  run bash "$INSTALLER" --api-url ftp://x
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --api-url must be an https:// URL, e.g. https://api.noderr.xyz (got: ftp://x)" ]
}

@test "hardware minimums must be whole numbers, from options and environment alike" {
  run bash "$INSTALLER" --min-cpu four
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --min-cpu must be a whole number (got: four)" ]
  NODERR_MIN_RAM_GB=8GB run bash "$INSTALLER"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --min-ram-gb must be a whole number (got: 8GB)" ]
}

@test "directories must be absolute and not system directories" {
  run bash "$INSTALLER" --config-dir etc/noderr
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --config-dir must be an absolute path (got: etc/noderr)" ]
  run bash "$INSTALLER" --install-dir=/opt
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: --install-dir must be a directory of its own, not /opt" ]
}

@test "an unreadable --token-file exits 2" {
  run bash "$INSTALLER" --token-file "$T/missing"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "Error: Cannot read the token file $T/missing." ]
}

# ---- preconditions ---------------------------------------------------------------------------------

@test "unsupported OS: exits 3 and lists the supported ones" {
  printf 'ID=ubuntu\nVERSION_ID="20.04"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n' >"$T/os-release"
  NODERR_OS_RELEASE="$T/os-release" run bash "$INSTALLER" --yes --api-url "$API"
  [ "$status" -eq 3 ]
  [[ $output == *"✗ Unsupported operating system: Ubuntu 20.04.6 LTS."* ]]
  [[ $output == *"→ Supported: Ubuntu 22.04+, Debian 11+, RHEL 8+ (Rocky, AlmaLinux, Oracle Linux 8+)."* ]]
  printf 'ID=fedora\nVERSION_ID=39\nID_LIKE=""\nPRETTY_NAME="Fedora Linux 39"\n' >"$T/os-release"
  NODERR_OS_RELEASE="$T/os-release" run bash "$INSTALLER" --yes --api-url "$API"
  [ "$status" -eq 3 ]
  [[ $output == *"✗ Unsupported operating system: Fedora Linux 39."* ]]
}

@test "no os-release: exits 3" {
  NODERR_OS_RELEASE="$T/nothing" run bash "$INSTALLER" --yes --api-url "$API"
  [ "$status" -eq 3 ]
  [[ $output == *"✗ Cannot identify the operating system: $T/nothing is missing."* ]]
}

@test "supported OS releases pass the OS check" {
  local rel
  for rel in 'ID=ubuntu|VERSION_ID="22.04"' 'ID=ubuntu|VERSION_ID="24.04"' 'ID=debian|VERSION_ID="11"' \
    'ID="rhel"|VERSION_ID="8.9"' 'ID="rocky"|VERSION_ID="9.3"|ID_LIKE="rhel centos fedora"' 'ID="almalinux"|VERSION_ID="8.10"'; do
    printf '%s\n' "${rel//|/$'\n'}" >"$T/os-release"
    NODERR_OS_RELEASE="$T/os-release" NODERR_INSTALL_SOURCE_ONLY=1 run bash -c 'source "$1"; check_os; echo "supported: $OS_ID"' _ "$INSTALLER"
    [ "$status" -eq 0 ] || { echo "$rel: $output"; false; }
  done
}

@test "not root: exits 3 and says to use sudo" {
  chmod 755 "$T"
  run runuser -u nobody -- env PATH="$PATH" bash "$INSTALLER" --yes --api-url "$API" --log-file "$T/nobody.log"
  [ "$status" -eq 3 ]
  [[ $output == *"✗ This installer must run as root: it installs packages, uses the TPM and writes to $NODERR_CONFIG_DIR."* ]]
  [[ $output == *"→ Run it again with sudo: curl -fsSL $API/install/linux | sudo bash -s -- <INSTALL_TOKEN>"* ]]
}

@test "API unreachable: exits 4 with the reason and what to check" {
  run bash "$INSTALLER" --yes --api-url http://127.0.0.1:1
  [ "$status" -eq 4 ]
  [[ $output == *"✗ Cannot reach the noderr API at http://127.0.0.1:1: Failed to connect to 127.0.0.1 port 1"* ]]
  [[ $output == *"→ Check the host's network, DNS, firewall and proxy (HTTPS_PROXY), then run the installer again."* ]]
}

@test "no token on a fresh host: exits 2" {
  run bash "$INSTALLER" --yes --api-url "$API"
  [ "$status" -eq 2 ]
  [[ $output == *"✗ No install token given."* ]]
}

@test "unknown token: exits 7 with INSTALL_TOKEN_INVALID" {
  run bash "$INSTALLER" --yes --api-url "$API" "ndr_install_$(printf '0%.0s' $(seq 64))"
  [ "$status" -eq 7 ]
  [[ $output == *"✗ The install token was not recognised [INSTALL_TOKEN_INVALID]"* ]]
  [[ $output == *"→ Check that you copied the whole token from the welcome email, or create a new one in the dApp."* ]]
}

@test "revoked token: exits 7 with INSTALL_TOKEN_REVOKED" {
  read -r id token < <(new_token ALL)
  curl -fsS -X POST -H "Authorization: Bearer $ADMIN" "$API/api/v1/admin/install-tokens/$id/revoke" >/dev/null
  printf '%s' "$token" >"$T/token"
  run bash "$INSTALLER" --yes --api-url "$API" --token-file "$T/token"
  [ "$status" -eq 7 ]
  [[ $output == *"✗ This install token was revoked by an administrator [INSTALL_TOKEN_REVOKED]"* ]]
  [[ $output == *"→ Ask your administrator for a new install token."* ]]
}

@test "expired token: exits 7 with INSTALL_TOKEN_EXPIRED" {
  read -r id token < <(new_token ALL)
  sql "update public.install_tokens set created_at = now() - interval '2 days', expires_at = now() - interval '1 day' where id = '$id'"
  printf '%s' "$token" >"$T/token"
  run bash "$INSTALLER" --yes --api-url "$API" --token-file "$T/token"
  [ "$status" -eq 7 ]
  [[ $output == *"✗ This install token has expired [INSTALL_TOKEN_EXPIRED]"* ]]
}

@test "used token: exits 7 with INSTALL_TOKEN_USED" {
  read -r id token < <(new_token ALL)
  sql "update public.install_tokens set is_used = true, used_at = now() where id = '$id'"
  NODERR_INSTALL_TOKEN=$token run bash "$INSTALLER" --yes --api-url "$API"
  [ "$status" -eq 7 ]
  [[ $output == *"✗ This install token has already been used to register a node [INSTALL_TOKEN_USED]"* ]]
  [[ $output == *"→ Each token registers one node: create a new install token in the dApp."* ]]
}

@test "no TPM device: exits 5 and says how to enable one" {
  run bash "$INSTALLER" --yes --api-url "$API" --token-file "$(token_file)" --tcti /nonexistent/tpmrm0 "${LOW[@]}"
  [ "$status" -eq 5 ]
  [[ $output == *"✗ No TPM 2.0 found: /nonexistent/tpmrm0 does not exist."* ]]
  [[ $output == *"→ Enable the TPM (TPM 2.0, PTT or fTPM) in the firmware setup, or attach a vTPM to this VM, then reboot."* ]]
}

@test "TPM not answering: exits 5" {
  run bash "$INSTALLER" --yes --api-url "$API" --token-file "$(token_file)" --tcti swtpm:host=127.0.0.1,port=1 "${LOW[@]}"
  [ "$status" -eq 5 ]
  [[ $output == *"✗ The TPM does not answer (swtpm:host=127.0.0.1,port=1)"* ]]
}

@test "TPM busy (another client holds the swtpm): exits 5 after the timeout" {
  local port
  port=$(jq -r .tpmPort "$S")
  exec 7<>"/dev/tcp/127.0.0.1/$port"
  NODERR_TPM_TIMEOUT=2 run bash "$INSTALLER" --yes --api-url "$API" --token-file "$(token_file)" --token-file "$(token_file)" --tcti "$TCTI" "${LOW[@]}"
  exec 7>&-
  [ "$status" -eq 5 ]
  [[ $output == *"✗ The TPM is busy: it did not answer within 2 s ($TCTI)."* ]]
  [[ $output == *"→ Another program holds it (a TPM resource manager, tcsd, or another installer): stop it or wait, then run the installer again."* ]]
}

@test "too few CPU cores: exits 5" {
  run bash "$INSTALLER" --yes --api-url "$API" --token-file "$(token_file)" --tcti "$TCTI" --min-cpu 100000 --min-ram-gb 1 --min-disk-gb 1
  [ "$status" -eq 5 ]
  [[ $output == *"✗ Not enough CPU: $(grep -c '^processor' /proc/cpuinfo) cores, the minimum is 100000."* ]]
}

@test "too little RAM (from a /proc-like directory): exits 5" {
  mkdir "$T/proc"
  cp /proc/cpuinfo "$T/proc/cpuinfo"
  printf 'MemTotal:        3900000 kB\nMemAvailable:    2000000 kB\n' >"$T/proc/meminfo"
  NODERR_PROC_DIR="$T/proc" run bash "$INSTALLER" --yes --api-url "$API" --token-file "$(token_file)" --token-file "$(token_file)" --tcti "$TCTI" --min-cpu 1 --min-disk-gb 1
  [ "$status" -eq 5 ]
  [[ $output == *"✗ Not enough memory: 4 GB, the minimum is 8 GB."* ]]
}

@test "too little disk: exits 5" {
  run bash "$INSTALLER" --yes --api-url "$API" --token-file "$(token_file)" --tcti "$TCTI" --min-cpu 1 --min-ram-gb 1 --min-disk-gb 99999999
  [ "$status" -eq 5 ]
  [[ $output == *"✗ Not enough disk: the filesystem of"*"the minimum is 99999999 GB."* ]]
}

@test "no terminal and no --yes: exits 2 before changing anything" {
  read -r _ token < <(new_token ALL)
  printf '%s' "$token" >"$T/token"
  run setsid bash "$INSTALLER" --api-url "$API" --tcti "$TCTI" "${LOW[@]}" --token-file "$T/token" </dev/null
  [ "$status" -eq 2 ]
  [[ $output == *"✗ No terminal to ask for confirmation."* ]]
  [[ $output == *"→ Run again with --yes to proceed without asking."* ]]
  [ ! -e "$NODERR_CONFIG_DIR" ]
}

# A PATH of real tools, minus the ones a test wants missing (and without apt-get/dnf/yum).
restricted_path() {
  local bin=$T/bin tool
  mkdir -p "$bin"
  for tool in bash env date mktemp rm od tr base64 sha256sum cut head tail cat chmod mv mkdir dirname id timeout \
    sort seq sleep stat grep sed awk df nproc hostname flock curl jq xargs printf cp ls tpm2_getcap tpm2_createak \
    tpm2_flushcontext "$@"; do
    [ -e "$bin/$tool" ] || ln -s "$(command -v "$tool")" "$bin/$tool"
  done
  printf '%s' "$bin"
}

@test "missing jq and no package manager: exits 6 with the manual command" {
  local bin
  bin=$(restricted_path)
  rm "$bin/jq"
  PATH=$bin run bash "$INSTALLER" --yes --api-url "$API" --tcti "$TCTI" "${LOW[@]}" --no-docker "ndr_install_$(printf '0%.0s' $(seq 64))"
  [ "$status" -eq 6 ]
  [[ $output == *"✗ Missing jq and no supported package manager (apt-get, dnf, yum) was found."* ]]
  [[ $output == *"→ Install them manually: sudo apt-get update && sudo apt-get install -y jq"* ]]
}

@test "Docker missing where the package manager cannot install it: exits 6 with Docker's manual command" {
  local bin
  bin=$(restricted_path)
  read -r _ token < <(new_token ALL)
  printf '%s' "$token" >"$T/token"
  printf 'ID="rhel"\nVERSION_ID="9.3"\nPRETTY_NAME="Red Hat Enterprise Linux 9.3"\n' >"$T/os-release"
  NODERR_OS_RELEASE="$T/os-release" PATH=$bin run bash "$INSTALLER" --yes --api-url "$API" --tcti "$TCTI" "${LOW[@]}" --token-file "$T/token"
  [ "$status" -eq 6 ]
  [[ $output == *"✗ Docker is not installed, and this distribution's packages do not provide it."* ]]
  [[ $output == *"→ Install it manually: sudo dnf config-manager --add-repo https://download.docker.com/linux/rhel/docker-ce.repo && sudo dnf install -y docker-ce docker-ce-cli containerd.io && sudo systemctl enable --now docker"* ]]
  [[ $output == *"→ Or run with --no-docker to register and set up attestation only."* ]]
}

@test "a persistent handle held by another program: exits 5 and leaves it alone" {
  TPM2TOOLS_TCTI=$TCTI tpm2_createprimary -C o -G ecc -c "$T/other.ctx" >/dev/null
  TPM2TOOLS_TCTI=$TCTI tpm2_evictcontrol -C o -c "$T/other.ctx" 0x81010002 >/dev/null
  TPM2TOOLS_TCTI=$TCTI tpm2_flushcontext -t
  read -r _ token < <(new_token ALL)
  printf '%s' "$token" >"$T/token"
  run bash "$INSTALLER" --yes --no-docker --api-url "$API" --tcti "$TCTI" "${LOW[@]}" --token-file "$T/token"
  local handles
  handles=$(persistent_handles)
  TPM2TOOLS_TCTI=$TCTI tpm2_evictcontrol -C o -c 0x81010002 >/dev/null
  [ "$status" -eq 5 ]
  [[ $output == *"✗ TPM persistent handle 0x81010002 (for the attestation key) is already used by another program."* ]]
  [[ $output == *"→ This installer never overwrites or removes TPM objects it did not create."* ]]
  [[ $handles == *0x81010002* ]]
  [[ $handles != *0x81010003* ]]
  [ ! -e "$NODERR_CONFIG_DIR/node.conf" ]
}

@test "an EK-certificate tier on a TPM without one: exits 8 before registering, token still usable" {
  # The stack's swtpm has EK certificates; hide them by pointing at a TPM without any.
  local dir=$T/bare pid tcti
  mkfifo "$dir.in" 2>/dev/null || true
  sleep 120 >"$dir.in" &
  local keep=$!
  (cd "$ROOT" && exec npx tsx installers/linux/test/helpers/swtpm-session.ts --no-ek-certs <"$dir.in" >"$dir.json" 2>/dev/null) &
  pid=$!
  for _ in $(seq 1 60); do [ -s "$dir.json" ] && break; sleep 0.5; done
  tcti=$(jq -r .tcti "$dir.json")
  read -r _ token < <(new_token ORACLE)
  printf '%s' "$token" >"$T/token"
  run bash "$INSTALLER" --yes --no-docker --api-url "$API" --tcti "$tcti" "${LOW[@]}" --token-file "$T/token"
  local handles
  handles=$(TPM2TOOLS_TCTI=$tcti tpm2_getcap handles-persistent | tr -d '\n')
  kill "$keep"
  wait "$pid" || true
  [ "$status" -eq 8 ]
  [[ $output == *"✗ Your tier (ORACLE) requires a TPM endorsement key certificate, and none was found in the TPM's NV or at the manufacturer's service."* ]]
  [[ $output == *"The install token was not used up"* ]]
  [[ $handles != *0x81010002* && $handles != *0x81010003* ]]
  [ ! -e "$NODERR_CONFIG_DIR" ]
  run curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data "{\"installToken\":\"$token\"}" "$API/api/v1/install/config"
  [ "$output" = 200 ]
}

# ---- dry run ---------------------------------------------------------------------------------------

@test "a tier that judges the boot event log, without one: exits 8 with EVENT_LOG_INVALID and how to send it" {
  curl -fsS -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    --data '{"requireEkCertificate": false, "pcrSelection": {"sha256": [0, 7]}, "pcrMode": "none", "reattestationIntervalSeconds": 3600, "sessionTtlSeconds": 900, "eventLogRules": {"requireSecureBoot": true}}' \
    "$API/api/v1/admin/policies/GUARDIAN" >/dev/null
  run bash "$INSTALLER" --yes --no-docker --api-url "$API" --tcti "$TCTI" "${LOW[@]}" --event-log none --token-file "$(token_file GUARDIAN)"
  [ "$status" -eq 8 ]
  [[ $output == *"Your tier judges the boot event log, and the one sent was missing or does not match this TPM's PCRs [ATTESTATION_INVALID/EVENT_LOG_INVALID]"* ]]
  [[ $output == *"pass --event-log FILE with this host's TCG log"* ]]
  [[ $output == *"The install token was not used up"* ]]
}

@test "--dry-run prints every action, changes nothing and leaves the token usable" {
  read -r _ token < <(new_token ALL)
  printf '%s' "$token" >"$T/token"
  local before
  before=$(persistent_handles)
  run bash "$INSTALLER" --dry-run --api-url "$API" --tcti "$TCTI" "${LOW[@]}" --token-file "$T/token"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"(dry run: nothing will be changed)"* ]]
  [[ $output == *"✓ Install token accepted (tier ALL, not used up until activation)"* ]]
  [[ $output == *"[dry-run] would create directory $NODERR_CONFIG_DIR (mode 700)"* ]]
  [[ $output == *"[dry-run] would run: tpm2_createek -G ecc (from the default template, not persisted)"* ]]
  [[ $output == *"[dry-run] would run: tpm2_evictcontrol -C o -c ak.ctx 0x81010002"* ]]
  [[ $output == *"[dry-run] would run: tpm2_evictcontrol -C o -c node-key.ctx 0x81010003"* ]]
  [[ $output == *"[dry-run] would POST $API/api/v1/auth/register"* ]]
  [[ $output == *"[dry-run] would write $NODERR_INSTALL_DIR/bin/noderr-heartbeat (mode 755)"* ]]
  [[ $output == *"[dry-run] would write $NODERR_SYSTEMD_DIR/noderr-heartbeat.timer (mode 644)"* ]]
  [[ $output == *"[dry-run] would pull the node image: docker pull registry.noderr.test/noderr/node:e2e"* ]]
  [[ $output == *"[dry-run] would create the Docker network: docker network create noderr"* ]]
  [[ $output == *"[dry-run] would write $NODERR_SYSTEMD_DIR/noderr-node.service (mode 644)"* ]]
  [[ $output == *"[dry-run] would enable the heartbeat timer: systemctl enable --now noderr-heartbeat.timer"* ]]
  [[ $output == *"[dry-run] would start the node service: systemctl enable --now noderr-node.service"* ]]
  [[ $output == *"Dry run complete: nothing was changed."* ]]
  # Nothing changed: no files, no TPM objects, no docker/systemctl calls, the token still works.
  [ ! -e "$NODERR_CONFIG_DIR" ] && [ ! -e "$NODERR_INSTALL_DIR" ] && [ ! -e "$NODERR_SYSTEMD_DIR" ]
  [ "$(persistent_handles)" = "$before" ]
  [ ! -s "$NODERR_STUB_LOG" ]
  run curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data "{\"installToken\":\"$token\"}" "$API/api/v1/install/config"
  [ "$output" = 200 ]
}

@test "--uninstall on a host without noderr says so and exits 0" {
  run bash "$INSTALLER" --uninstall
  [ "$status" -eq 0 ]
  [[ $output == *"✓ noderr is not installed here (no $NODERR_CONFIG_DIR): nothing to remove."* ]]
}

@test "noderr-heartbeat without a node configuration exits 1 and says why" {
  NODERR_INSTALL_SOURCE_ONLY=1 bash -c 'source "$1" && heartbeat_script /nonexistent' _ "$INSTALLER" >"$T/noderr-heartbeat"
  NODERR_CONFIG_DIR=$T/none run bash "$T/noderr-heartbeat"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "noderr-heartbeat: no node configuration in $T/none (node.conf, credentials.json)." ]
}

# ---- helpers shared with noderr-heartbeat ----------------------------------------------------------

@test "pcr_selection_arg turns the API's selection into tpm2-tools syntax" {
  NODERR_INSTALL_SOURCE_ONLY=1 run bash -c 'source "$1"; echo "{\"sha256\":[0,1,7],\"sha1\":[2]}" | pcr_selection_arg' _ "$INSTALLER"
  [ "$output" = "sha256:0,1,7+sha1:2" ]
}

@test "pcr_yaml_to_json reads the PCR values tpm2_quote prints" {
  printf 'quoted: ff54\nsignature:\n  alg: ecdsa\npcrs:\n  sha256:\n    0 : 0x00AB\n    7 : 0xFF01\n  sha1:\n    2 : 0x1234\ncalcDigest: 99\n' >"$T/q.yaml"
  NODERR_INSTALL_SOURCE_ONLY=1 run bash -c 'source "$1"; pcr_yaml_to_json "$2" | jq -c .' _ "$INSTALLER" "$T/q.yaml"
  [ "$output" = '{"sha256":{"0":"00ab","7":"ff01"},"sha1":{"2":"1234"}}' ]
}

@test "intel_ek_cert_url derives the URL as go-attestation does (base64url SHA-256 of modulus ‖ 010001)" {
  local modulus=c0ffee0123456789abcdef expected
  expected="https://ekop.intel.com/ekcertservice/$(python3 -c 'import base64,hashlib,sys,urllib.parse; print(urllib.parse.quote(base64.urlsafe_b64encode(hashlib.sha256(bytes.fromhex(sys.argv[1]) + b"\x01\x00\x01").digest()).decode(), safe=""))' "$modulus")"
  NODERR_INSTALL_SOURCE_ONLY=1 run bash -c 'source "$1"; intel_ek_cert_url "$2"' _ "$INSTALLER" "$modulus"
  [ "$output" = "$expected" ]
  [[ $output == *%3D ]]
}

@test "normalize_der strips the TCG NV header and trailing padding" {
  # 30 82 00 03 a b c = a 7-byte DER; NV form: 10 01 00 ‖ u16 len ‖ DER ‖ padding
  printf '\x10\x01\x00\x00\x07\x30\x82\x00\x03abc\xff\xff\xff' >"$T/cert"
  NODERR_INSTALL_SOURCE_ONLY=1 run bash -c 'source "$1"; normalize_der "$2"; od -An -tx1 "$2" | tr -d " \n"' _ "$INSTALLER" "$T/cert"
  [ "$output" = 30820003616263 ]
}

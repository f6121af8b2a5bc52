#!/usr/bin/env bash
# noderr node installer for Linux (Ubuntu 22.04+, Debian 11+, RHEL 8+ and rebuilds).
#
#   curl -fsSL https://api.noderr.xyz/install/linux | sudo bash -s -- <INSTALL_TOKEN>
#   sudo bash install.sh [options] <INSTALL_TOKEN>
#
# From an install token to a registered, TPM-attested, running node: checks the host, installs
# tpm2-tools/curl/jq/Docker when missing, creates an attestation key and a node key in the TPM (never
# clearing it or taking ownership), registers through install/config → register → activatecredential →
# activate, stores the credentials root-only, installs `noderr-heartbeat` with a 60 s timer and starts
# the node's container. Run with --help for the options; installers/linux/README.md has the details.
#
# Secrets (install token, API key, session JWT, activation secret) never go into process arguments, the
# environment of the processes this script starts, or the log: they travel through pipes and 0600 files.
set -Eeuo pipefail

NODERR_DEFAULT_API_URL="https://api.noderr.xyz"  # replaced when served by the API

NODERR_VERSION="0.1.0"
TOTAL_STEPS=8

# Exit codes (README.md lists them with their meaning).
readonly EXIT_FAILURE=1 EXIT_USAGE=2 EXIT_ENVIRONMENT=3 EXIT_API=4 EXIT_HARDWARE=5 EXIT_DEPENDENCY=6
readonly EXIT_TOKEN=7 EXIT_ATTESTATION=8

# Where things live in the TPM. The AK and the node key are persisted at these handles (owner
# hierarchy); the EK is recreated from its default template whenever it is needed and never persisted.
readonly EK_CERT_NV_RSA=0x01c00002 EK_CERT_NV_ECC=0x01c0000a
readonly INTEL_EK_CERT_SERVICE="https://ekop.intel.com/ekcertservice/"

CONTAINER_NAME="noderr-node"
DOCKER_NETWORK="noderr"

# ----------------------------------------------------------------------------------------------------
# Helpers shared with noderr-heartbeat (written out with `declare -f`, so they must only use their
# arguments and the globals TPM_TIMEOUT, TPM_ERR_LOG, API_URL, CURL_ERR).
# ----------------------------------------------------------------------------------------------------

# Runs one tpm2-tools command with a timeout; its stdout goes to $1 (a file or /dev/null), its stderr
# to $TPM_ERR_LOG. Afterwards transient objects (and, unless TPM_KEEP_SESSIONS=1, sessions) are
# flushed: without a resource manager (swtpm, /dev/tpm0) leftovers fill the TPM's three slots.
tpm_tool() {
  local out=$1 rc=0
  shift
  timeout "${TPM_TIMEOUT:-30}" "$@" >"$out" 2>>"$TPM_ERR_LOG" || rc=$?
  tpm_flush
  return "$rc"
}

tpm_flush() {
  timeout "${TPM_TIMEOUT:-30}" tpm2_flushcontext -t >/dev/null 2>&1 || true
  if [ "${TPM_KEEP_SESSIONS:-0}" != 1 ]; then
    timeout "${TPM_TIMEOUT:-30}" tpm2_flushcontext -l >/dev/null 2>&1 || true
    timeout "${TPM_TIMEOUT:-30}" tpm2_flushcontext -s >/dev/null 2>&1 || true
  fi
}

# Lowercase hex of a file's bytes.
hex_of_file() {
  od -An -tx1 -v "$1" | tr -d ' \n'
}

# Standard base64 (one line) of a file's bytes.
b64_of_file() {
  base64 -w0 "$1"
}

# The boot event log as base64 into $2, or an empty file when there is none to send. securityfs reports
# a size of 0 for binary_bios_measurements, so the content is read rather than tested with -s.
event_log_b64() {
  local src=$1 out=$2
  : >"$out"
  case "$src" in "" | none) return 0 ;; esac
  [ -r "$src" ] || return 0
  base64 -w0 <"$src" >"$out" 2>/dev/null || : >"$out"
}

# Lowercase hex of base64 read from stdin.
hex_of_b64() {
  base64 -d | od -An -tx1 -v | tr -d ' \n'
}

# Persistent handle present? (tpm2_getcap prints `- 0x81010002`.)
tpm_handle_present() {
  local want=$1 list
  list=$(mktemp)
  if ! tpm_tool "$list" tpm2_getcap handles-persistent; then
    rm -f "$list"
    return 2
  fi
  if grep -qi -- "- ${want}\$" "$list"; then
    rm -f "$list"
    return 0
  fi
  rm -f "$list"
  return 1
}

# Name (hex) of the object at a persistent handle; empty when absent.
tpm_handle_name() {
  local handle=$1 name
  name=$(mktemp)
  if tpm_tool /dev/null tpm2_readpublic -c "$handle" -n "$name"; then
    hex_of_file "$name"
  fi
  rm -f "$name"
}

# `{"sha256":[0,1,2]}` → `sha256:0,1,2` (tpm2-tools PCR selection syntax, banks joined by `+`).
pcr_selection_arg() {
  jq -r 'to_entries | map(select(.value | length > 0)) | map("\(.key):\(.value | map(tostring) | join(","))") | join("+")'
}

# The `pcrs:` block of tpm2_quote's YAML (file $1) → `{"sha256":{"0":"<hex>"}}` on stdout.
pcr_yaml_to_json() {
  awk '
    /^pcrs:[[:space:]]*$/ { inside = 1; next }
    inside && /^[^[:space:]]/ { inside = 0 }
    inside && /^[[:space:]]+[a-z0-9_]+:[[:space:]]*$/ { bank = $1; sub(/:$/, "", bank); next }
    inside && /^[[:space:]]+[0-9]+[[:space:]]*:[[:space:]]*0x[0-9A-Fa-f]+[[:space:]]*$/ {
      line = $0; sub(/^[[:space:]]+/, "", line); split(line, parts, /[[:space:]]*:[[:space:]]*0x/)
      print bank, parts[1], tolower(parts[2])
    }
  ' "$1" | jq -R -n '[inputs | split(" ")] | reduce .[] as $p ({}; .[$p[0]][$p[1]] = $p[2])'
}

# TPM2_Quote by the AK over the PCR selection (tpm2-tools syntax) with the base64 nonce as qualifying
# data. Writes quote.msg (TPMS_ATTEST), quote.sig (TPMT_SIGNATURE) and pcrs.json into directory $4.
tpm_quote() {
  local ak=$1 selection=$2 nonce_b64=$3 dir=$4 nonce_hex
  nonce_hex=$(printf '%s' "$nonce_b64" | hex_of_b64)
  tpm_tool "$dir/quote.yaml" tpm2_quote -c "$ak" -l "$selection" -q "$nonce_hex" -g sha256 \
    -m "$dir/quote.msg" -s "$dir/quote.sig" -f tss -o "$dir/pcrs.bin" -F values || return 1
  # tpm2_quote prints the PCR values it read (only when -o is given) and checks them against the quote.
  pcr_yaml_to_json "$dir/quote.yaml" >"$dir/pcrs.json"
  [ "$(jq '[.[] | length] | add // 0' "$dir/pcrs.json")" -gt 0 ]
}

# POST JSON read from stdin to $API_URL$1; the response body goes to file $2, the HTTP status to
# stdout. Optional $3: a file of extra headers (`Authorization: Bearer …`), so that no secret is ever
# a curl argument. Returns 1 when no HTTP answer came back (the reason in file $CURL_ERR).
api_post() {
  local path=$1 out=$2 headers=${3:-} status
  local -a extra=()
  if [ -n "$headers" ]; then extra=(-H "@$headers"); fi
  if status=$(curl -sS --connect-timeout 10 --max-time 60 -o "$out" -w '%{http_code}' \
    -X POST -H 'Content-Type: application/json' -H 'Accept: application/json' "${extra[@]}" \
    --data-binary @- "${API_URL}${path}" 2>"$CURL_ERR"); then
    printf '%s' "$status"
    return 0
  fi
  return 1
}

# `code`, `message` and `requestId` of an API error body (file $1), tab-separated.
api_error_fields() {
  jq -r '[.error.code // "UNKNOWN", (.error.message // "" | gsub("[\t\n]"; " ")), .error.requestId // "", .error.details.reason // ""] | @tsv' "$1" 2>/dev/null ||
    printf 'UNKNOWN\t\t\t\n'
}

# ----------------------------------------------------------------------------------------------------
# Output and logging
# ----------------------------------------------------------------------------------------------------

if [ -t 1 ]; then
  C_OK=$'\e[32m' C_ERR=$'\e[31m' C_DIM=$'\e[2m' C_BOLD=$'\e[1m' C_OFF=$'\e[0m'
else
  C_OK="" C_ERR="" C_DIM="" C_BOLD="" C_OFF=""
fi

LOG_FILE=/dev/null
CURRENT_STEP=0

now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s' "${t:0:-3}"
  else
    date +%s%3N
  fi
}

log() {
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$*" >>"$LOG_FILE" 2>/dev/null || true
  if [ "${VERBOSE:-0}" = 1 ]; then printf '%s    %s%s\n' "$C_DIM" "$*" "$C_OFF" >&2; fi
}

STEP_STARTED_MS=""
step() {
  local now
  now=$(now_ms)
  if [ -n "$STEP_STARTED_MS" ]; then log "timing: step $CURRENT_STEP took $((now - STEP_STARTED_MS)) ms"; fi
  STEP_STARTED_MS=$now
  CURRENT_STEP=$1
  shift
  printf '\n%s[%s/%s] %s%s\n' "$C_BOLD" "$CURRENT_STEP" "$TOTAL_STEPS" "$*" "$C_OFF"
  log "[$CURRENT_STEP/$TOTAL_STEPS] $*"
}

ok() {
  printf '  %s✓%s %s\n' "$C_OK" "$C_OFF" "$*"
  log "ok: $*"
}

info() {
  printf '    %s\n' "$*"
  log "$*"
}

warn() {
  printf '  ! %s\n' "$*" >&2
  log "warning: $*"
}

# fail EXIT_CODE "what went wrong" ["what to do" ...]
fail() {
  local code=$1 msg=$2 line
  shift 2
  printf '  %s✗%s %s\n' "$C_ERR" "$C_OFF" "$msg" >&2
  log "error: $msg"
  for line in "$@"; do
    printf '    → %s\n' "$line" >&2
    log "hint: $line"
  done
  if [ "$LOG_FILE" != /dev/null ]; then printf '    Log: %s\n' "$LOG_FILE" >&2; fi
  exit "$code"
}

usage() {
  cat <<EOF
noderr node installer ${NODERR_VERSION}

Usage:
  curl -fsSL <api>/install/linux | sudo bash -s -- [options] <INSTALL_TOKEN>
  sudo bash install.sh [options] <INSTALL_TOKEN>
  sudo bash install.sh --uninstall [--config-dir DIR]

Options (each also from the environment variable shown):
  --api-url URL        API base URL (NODERR_API_URL; default ${NODERR_DEFAULT_API_URL})
  --tcti TCTI          TPM access for tpm2-tools (NODERR_TCTI; default device:/dev/tpmrm0)
  --config-dir DIR     credentials and state (NODERR_CONFIG_DIR; default /etc/noderr)
  --install-dir DIR    programs (NODERR_INSTALL_DIR; default /opt/noderr)
  --log-file FILE      installer log (NODERR_LOG_FILE; default /var/log/noderr/install.log)
  --event-log FILE     TCG boot event log sent with every attestation, for tiers that judge measured boot
                       (NODERR_EVENT_LOG; default /sys/kernel/security/tpm0/binary_bios_measurements
                       when readable; 'none' sends none)
  --token-file FILE    read the install token from FILE instead of the command line
                       (NODERR_INSTALL_TOKEN_FILE; the token may also come from NODERR_INSTALL_TOKEN)
  --no-docker          register and set up attestation only (NODERR_NO_DOCKER=1)
  --dry-run            print every action, change nothing (NODERR_DRY_RUN=1)
  --yes, -y            do not ask for confirmation (NODERR_YES=1)
  --uninstall          remove the service, container, files and our TPM keys (NODERR_UNINSTALL=1)
  --verbose, -v        show details (NODERR_VERBOSE=1)
  --min-cpu N          minimum CPU cores (NODERR_MIN_CPU; default 4)
  --min-ram-gb N       minimum RAM in GB (NODERR_MIN_RAM_GB; default 8)
  --min-disk-gb N      minimum disk size in GB (NODERR_MIN_DISK_GB; default 100)
  --help, -h           this help
  --version            print the installer version
EOF
}

# ----------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------

truthy() {
  case "${1:-}" in 1 | true | TRUE | yes | YES | on | ON) return 0 ;; *) return 1 ;; esac
}

usage_error() {
  printf 'Error: %s\n' "$1" >&2
  printf 'Run with --help for usage.\n' >&2
  exit "$EXIT_USAGE"
}

parse_args() {
  API_URL=${NODERR_API_URL:-$NODERR_DEFAULT_API_URL}
  TCTI=${NODERR_TCTI:-device:/dev/tpmrm0}
  CONFIG_DIR=${NODERR_CONFIG_DIR:-/etc/noderr}
  INSTALL_DIR=${NODERR_INSTALL_DIR:-/opt/noderr}
  LOG_FILE_OPT=${NODERR_LOG_FILE:-}
  EVENT_LOG=${NODERR_EVENT_LOG:-/sys/kernel/security/tpm0/binary_bios_measurements}
  TOKEN_FILE=${NODERR_INSTALL_TOKEN_FILE:-}
  NO_DOCKER=0 DRY_RUN=0 ASSUME_YES=0 UNINSTALL=0 VERBOSE=0
  if truthy "${NODERR_NO_DOCKER:-}"; then NO_DOCKER=1; fi
  if truthy "${NODERR_DRY_RUN:-}"; then DRY_RUN=1; fi
  if truthy "${NODERR_YES:-}"; then ASSUME_YES=1; fi
  if truthy "${NODERR_UNINSTALL:-}"; then UNINSTALL=1; fi
  if truthy "${NODERR_VERBOSE:-}"; then VERBOSE=1; fi
  MIN_CPU=${NODERR_MIN_CPU:-4}
  MIN_RAM_GB=${NODERR_MIN_RAM_GB:-8}
  MIN_DISK_GB=${NODERR_MIN_DISK_GB:-100}
  # The token may come from the environment: keep it in a shell variable only, so that no process
  # this script starts inherits it.
  INSTALL_TOKEN=${NODERR_INSTALL_TOKEN:-}
  unset NODERR_INSTALL_TOKEN

  local positional=0 opt value
  while [ $# -gt 0 ]; do
    opt=$1
    case "$opt" in
      --api-url | --tcti | --config-dir | --install-dir | --log-file | --event-log | --token-file | --min-cpu | --min-ram-gb | --min-disk-gb)
        [ $# -ge 2 ] || usage_error "$opt needs a value."
        value=$2
        shift 2
        set_option "$opt" "$value"
        ;;
      --api-url=* | --tcti=* | --config-dir=* | --install-dir=* | --log-file=* | --event-log=* | --token-file=* | --min-cpu=* | --min-ram-gb=* | --min-disk-gb=*)
        shift
        set_option "${opt%%=*}" "${opt#*=}"
        ;;
      --no-docker) NO_DOCKER=1 && shift ;;
      --dry-run) DRY_RUN=1 && shift ;;
      --yes | -y) ASSUME_YES=1 && shift ;;
      --uninstall) UNINSTALL=1 && shift ;;
      --verbose | -v) VERBOSE=1 && shift ;;
      --help | -h)
        usage
        exit 0
        ;;
      --version)
        printf 'noderr installer %s\n' "$NODERR_VERSION"
        exit 0
        ;;
      --)
        shift
        while [ $# -gt 0 ]; do
          positional=$((positional + 1))
          INSTALL_TOKEN=$1
          shift
        done
        ;;
      -*) usage_error "Unknown option: ${opt%%=*}" ;;
      *)
        positional=$((positional + 1))
        INSTALL_TOKEN=$1
        shift
        ;;
    esac
  done
  [ "$positional" -le 1 ] || usage_error "Too many arguments: expected at most one install token."
  validate_options
}

set_option() {
  case "$1" in
    --api-url) API_URL=$2 ;;
    --tcti) TCTI=$2 ;;
    --config-dir) CONFIG_DIR=$2 ;;
    --install-dir) INSTALL_DIR=$2 ;;
    --log-file) LOG_FILE_OPT=$2 ;;
    --event-log) EVENT_LOG=$2 ;;
    --token-file) TOKEN_FILE=$2 ;;
    --min-cpu) MIN_CPU=$2 ;;
    --min-ram-gb) MIN_RAM_GB=$2 ;;
    --min-disk-gb) MIN_DISK_GB=$2 ;;
  esac
}

validate_options() {
  API_URL=${API_URL%/}
  case "$API_URL" in
    https://?*) ;;
    http://127.0.0.1 | http://127.0.0.1:* | http://localhost | http://localhost:* | http://\[::1\]*) ;;
    http://*) usage_error "--api-url must use https:// (plain http is accepted for localhost only): $API_URL" ;;
    *) usage_error "--api-url must be an https:// URL, e.g. https://api.noderr.xyz (got: $API_URL)" ;;
  esac
  case "$API_URL" in *[[:space:]\"\'\\]*) usage_error "--api-url contains spaces or quotes: $API_URL" ;; esac
  local name
  for name in MIN_CPU MIN_RAM_GB MIN_DISK_GB; do
    [[ ${!name} =~ ^[0-9]+$ ]] || usage_error "--$(printf '%s' "$name" | tr 'A-Z_' 'a-z-') must be a whole number (got: ${!name})"
  done
  [ -n "$TCTI" ] || usage_error "--tcti must not be empty (default: device:/dev/tpmrm0)"
  # tpm2-tools wants `device:/dev/…`; accept a bare device path too.
  case "$TCTI" in /*) TCTI="device:$TCTI" ;; esac
  for name in CONFIG_DIR INSTALL_DIR; do
    case "${!name}" in
      /*) ;;
      *) usage_error "--$(printf '%s' "$name" | tr 'A-Z_' 'a-z-') must be an absolute path (got: ${!name})" ;;
    esac
    case "${!name}" in
      / | /etc | /opt | /usr | /var | /bin | /boot | /root | /home)
        usage_error "--$(printf '%s' "$name" | tr 'A-Z_' 'a-z-') must be a directory of its own, not ${!name}"
        ;;
    esac
  done
  CONFIG_DIR=${CONFIG_DIR%/} INSTALL_DIR=${INSTALL_DIR%/}
  if [ -n "$TOKEN_FILE" ]; then
    [ -r "$TOKEN_FILE" ] || usage_error "Cannot read the token file $TOKEN_FILE."
    INSTALL_TOKEN=$(tr -d ' \t\r\n' <"$TOKEN_FILE")
  fi
  if [ -n "$INSTALL_TOKEN" ] && ! [[ $INSTALL_TOKEN =~ ^ndr_install_[0-9a-f]{64}$ ]]; then
    # Never echo the value: it may be a real token with a typo.
    usage_error "The install token is malformed: it must be ndr_install_ followed by 64 lowercase hex characters. Copy it again from your welcome email or the dApp."
  fi
  TPM_TIMEOUT=${NODERR_TPM_TIMEOUT:-30}
  [[ $TPM_TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage_error "NODERR_TPM_TIMEOUT must be a positive whole number of seconds."
  AK_HANDLE=${NODERR_AK_HANDLE:-0x81010002}
  KEY_HANDLE=${NODERR_NODE_KEY_HANDLE:-0x81010003}
  for name in AK_HANDLE KEY_HANDLE; do
    [[ ${!name} =~ ^0x81[0-7][0-9a-f]{5}$ ]] || usage_error "NODERR_${name/KEY_HANDLE/NODE_KEY_HANDLE} must be an owner persistent handle 0x81000000-0x817fffff (got: ${!name})"
  done
  [ "$AK_HANDLE" != "$KEY_HANDLE" ] || usage_error "The AK and node key handles must differ."
}

# ----------------------------------------------------------------------------------------------------
# State: $CONFIG_DIR/node.conf (KEY=value lines, no secrets) and $CONFIG_DIR/credentials.json (0600).
# STAGE: keys → activated → services → done.
# ----------------------------------------------------------------------------------------------------

declare -A STATE=()

state_file() { printf '%s/node.conf' "$CONFIG_DIR"; }

load_state() {
  STATE=()
  local f key value
  f=$(state_file)
  [ -f "$f" ] || return 0
  while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z_]+$ ]] || continue
    STATE[$key]=$value
  done <"$f"
}

save_state() {
  local f key
  f=$(state_file)
  {
    printf '# noderr node state, written by install.sh; read by noderr-heartbeat. No secrets here.\n'
    for key in $(printf '%s\n' "${!STATE[@]}" | sort); do
      printf '%s=%s\n' "$key" "${STATE[$key]}"
    done
  } >"$f.tmp"
  chmod 600 "$f.tmp"
  mv -f "$f.tmp" "$f"
}

stage_rank() {
  case "${1:-}" in keys) echo 1 ;; activated) echo 2 ;; services) echo 3 ;; done) echo 4 ;; *) echo 0 ;; esac
}

stage_at_least() {
  [ "$(stage_rank "${STATE[STAGE]:-}")" -ge "$(stage_rank "$1")" ]
}

# ----------------------------------------------------------------------------------------------------
# Changes go through these, so that --dry-run prints them instead and a failure before activation can
# undo what this run created.
# ----------------------------------------------------------------------------------------------------

CREATED_PATHS=()    # files and directories this run created, removed again on an early failure
CREATED_HANDLES=()  # persistent TPM handles this run (or an unfinished earlier run) created
ROLLBACK_ARMED=1    # cleared once the node is activated: from then on, keep everything

quote_cmd() {
  local out="" a
  for a in "$@"; do out+="$(printf '%q' "$a") "; done
  printf '%s' "${out% }"
}

# act "what" command args…: run a command that changes the system (output to the log).
act() {
  local what=$1
  shift
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] would %s: %s\n' "$what" "$(quote_cmd "$@")"
    return 0
  fi
  log "run ($what): $(quote_cmd "$@")"
  "$@" >>"$LOG_FILE" 2>&1
}

ensure_dir() {
  local dir=$1 mode=$2
  if [ -d "$dir" ]; then
    [ "$DRY_RUN" = 1 ] || chmod "$mode" "$dir"
    return 0
  fi
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] would create directory %s (mode %s)\n' "$dir" "$mode"
    return 0
  fi
  local missing=$dir
  while [ ! -d "$(dirname "$missing")" ]; do missing=$(dirname "$missing"); done
  mkdir -p "$dir"
  chmod "$mode" "$dir"
  CREATED_PATHS+=("$missing")
  log "created directory $dir"
}

# write_file PATH MODE < content
write_file() {
  local path=$1 mode=$2
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] would write %s (mode %s)\n' "$path" "$mode"
    cat >/dev/null
    return 0
  fi
  [ -e "$path" ] || CREATED_PATHS+=("$path")
  (umask 077 && cat >"$path.tmp")
  chmod "$mode" "$path.tmp"
  mv -f "$path.tmp" "$path"
  log "wrote $path (mode $mode)"
}

rollback() {
  local handle path i
  # A failure before activation: the install token is still unused. Remove what we created so that
  # the next run (with the same token) starts clean.
  for handle in "${CREATED_HANDLES[@]}"; do
    if tpm_handle_present "$handle"; then
      if tpm_tool /dev/null tpm2_evictcontrol -C o -c "$handle"; then
        printf '    removed TPM key %s created by this run\n' "$handle" >&2
        log "rollback: evicted $handle"
      else
        printf '    could not remove TPM key %s: remove it with tpm2_evictcontrol -C o -c %s\n' "$handle" "$handle" >&2
      fi
    fi
  done
  rm -f -- "$(state_file)"
  for ((i = ${#CREATED_PATHS[@]} - 1; i >= 0; i--)); do
    path=${CREATED_PATHS[$i]}
    case "$path" in "" | /) continue ;; esac
    rm -rf -- "$path"
    log "rollback: removed $path"
  done
  printf '    The install token was not used up: fix the problem above and run the installer again with it.\n' >&2
}

WORK_DIR=""
CONFIG_JSON=""
on_exit() {
  local rc=$?
  set +e
  trap - ERR
  if [ "$rc" -ne 0 ] && [ "$DRY_RUN" != 1 ] && [ "$ROLLBACK_ARMED" = 1 ] &&
    { [ ${#CREATED_HANDLES[@]} -gt 0 ] || [ ${#CREATED_PATHS[@]} -gt 0 ]; }; then
    log "rolling back after exit code $rc"
    rollback
  elif [ "$rc" -ne 0 ] && [ "$ROLLBACK_ARMED" = 0 ]; then
    printf '    The node is registered and its credentials are kept: run the installer again (no token needed) to finish.\n' >&2
  fi
  if [ -n "$WORK_DIR" ]; then rm -rf -- "$WORK_DIR"; fi
  log "exit $rc"
  exit "$rc"
}

on_error() {
  local rc=$? line=$1 cmd=$2
  printf '  %s✗%s unexpected failure (exit %s) at line %s: %s\n' "$C_ERR" "$C_OFF" "$rc" "$line" "$cmd" >&2
  log "unexpected failure (exit $rc) at line $line: $cmd"
  if [ "$LOG_FILE" != /dev/null ]; then printf '    Log: %s\n' "$LOG_FILE" >&2; fi
  exit "$EXIT_FAILURE"
}

# ----------------------------------------------------------------------------------------------------
# Step 1: environment
# ----------------------------------------------------------------------------------------------------

os_release_file() { printf '%s' "${NODERR_OS_RELEASE:-/etc/os-release}"; }

# Prints "PRETTY_NAME" when supported; fails with a message otherwise.
check_os() {
  local f id="" version="" like="" pretty="" key value major minor
  f=$(os_release_file)
  [ -r "$f" ] || fail "$EXIT_ENVIRONMENT" "Cannot identify the operating system: $f is missing." \
    "Supported: Ubuntu 22.04+, Debian 11+, RHEL 8+ (Rocky, AlmaLinux, Oracle Linux 8+)."
  while IFS='=' read -r key value; do
    value=${value%\"} value=${value#\"} value=${value%\'} value=${value#\'}
    case "$key" in
      ID) id=$value ;; VERSION_ID) version=$value ;; ID_LIKE) like=$value ;; PRETTY_NAME) pretty=$value ;;
    esac
  done <"$f"
  [ -n "$pretty" ] || pretty="$id $version"
  major=${version%%.*}
  minor=0
  if [[ $version == *.* ]]; then minor=${version#*.} minor=${minor%%.*}; fi
  [[ $major =~ ^[0-9]+$ ]] || major=0
  [[ $minor =~ ^[0-9]+$ ]] || minor=0
  local supported=0
  case "$id" in
    ubuntu) if [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 4 ]; }; then supported=1; fi ;;
    debian) if [ "$major" -ge 11 ]; then supported=1; fi ;;
    rhel | rocky | almalinux | centos | ol) if [ "$major" -ge 8 ]; then supported=1; fi ;;
    *) if [[ " $like " == *" rhel "* ]] && [ "$major" -ge 8 ]; then supported=1; fi ;;
  esac
  [ "$supported" = 1 ] || fail "$EXIT_ENVIRONMENT" "Unsupported operating system: $pretty." \
    "Supported: Ubuntu 22.04+, Debian 11+, RHEL 8+ (Rocky, AlmaLinux, Oracle Linux 8+)." \
    "Install on a supported release, or follow the manual steps in the README."
  OS_PRETTY=$pretty
  OS_ID=$id
}

check_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if [ "$DRY_RUN" = 1 ]; then
      warn "Not running as root: fine for a dry run, but the real install must run as root (sudo)."
      return 0
    fi
    fail "$EXIT_ENVIRONMENT" "This installer must run as root: it installs packages, uses the TPM and writes to $CONFIG_DIR." \
      "Run it again with sudo: curl -fsSL ${API_URL}/install/linux | sudo bash -s -- <INSTALL_TOKEN>"
  fi
}

check_api() {
  local out status
  out="$WORK_DIR/health.json"
  if ! status=$(curl -sS --connect-timeout 10 --max-time 20 -o "$out" -w '%{http_code}' \
    "${API_URL}/api/v1/health" 2>"$CURL_ERR"); then
    fail "$EXIT_API" "Cannot reach the noderr API at ${API_URL}: $(tail -n1 "$CURL_ERR" | sed 's/^curl: ([0-9]*) //')." \
      "Check the host's network, DNS, firewall and proxy (HTTPS_PROXY), then run the installer again." \
      "Test with: curl -v ${API_URL}/api/v1/health"
  fi
  # No jq yet on a fresh host (step 3 installs it): match the JSON by hand.
  if [ "$status" != 200 ] || ! tr -d ' \n' <"$out" | grep -q '"status":"ok"'; then
    log "health answered HTTP $status: $(head -c 500 "$out" 2>/dev/null)"
    fail "$EXIT_API" "The noderr API at ${API_URL} is not healthy (HTTP $status)." \
      "This is on the service side: wait a few minutes and run the installer again." \
      "Check that --api-url points at the noderr API."
  fi
  ok "API reachable: ${API_URL} (version $(tr -d ' \n' <"$out" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'))"
}

# POST install/config with the token (from a pipe, never an argument). Sets CONFIG_JSON (a file).
fetch_install_config() {
  local status
  CONFIG_JSON="$WORK_DIR/install-config.json"
  if ! status=$(printf '%s' "$INSTALL_TOKEN" | jq -Rs '{installToken: .}' | api_post /api/v1/install/config "$CONFIG_JSON"); then
    fail "$EXIT_API" "Cannot reach the noderr API at ${API_URL}: $(tail -n1 "$CURL_ERR")." \
      "Check the network and run the installer again."
  fi
  [ "$status" = 200 ] || api_fail "$status" "$CONFIG_JSON" "install/config"
}

# Turns an API error into a clear message and exits.
api_fail() {
  local status=$1 body=$2 what=$3 code message request reason
  IFS=$'\t' read -r code message request reason < <(api_error_fields "$body")
  log "API $what answered HTTP $status: code=$code reason=$reason request=$request message=$message"
  local rid=""
  if [ -n "$request" ]; then rid=" (request id $request)"; fi
  case "$code" in
    INSTALL_TOKEN_INVALID)
      fail "$EXIT_TOKEN" "The install token was not recognised [INSTALL_TOKEN_INVALID]$rid." \
        "Check that you copied the whole token from the welcome email, or create a new one in the dApp." ;;
    INSTALL_TOKEN_USED)
      fail "$EXIT_TOKEN" "This install token has already been used to register a node [INSTALL_TOKEN_USED]$rid." \
        "Each token registers one node: create a new install token in the dApp." \
        "If this host is that node, its files are gone: run with --uninstall, revoke the old node in the dApp, and install with a new token." ;;
    INSTALL_TOKEN_EXPIRED)
      fail "$EXIT_TOKEN" "This install token has expired [INSTALL_TOKEN_EXPIRED]$rid." \
        "Create a new install token in the dApp (tokens are valid for up to 7 days) and run the installer with it." ;;
    INSTALL_TOKEN_REVOKED)
      fail "$EXIT_TOKEN" "This install token was revoked by an administrator [INSTALL_TOKEN_REVOKED]$rid." \
        "Ask your administrator for a new install token." ;;
    EK_ALREADY_REGISTERED)
      fail "$EXIT_ATTESTATION" "This machine's TPM is already registered as another node [EK_ALREADY_REGISTERED]$rid." \
        "One TPM registers one node. Revoke the old node in the dApp first, then run the installer again." ;;
    ATTESTATION_INVALID)
      case "$reason" in
        EK_CERT_REQUIRED)
          fail "$EXIT_ATTESTATION" "Your tier requires a TPM endorsement key certificate and this TPM has none [ATTESTATION_INVALID/EK_CERT_REQUIRED]$rid." \
            "Use a host whose TPM carries an EK certificate (most discrete TPMs do), or ask for an install token of a tier that accepts TPMs without one." ;;
        EK_CERT_UNTRUSTED)
          fail "$EXIT_ATTESTATION" "The TPM's endorsement key certificate is not from a manufacturer the API trusts [ATTESTATION_INVALID/EK_CERT_UNTRUSTED]$rid." \
            "For a virtual TPM of a private cloud, an administrator must add its CA as an EK trust anchor (admin API: ek-anchors); then run the installer again." ;;
        PCR_POLICY_VIOLATION)
          fail "$EXIT_ATTESTATION" "The measured boot state (PCR values) is not allowed by your tier's policy [ATTESTATION_INVALID/PCR_POLICY_VIOLATION]$rid." \
            "Ask your administrator which firmware/boot configuration the policy expects." ;;
        EVENT_LOG_INVALID | EVENT_LOG_MISMATCH)
          fail "$EXIT_ATTESTATION" "Your tier judges the boot event log, and the one sent was missing or does not match this TPM's PCRs [ATTESTATION_INVALID/$reason]$rid: $message" \
            "Check that $EVENT_LOG is readable (or pass --event-log FILE with this host's TCG log); a log copied from another host or boot does not replay." ;;
        *)
          fail "$EXIT_ATTESTATION" "The API rejected this TPM's attestation [ATTESTATION_INVALID/${reason:-?}]$rid: $message" \
            "Run the installer again; if it fails the same way, send the log to support." ;;
      esac ;;
    CHALLENGE_EXPIRED | CHALLENGE_INVALID)
      fail "$EXIT_API" "The registration challenge was no longer valid [$code]$rid." \
        "Run the installer again: it asks for a fresh challenge." ;;
    ACTIVATION_NOT_FOUND | ACTIVATION_FAILED)
      fail "$EXIT_ATTESTATION" "Credential activation failed [$code]$rid: $message" \
        "Run the installer again with the same token (it was not used up)." ;;
    RATE_LIMITED)
      fail "$EXIT_API" "Too many attempts from this address [RATE_LIMITED]$rid." \
        "Wait a minute, then run the installer again." ;;
    SESSION_KEY_UNAVAILABLE | DATABASE_UNAVAILABLE)
      fail "$EXIT_API" "The API cannot finish this on its side right now [$code]$rid: $message" \
        "This is on the service side: wait, or ask the administrators; then run the installer again (it resumes)." ;;
    *)
      fail "$EXIT_API" "The API refused $what: HTTP $status [$code]$rid: ${message:-no details}" \
        "Run the installer again; if it fails the same way, send the log ($LOG_FILE) to support." ;;
  esac
}

# ----------------------------------------------------------------------------------------------------
# Step 2: hardware
# ----------------------------------------------------------------------------------------------------

proc_dir() { printf '%s' "${NODERR_PROC_DIR:-/proc}"; }

check_tpm_device() {
  case "$TCTI" in
    device:*)
      local dev=${TCTI#device:}
      if [ ! -e "$dev" ]; then
        fail "$EXIT_HARDWARE" "No TPM 2.0 found: $dev does not exist." \
          "Enable the TPM (TPM 2.0, PTT or fTPM) in the firmware setup, or attach a vTPM to this VM, then reboot." \
          "If the TPM is only reachable otherwise, pass --tcti (e.g. --tcti tabrmd for tpm2-abrmd)."
      fi
      ;;
  esac
}

check_tpm() {
  local props="$WORK_DIR/tpm-props.yaml" rc=0
  check_tpm_device
  timeout "$TPM_TIMEOUT" tpm2_getcap properties-fixed >"$props" 2>>"$TPM_ERR_LOG" || rc=$?
  if [ "$rc" -eq 124 ]; then
    fail "$EXIT_HARDWARE" "The TPM is busy: it did not answer within ${TPM_TIMEOUT} s ($TCTI)." \
      "Another program holds it (a TPM resource manager, tcsd, or another installer): stop it or wait, then run the installer again." \
      "With the kernel resource manager (/dev/tpmrm0, the default) several programs can share the TPM."
  elif [ "$rc" -ne 0 ]; then
    if grep -qiE 'busy|TPM_RC_RETRY|TPM_RC_YIELDED' "$TPM_ERR_LOG"; then
      fail "$EXIT_HARDWARE" "The TPM is busy ($TCTI)." \
        "Another program holds it (e.g. tpm2-abrmd or tcsd on /dev/tpm0): use the kernel resource manager /dev/tpmrm0 (--tcti device:/dev/tpmrm0) or stop it."
    fi
    fail "$EXIT_HARDWARE" "The TPM does not answer ($TCTI): $(grep -E 'ERROR' "$TPM_ERR_LOG" | tail -n1)" \
      "Check that a TPM 2.0 is enabled (ls /dev/tpm*) and that --tcti is right." \
      "A TPM 1.2 is not supported: this installer needs TPM 2.0."
  fi
  tpm_flush
  if ! grep -A2 'TPM2_PT_FAMILY_INDICATOR' "$props" | grep -q '"2.0"'; then
    fail "$EXIT_HARDWARE" "The TPM at $TCTI is not a TPM 2.0." "This installer needs a TPM 2.0."
  fi
  TPM_MANUFACTURER=$(grep -A2 'TPM2_PT_MANUFACTURER:' "$props" | sed -n 's/.*value: "\(.*\)"/\1/p' | head -n1)
  ok "TPM 2.0 answering (manufacturer ${TPM_MANUFACTURER:-unknown}, $TCTI)"
}

# Sizes for the checks and for systemInfo.
measure_host() {
  local proc
  proc=$(proc_dir)
  CPU_CORES=$(grep -c '^processor' "$proc/cpuinfo" 2>/dev/null || true)
  [[ ${CPU_CORES:-} =~ ^[0-9]+$ ]] && [ "$CPU_CORES" -gt 0 ] || CPU_CORES=$(nproc 2>/dev/null || echo 0)
  local mem_kb
  mem_kb=$(awk '/^MemTotal:/ { print $2 }' "$proc/meminfo" 2>/dev/null || true)
  [[ ${mem_kb:-} =~ ^[0-9]+$ ]] || mem_kb=0
  # Whole GiB, rounded to the nearest: an "8 GB" machine reports a little less than 8 GiB.
  RAM_GB=$(((mem_kb + 524288) / 1048576))
  local probe=$INSTALL_DIR
  while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
  local disk_kb
  disk_kb=$(df -Pk "$probe" 2>/dev/null | awk 'NR == 2 { print $2 }')
  [[ ${disk_kb:-} =~ ^[0-9]+$ ]] || disk_kb=0
  # Filesystem size in GB (10^9 bytes, as disks are sold), rounded to the nearest.
  DISK_GB=$(((disk_kb * 1024 + 500000000) / 1000000000))
  DISK_PATH=$probe
}

check_resources() {
  measure_host
  [ "$CPU_CORES" -ge "$MIN_CPU" ] || fail "$EXIT_HARDWARE" "Not enough CPU: $CPU_CORES cores, the minimum is $MIN_CPU." \
    "Use a larger machine (or lower the minimum with --min-cpu if your operator allows it)."
  ok "CPU: $CPU_CORES cores (minimum $MIN_CPU)"
  [ "$RAM_GB" -ge "$MIN_RAM_GB" ] || fail "$EXIT_HARDWARE" "Not enough memory: ${RAM_GB} GB, the minimum is ${MIN_RAM_GB} GB." \
    "Use a larger machine (or lower the minimum with --min-ram-gb if your operator allows it)."
  ok "RAM: ${RAM_GB} GB (minimum ${MIN_RAM_GB} GB)"
  [ "$DISK_GB" -ge "$MIN_DISK_GB" ] || fail "$EXIT_HARDWARE" "Not enough disk: the filesystem of $DISK_PATH has ${DISK_GB} GB, the minimum is ${MIN_DISK_GB} GB." \
    "Use a larger disk (or lower the minimum with --min-disk-gb if your operator allows it)."
  ok "Disk: ${DISK_GB} GB at $DISK_PATH (minimum ${MIN_DISK_GB} GB)"
}

# ----------------------------------------------------------------------------------------------------
# Step 3: dependencies
# ----------------------------------------------------------------------------------------------------

package_manager() {
  if command -v apt-get >/dev/null 2>&1; then
    echo apt
  elif command -v dnf >/dev/null 2>&1; then
    echo dnf
  elif command -v yum >/dev/null 2>&1; then
    echo yum
  else
    echo none
  fi
}

# Manual install command for packages on this OS family.
manual_install_cmd() {
  case "${OS_ID:-}" in
    ubuntu | debian) printf 'sudo apt-get update && sudo apt-get install -y %s' "$*" ;;
    *) printf 'sudo dnf install -y %s' "$*" ;;
  esac
}

docker_manual_cmd() {
  case "${OS_ID:-}" in
    ubuntu | debian) printf 'sudo apt-get update && sudo apt-get install -y docker.io && sudo systemctl enable --now docker' ;;
    *) printf 'sudo dnf config-manager --add-repo https://download.docker.com/linux/rhel/docker-ce.repo && sudo dnf install -y docker-ce docker-ce-cli containerd.io && sudo systemctl enable --now docker' ;;
  esac
}

install_dependencies() {
  local -a missing=() pkgs=()
  local tool
  for tool in tpm2_createak:tpm2-tools curl:curl jq:jq timeout:coreutils flock:util-linux awk:gawk; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
      missing+=("${tool%%:*}")
      pkgs+=("${tool#*:}")
    fi
  done
  local pm
  pm=$(package_manager)
  if [ ${#pkgs[@]} -gt 0 ]; then
    case "$pm" in
      apt)
        act "refresh the package lists" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
        act "install ${pkgs[*]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" ||
          fail "$EXIT_DEPENDENCY" "Installing ${pkgs[*]} with apt-get failed." "Install them manually: $(manual_install_cmd "${pkgs[@]}")"
        ;;
      dnf | yum)
        act "install ${pkgs[*]}" "$pm" install -y "${pkgs[@]}" ||
          fail "$EXIT_DEPENDENCY" "Installing ${pkgs[*]} with $pm failed." "Install them manually: $(manual_install_cmd "${pkgs[@]}")"
        ;;
      *)
        fail "$EXIT_DEPENDENCY" "Missing ${missing[*]} and no supported package manager (apt-get, dnf, yum) was found." \
          "Install them manually: $(manual_install_cmd "${pkgs[@]}")"
        ;;
    esac
    if [ "$DRY_RUN" != 1 ]; then
      for tool in "${missing[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || fail "$EXIT_DEPENDENCY" "$tool is still missing after installing ${pkgs[*]}." \
          "Install it manually: $(manual_install_cmd "${pkgs[@]}")"
      done
    fi
  fi
  if [ "$DRY_RUN" != 1 ] || [ ${#pkgs[@]} -eq 0 ]; then
    local version
    version=$(tpm2_createak --version 2>/dev/null | sed -n 's/.*version="\([^"]*\)".*/\1/p')
    case "$version" in
      [0-4].*) warn "tpm2-tools $version is old; 5.x is tested. Upgrade it if a TPM step fails." ;;
    esac
    ok "tpm2-tools ${version:-?}, curl, jq present"
  fi

  if [ "$NO_DOCKER" = 1 ]; then
    ok "Docker not needed (--no-docker)"
    return 0
  fi
  if command -v docker >/dev/null 2>&1; then
    ok "Docker present"
    return 0
  fi
  case "$pm" in
    apt)
      act "install Docker (docker.io)" env DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io ||
        fail "$EXIT_DEPENDENCY" "Installing Docker (docker.io) failed." "Install it manually: $(docker_manual_cmd)"
      if has_systemd; then act "start Docker" systemctl enable --now docker || true; fi
      ;;
    *)
      fail "$EXIT_DEPENDENCY" "Docker is not installed, and this distribution's packages do not provide it." \
        "Install it manually: $(docker_manual_cmd)" \
        "Or run with --no-docker to register and set up attestation only."
      ;;
  esac
  [ "$DRY_RUN" = 1 ] || command -v docker >/dev/null 2>&1 ||
    fail "$EXIT_DEPENDENCY" "Docker is still missing after installing it." "Install it manually: $(docker_manual_cmd)"
  ok "Docker installed"
}

# ----------------------------------------------------------------------------------------------------
# Step 4: TPM keys
# ----------------------------------------------------------------------------------------------------

tpm_fail() {
  local what=$1
  local detail
  detail=$(grep -E 'ERROR|0x[0-9a-fA-F]+' "$TPM_ERR_LOG" | tail -n2 | tr '\n' ' ')
  log "TPM failure ($what): $detail"
  if grep -qiE 'TPM_RC_BAD_AUTH|TPM_RC_AUTH_FAIL|0x9a2|0x98e|authValue|authorization' "$TPM_ERR_LOG"; then
    fail "$EXIT_HARDWARE" "The TPM refused to $what: its owner or endorsement hierarchy has a password." \
      "This installer never takes ownership of the TPM. Remove the hierarchy password with the tool that set it, or ask your administrator."
  elif grep -qiE 'TPM_RC_LOCKOUT|0x921' "$TPM_ERR_LOG"; then
    fail "$EXIT_HARDWARE" "The TPM is in dictionary-attack lockout and refused to $what." \
      "Wait for the lockout to expire (often 10 minutes to a few hours) and run the installer again."
  elif grep -qiE 'TPM_RC_NV_SPACE|TPM_RC_OBJECT_MEMORY|0x902|0x14b' "$TPM_ERR_LOG"; then
    fail "$EXIT_HARDWARE" "The TPM has no room to $what." \
      "List its persistent objects with tpm2_getcap handles-persistent; remove ones you know are unused."
  fi
  fail "$EXIT_HARDWARE" "The TPM could not $what: ${detail:-see the log}" \
    "Run the installer again; if it fails the same way, send the log ($LOG_FILE) to support."
}

nv_index_present() {
  grep -qi -- "- $(printf '0x%X' "$(($1))")\$" "$WORK_DIR/nv-indices.yaml"
}

# Strips the TCG NV wrapper (10 01 00 ‖ u16 length) and trailing padding from a DER certificate.
normalize_der() {
  local file=$1 head len
  head=$(head -c 5 "$file" | od -An -tx1 -v | tr -d ' \n')
  if [ "${head:0:6}" = 100100 ]; then
    len=$((16#${head:6:4}))
    tail -c +6 "$file" | head -c "$len" >"$file.tmp" && mv -f "$file.tmp" "$file"
    head=$(head -c 4 "$file" | od -An -tx1 -v | tr -d ' \n')
  fi
  if [ "${head:0:4}" = 3082 ]; then
    len=$((16#${head:4:4} + 4))
    head -c "$len" "$file" >"$file.tmp" && mv -f "$file.tmp" "$file"
  fi
}

# Intel's EK certificate service URL for an RSA EK, derived as go-attestation does:
# base64url(SHA-256(modulus ‖ 0x010001)) with padding, '=' escaped for the query.
intel_ek_cert_url() {
  local modulus_hex=$1 base=${2:-$INTEL_EK_CERT_SERVICE} digest
  digest=$(printf '%s010001' "$modulus_hex" | sed 's/../\\x&/g' | xargs -0 printf '%b' | sha256sum | cut -d' ' -f1)
  printf '%s%s' "$base" "$(printf '%s' "$digest" | sed 's/../\\x&/g' | xargs -0 printf '%b' | base64 -w0 | tr '+/' '-_' | sed 's/=/%3D/g')"
}

# Fetches the EK certificate from the manufacturer's service into $1 (DER). Intel PTT only (as
# go-attestation); NODERR_EK_CERT_SERVICE_URL overrides the base URL.
fetch_ek_cert() {
  local out=$1 url body="$WORK_DIR/ek-cert-service.out" modulus
  modulus=$(sed -n 's/^rsa: *\([0-9a-fA-F]*\)$/\1/p' "$WORK_DIR/ek.yaml" | tr 'A-F' 'a-f')
  [ -n "$modulus" ] || return 1
  url=$(intel_ek_cert_url "$modulus" "${NODERR_EK_CERT_SERVICE_URL:-$INTEL_EK_CERT_SERVICE}")
  log "fetching the EK certificate from $url"
  curl -fsS --connect-timeout 10 --max-time 30 -o "$body" "$url" 2>>"$LOG_FILE" || return 1
  case "$(head -c 1 "$body")" in
    '{')
      jq -r '.certificate // empty' "$body" | tr -- '-_' '+/' | awk '{ n = length($0) % 4; if (n == 2) $0 = $0 "=="; else if (n == 3) $0 = $0 "="; print }' |
        base64 -d >"$out" 2>/dev/null || return 1
      ;;
    '-') sed '/-----/d' "$body" | base64 -d >"$out" 2>/dev/null || return 1 ;;
    *) cp "$body" "$out" ;;
  esac
  [ -s "$out" ] && [ "$(head -c 1 "$out" | od -An -tx1 | tr -d ' ')" = 30 ]
}

# Creates the EK from its default template (ECC P-256 when the TPM has an ECC EK certificate, else
# RSA-2048) into $WORK_DIR/ek.ctx, and gets its certificate (NV, else the manufacturer's service).
prepare_ek() {
  tpm_tool "$WORK_DIR/nv-indices.yaml" tpm2_getcap handles-nv-index || tpm_fail "list its NV indices"
  EK_CERT_SOURCE=none
  if nv_index_present "$EK_CERT_NV_ECC"; then
    EK_KIND=ecc EK_CERT_INDEX=$EK_CERT_NV_ECC
  elif nv_index_present "$EK_CERT_NV_RSA"; then
    EK_KIND=rsa EK_CERT_INDEX=$EK_CERT_NV_RSA
  elif [ "${TPM_MANUFACTURER:-}" = INTC ] || [ -n "${NODERR_EK_CERT_SERVICE_URL:-}" ]; then
    EK_KIND=rsa EK_CERT_INDEX=""
  else
    EK_KIND=ecc EK_CERT_INDEX=""
  fi
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] would run: tpm2_createek -G %s (from the default template, not persisted)\n' "$EK_KIND"
    return 0
  fi
  tpm_tool "$WORK_DIR/createek.out" tpm2_createek -G "$EK_KIND" -c "$WORK_DIR/ek.ctx" -u "$WORK_DIR/ek.pub" -f tss ||
    tpm_fail "create its endorsement key (EK)"
  tpm_tool "$WORK_DIR/ek.yaml" tpm2_readpublic -c "$WORK_DIR/ek.ctx" || tpm_fail "read the EK"
  rm -f "$WORK_DIR/ek-cert.der"
  if [ -n "$EK_CERT_INDEX" ]; then
    if tpm_tool /dev/null tpm2_nvread "$EK_CERT_INDEX" -C o -o "$WORK_DIR/ek-cert.der"; then
      normalize_der "$WORK_DIR/ek-cert.der"
      EK_CERT_SOURCE="TPM NV $EK_CERT_INDEX"
    else
      warn "Could not read the EK certificate from NV $EK_CERT_INDEX."
    fi
  elif [ "$EK_KIND" = rsa ]; then
    if fetch_ek_cert "$WORK_DIR/ek-cert.der"; then
      EK_CERT_SOURCE="manufacturer's EK certificate service"
    else
      rm -f "$WORK_DIR/ek-cert.der"
      warn "The TPM holds no EK certificate and the manufacturer's service did not provide one."
    fi
  fi
}

# Whether persistent handle $1 holds the object named STATE[$2] (ours).
handle_is_ours() {
  local handle=$1 name_key=$2 name
  [ -n "${STATE[$name_key]:-}" ] || return 1
  name=$(tpm_handle_name "$handle")
  [ -n "$name" ] && [ "$name" = "${STATE[$name_key]}" ]
}

ensure_handle_free() {
  local handle=$1 what=$2 rc=0
  tpm_handle_present "$handle" || rc=$?
  if [ "$rc" -eq 2 ]; then tpm_fail "list its persistent objects"; fi
  if [ "$rc" -eq 0 ]; then
    fail "$EXIT_HARDWARE" "TPM persistent handle $handle (for the $what) is already used by another program." \
      "This installer never overwrites or removes TPM objects it did not create." \
      "Choose other handles with NODERR_AK_HANDLE / NODERR_NODE_KEY_HANDLE (0x81000000-0x817fffff), or free $handle if you know it is unused."
  fi
}

create_tpm_keys() {
  local resumed=0
  if stage_at_least keys && [ "${STATE[AK_HANDLE]:-}" = "$AK_HANDLE" ] && [ "${STATE[KEY_HANDLE]:-}" = "$KEY_HANDLE" ]; then
    if handle_is_ours "$AK_HANDLE" AK_NAME && handle_is_ours "$KEY_HANDLE" KEY_NAME; then
      resumed=1
    elif stage_at_least activated; then
      fail "$EXIT_HARDWARE" "This node's TPM keys ($AK_HANDLE, $KEY_HANDLE) are gone or changed (was the TPM cleared?)." \
        "The node cannot prove its identity any more: run with --uninstall, revoke node ${STATE[NODE_ID]:-} in the dApp, and install again with a new token."
    fi
  elif stage_at_least keys; then
    # An unfinished earlier run used other handles: remove its keys first (they are ours).
    adopt_leftover_keys
  fi

  if stage_at_least activated; then
    ok "The node's TPM keys are in place: AK $AK_HANDLE, node key $KEY_HANDLE"
    return 0
  fi
  prepare_ek
  if [ "$resumed" = 1 ]; then
    CREATED_HANDLES=("$AK_HANDLE" "$KEY_HANDLE")
    ok "TPM keys from the unfinished earlier run are in place: AK $AK_HANDLE, node key $KEY_HANDLE"
  elif [ "$DRY_RUN" = 1 ]; then
    ensure_handle_free "$AK_HANDLE" "attestation key"
    ensure_handle_free "$KEY_HANDLE" "node key"
    printf '    [dry-run] would run: tpm2_createak -C ek.ctx -G ecc -g sha256 -s ecdsa (restricted signing AK)\n'
    printf '    [dry-run] would run: tpm2_evictcontrol -C o -c ak.ctx %s\n' "$AK_HANDLE"
    printf '    [dry-run] would run: tpm2_createprimary -C o -G ecc256:aes128cfb; tpm2_create -G ecc256:ecdsa-sha256 (node key); tpm2_load\n'
    printf '    [dry-run] would run: tpm2_evictcontrol -C o -c node-key.ctx %s\n' "$KEY_HANDLE"
  else
    ensure_handle_free "$AK_HANDLE" "attestation key"
    ensure_handle_free "$KEY_HANDLE" "node key"
    local w=$WORK_DIR
    tpm_tool "$w/createak.out" tpm2_createak -C "$w/ek.ctx" -c "$w/ak.ctx" -G ecc -g sha256 -s ecdsa \
      -u "$w/ak.pub" -f tss -n "$w/ak.name" || tpm_fail "create the attestation key (AK)"
    STATE[STAGE]=keys
    STATE[AK_HANDLE]=$AK_HANDLE STATE[KEY_HANDLE]=$KEY_HANDLE
    STATE[AK_NAME]=$(hex_of_file "$w/ak.name")
    save_state
    CREATED_HANDLES+=("$AK_HANDLE")
    tpm_tool "$w/evict-ak.out" tpm2_evictcontrol -C o -c "$w/ak.ctx" "$AK_HANDLE" || tpm_fail "persist the AK at $AK_HANDLE"
    tpm_tool "$w/srk.out" tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -c "$w/srk.ctx" ||
      tpm_fail "create a storage key for the node key"
    tpm_tool "$w/create.out" tpm2_create -C "$w/srk.ctx" -g sha256 -G ecc256:ecdsa-sha256 \
      -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' -u "$w/key.pub" -r "$w/key.priv" ||
      tpm_fail "create the node key"
    tpm_tool "$w/load.out" tpm2_load -C "$w/srk.ctx" -u "$w/key.pub" -r "$w/key.priv" -c "$w/key.ctx" -n "$w/key.name" ||
      tpm_fail "load the node key"
    STATE[KEY_NAME]=$(hex_of_file "$w/key.name")
    save_state
    CREATED_HANDLES+=("$KEY_HANDLE")
    tpm_tool "$w/evict-key.out" tpm2_evictcontrol -C o -c "$w/key.ctx" "$KEY_HANDLE" || tpm_fail "persist the node key at $KEY_HANDLE"
    ok "Attestation key (restricted ECC P-256) persisted at $AK_HANDLE"
    ok "Node key (non-restricted ECC P-256 signing) persisted at $KEY_HANDLE"
  fi
  if [ "$DRY_RUN" = 1 ]; then return 0; fi
  tpm_tool "$WORK_DIR/ak-public.yaml" tpm2_readpublic -c "$AK_HANDLE" -o "$WORK_DIR/ak.pub" || tpm_fail "read the AK"
  tpm_tool "$WORK_DIR/key-public.yaml" tpm2_readpublic -c "$KEY_HANDLE" -o "$WORK_DIR/key.pub" || tpm_fail "read the node key"
  tpm_tool /dev/null tpm2_readpublic -c "$KEY_HANDLE" -f pem -o "$WORK_DIR/key.pem" || tpm_fail "read the node key"
  LOCAL_NODE_ID=0x$(sed '/-----/d' "$WORK_DIR/key.pem" | base64 -d | sha256sum | cut -d' ' -f1)
  if [ -s "$WORK_DIR/ek-cert.der" ]; then
    ok "Endorsement key ($EK_KIND) with its certificate from the $EK_CERT_SOURCE"
  else
    ok "Endorsement key ($EK_KIND), no EK certificate available"
  fi
}

# A killed earlier run left keys at handles recorded in the state (other than the ones asked for
# now): remove them if they are still ours.
adopt_leftover_keys() {
  local key handle_key name_key
  for key in AK KEY; do
    handle_key=${key}_HANDLE name_key=${key}_NAME
    local handle=${STATE[$handle_key]:-}
    [ -n "$handle" ] || continue
    if handle_is_ours "$handle" "$name_key"; then
      if [ "$DRY_RUN" = 1 ]; then
        printf '    [dry-run] would remove the unfinished earlier run'\''s key at %s\n' "$handle"
      else
        tpm_tool /dev/null tpm2_evictcontrol -C o -c "$handle" || tpm_fail "remove the earlier run's key at $handle"
        log "removed the unfinished earlier run's key at $handle"
      fi
    fi
  done
  if [ "$DRY_RUN" != 1 ]; then
    unset 'STATE[AK_HANDLE]' 'STATE[KEY_HANDLE]' 'STATE[AK_NAME]' 'STATE[KEY_NAME]' 'STATE[STAGE]'
    save_state
  fi
}

# ----------------------------------------------------------------------------------------------------
# Step 5: registration
# ----------------------------------------------------------------------------------------------------

system_info_json() {
  jq -n --arg hostname "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)" --argjson cpu "${CPU_CORES:-0}" \
    --argjson mem "${RAM_GB:-0}" --argjson disk "${DISK_GB:-0}" --arg os "${OS_PRETTY:-linux}" \
    '{hostname: $hostname, cpuCores: $cpu, memoryGB: $mem, diskGB: $disk, os: $os}'
}

register_node() {
  if stage_at_least activated; then
    ok "Already registered as node ${STATE[NODE_ID]} (resumed; no token needed)"
    return 0
  fi
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] would POST %s/api/v1/install/config for a fresh challenge\n' "$API_URL"
    printf '    [dry-run] would run: tpm2_certify (node key by the AK), tpm2_quote over the nonce\n'
    printf '    [dry-run] would POST %s/api/v1/auth/register, run tpm2_activatecredential (EK policy session), POST %s/api/v1/auth/activate\n' "$API_URL" "$API_URL"
    return 0
  fi
  local w=$WORK_DIR status nonce selection
  # A fresh challenge: the one from step 1 may have expired while packages were installing.
  fetch_install_config
  nonce=$(jq -r '.challenge.nonce' "$CONFIG_JSON")
  selection=$(jq '.attestation.pcrSelection' "$CONFIG_JSON" | pcr_selection_arg)
  [ -n "$selection" ] || selection="sha256:0"
  local require_cert
  require_cert=$(jq -r '.attestation.requireEkCertificate' "$CONFIG_JSON")
  if [ "$require_cert" = true ] && [ ! -s "$w/ek-cert.der" ]; then
    fail "$EXIT_ATTESTATION" "Your tier ($(jq -r .tier "$CONFIG_JSON")) requires a TPM endorsement key certificate, and none was found in the TPM's NV or at the manufacturer's service." \
      "Use a host whose TPM carries an EK certificate (most discrete TPMs do; Intel PTT certificates come from Intel's service, so allow HTTPS to ekop.intel.com)." \
      "Or ask for an install token of a tier that accepts TPMs without one."
  fi
  tpm_tool "$w/certify.out" tpm2_certify -c "$KEY_HANDLE" -C "$AK_HANDLE" -g sha256 \
    -o "$w/certify.attest" -s "$w/certify.sig" -f tss || tpm_fail "certify the node key with the AK"
  tpm_quote "$AK_HANDLE" "$selection" "$nonce" "$w" || tpm_fail "quote its PCRs"

  local f
  for f in ek.pub ak.pub quote.msg quote.sig key.pub certify.attest certify.sig; do
    b64_of_file "$w/$f" >"$w/$f.b64"
  done
  if [ -s "$w/ek-cert.der" ]; then b64_of_file "$w/ek-cert.der" >"$w/ek-cert.b64"; else : >"$w/ek-cert.b64"; fi
  system_info_json >"$w/system-info.json"
  event_log_b64 "$EVENT_LOG" "$w/event-log.b64"
  if [ -s "$w/event-log.b64" ]; then log "sending the boot event log from $EVENT_LOG"; fi
  log "registering: node key $LOCAL_NODE_ID, PCR selection $selection, EK certificate: ${EK_CERT_SOURCE}"
  local register="$w/register.json"
  if ! status=$(printf '%s' "$INSTALL_TOKEN" | jq -Rs \
    --rawfile publicKey "$w/key.pem" --arg nonce "$nonce" \
    --rawfile ekPublic "$w/ek.pub.b64" --rawfile ekCert "$w/ek-cert.b64" --rawfile akPublic "$w/ak.pub.b64" \
    --rawfile quote "$w/quote.msg.b64" --rawfile signature "$w/quote.sig.b64" \
    --slurpfile pcrs "$w/pcrs.json" --rawfile publicArea "$w/key.pub.b64" \
    --rawfile certifyInfo "$w/certify.attest.b64" --rawfile certifySig "$w/certify.sig.b64" \
    --slurpfile systemInfo "$w/system-info.json" --rawfile eventLog "$w/event-log.b64" \
    '{installToken: ., publicKey: $publicKey,
      attestation: ({nonce: $nonce, ekPublic: $ekPublic, akPublic: $akPublic, quote: $quote, signature: $signature,
        pcrValues: $pcrs[0],
        nodeKeyCertification: {publicArea: $publicArea, certifyInfo: $certifyInfo, signature: $certifySig}}
        + (if $ekCert == "" then {} else {ekCertificate: $ekCert} end)
        + (if $eventLog == "" then {} else {eventLog: $eventLog} end)),
      systemInfo: $systemInfo[0]}' | api_post /api/v1/auth/register "$register"); then
    fail "$EXIT_API" "Cannot reach the noderr API at ${API_URL}: $(tail -n1 "$CURL_ERR")." "Check the network and run the installer again."
  fi
  [ "$status" = 202 ] || api_fail "$status" "$register" "the registration"
  ok "Attestation accepted (quote over $selection, node key certified by the AK)"

  # TPM2_ActivateCredential: tpm2-tools' credential file is 0xBADCC0DE ‖ version 1 ‖ TPM2B_ID_OBJECT ‖
  # TPM2B_ENCRYPTED_SECRET; the server sends the two structures as they are marshalled.
  local activation_id
  activation_id=$(jq -r '.activationId' "$register")
  {
    printf '\xba\xdc\xc0\xde\x00\x00\x00\x01'
    jq -r '.credentialBlob' "$register" | base64 -d
    jq -r '.encryptedSecret' "$register" | base64 -d
  } >"$w/credential.bin"
  TPM_KEEP_SESSIONS=1 tpm_tool /dev/null tpm2_startauthsession --policy-session -S "$w/session.ctx" ||
    tpm_fail "start a policy session for the EK"
  TPM_KEEP_SESSIONS=1 tpm_tool /dev/null tpm2_policysecret -S "$w/session.ctx" -c e ||
    { tpm_flush; tpm_fail "authorise the EK (PolicySecret on the endorsement hierarchy)"; }
  # tpm2_activatecredential prints the recovered secret on stdout: it goes nowhere but the 0600 file.
  tpm_tool /dev/null tpm2_activatecredential -c "$AK_HANDLE" -C "$w/ek.ctx" -i "$w/credential.bin" \
    -o "$w/secret.bin" -P "session:$w/session.ctx" || tpm_fail "activate the credential (prove the AK and EK share this TPM)"
  b64_of_file "$w/secret.bin" >"$w/secret.b64"
  rm -f "$w/secret.bin"
  ok "Credential activated by the TPM"

  # The answer carries the API key: curl writes it straight into the root-only config directory, so
  # that an interruption right after the server created the node cannot lose the credentials.
  local activation="$CONFIG_DIR/.activation.json"
  if ! status=$(jq -n --arg id "$activation_id" --rawfile secret "$w/secret.b64" \
    '{activationId: $id, secret: ($secret | rtrimstr("\n"))}' | (umask 077 && api_post /api/v1/auth/activate "$activation")); then
    rm -f "$w/secret.b64"
    fail "$EXIT_API" "Cannot reach the noderr API at ${API_URL}: $(tail -n1 "$CURL_ERR")." "Check the network and run the installer again with the same token."
  fi
  rm -f "$w/secret.b64"
  if [ "$status" != 201 ]; then
    cp "$activation" "$w/activate-error.json" 2>/dev/null || true
    rm -f "$activation"
    api_fail "$status" "$w/activate-error.json" "the activation"
  fi
  adopt_activation
}

# What the heartbeat and the container need from install/config, kept in the state.
remember_install_config() {
  [ -n "${CONFIG_JSON:-}" ] && [ -s "$CONFIG_JSON" ] || return 0
  STATE[TIER]=$(jq -r '.tier // empty' "$CONFIG_JSON")
  STATE[PCR_SELECTION]=$(jq '.attestation.pcrSelection' "$CONFIG_JSON" | pcr_selection_arg)
  STATE[DOCKER_IMAGE]=$(image_ref "$CONFIG_JSON" || true)
  STATE[AUTH_API_URL]=$(jq -r '.config.authApiUrl // empty' "$CONFIG_JSON")
  STATE[TELEMETRY_ENDPOINT]=$(jq -r '.config.telemetryEndpoint // empty' "$CONFIG_JSON")
  STATE[DEPLOYMENT_ENGINE_URL]=$(jq -r '.config.deploymentEngineUrl // empty' "$CONFIG_JSON")
}

# Moves the activation answer into credentials.json (nodeId, apiKey: 0600) and the state.
adopt_activation() {
  local activation="$CONFIG_DIR/.activation.json" node_id
  node_id=$(jq -r '.nodeId // empty' "$activation")
  [[ $node_id =~ ^0x[0-9a-f]{64}$ ]] || return 1
  jq '{nodeId: .nodeId, apiKey: .apiKey}' "$activation" | write_file "$CONFIG_DIR/credentials.json" 600
  STATE[NODE_ID]=$node_id
  STATE[STAGE]=activated
  save_state
  rm -f "$activation"
  ROLLBACK_ARMED=0
  if [ -n "${LOCAL_NODE_ID:-}" ] && [ "$LOCAL_NODE_ID" != "$node_id" ]; then
    warn "The API's node id $node_id differs from the local hash of the node key ($LOCAL_NODE_ID)."
  fi
  ok "Registered: node $node_id (status: registered)"
}

# ----------------------------------------------------------------------------------------------------
# Step 6: credentials and noderr-heartbeat
# ----------------------------------------------------------------------------------------------------

has_systemd() {
  case "${NODERR_INIT_SYSTEM:-auto}" in
    systemd) return 0 ;;
    cron | none) return 1 ;;
    *) [ -d /run/systemd/system ] ;;
  esac
}

systemd_dir() { printf '%s' "${NODERR_SYSTEMD_DIR:-/etc/systemd/system}"; }
cron_dir() { printf '%s' "${NODERR_CRON_DIR:-/etc/cron.d}"; }

# The heartbeat program: the helpers above (one copy of the TPM and HTTP code) and hb_main.
heartbeat_script() {
  local config_dir=$1
  printf '#!/usr/bin/env bash\n'
  printf '# noderr-heartbeat %s: one challenge -> verify (node key signature) -> heartbeat, answering a\n' "$NODERR_VERSION"
  printf '# re-attestation request with a fresh quote. Exit 0 on success; non-zero with a message otherwise.\n'
  printf '# Written by the noderr installer (install.sh); run every 60 s by a systemd timer or cron.\n'
  printf 'set -euo pipefail\n'
  printf 'NODERR_CONFIG_DIR=%s-%q}\n' "\${NODERR_CONFIG_DIR:" "$config_dir"
  printf 'NODERR_VERSION=%q\n' "$NODERR_VERSION"
  declare -f tpm_tool tpm_flush hex_of_file b64_of_file event_log_b64 hex_of_b64 pcr_selection_arg pcr_yaml_to_json tpm_quote \
    api_post api_error_fields hb_fail hb_api hb_metrics hb_main
  printf 'hb_main "$@"\n'
}

hb_fail() {
  local code=$1
  shift
  printf 'noderr-heartbeat: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '  -> %s\n' "$line" >&2; done
  exit "$code"
}

# hb_api PATH OUT [HEADERS] < body: POSTs; exits with a message unless the answer is 2xx.
hb_api() {
  local path=$1 out=$2 headers=${3:-} status code message request reason
  if ! status=$(api_post "$path" "$out" "$headers"); then
    hb_fail 2 "cannot reach the API at $API_URL: $(tail -n1 "$CURL_ERR")" "Check the network; the timer retries in 60 s."
  fi
  case "$status" in 2??) return 0 ;; esac
  IFS=$'\t' read -r code message request reason < <(api_error_fields "$out")
  case "$code" in
    NODE_SUSPENDED) hb_fail 3 "this node is suspended [NODE_SUSPENDED] (request $request)." "Ask your administrator why; the node resumes when they set it active." ;;
    NODE_REVOKED) hb_fail 3 "this node was revoked [NODE_REVOKED] (request $request)." "It cannot come back: run the installer with --uninstall, then install with a new token." ;;
    NODE_NOT_FOUND) hb_fail 3 "the API does not know this node [NODE_NOT_FOUND]." "Check NODERR_API_URL in the node configuration, or reinstall." ;;
    CREDENTIALS_INVALID) hb_fail 3 "the API rejected this node's credentials [CREDENTIALS_INVALID] (request $request)." "The credentials or the TPM key changed: reinstall the node." ;;
    ATTESTATION_INVALID) hb_fail 5 "the re-attestation was rejected [ATTESTATION_INVALID/${reason}] (request $request): $message" "If the boot state changed on purpose, ask your administrator to update the PCR policy." ;;
    RATE_LIMITED) hb_fail 2 "rate limited [RATE_LIMITED]." "The timer retries in 60 s." ;;
    *) hb_fail 2 "the API answered $path with HTTP $status [$code] (request $request): $message" "The timer retries in 60 s." ;;
  esac
}

hb_metrics() {
  local uptime cpu memory cores
  uptime=$(awk '{ printf "%d", $1 }' /proc/uptime 2>/dev/null || echo 0)
  cores=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null || echo 1)
  cpu=$(awk -v c="$cores" '{ v = ($1 / (c > 0 ? c : 1)) * 100; if (v > 100) v = 100; printf "%.1f", v }' /proc/loadavg 2>/dev/null || echo 0)
  memory=$(awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { if (t > 0) printf "%.1f", (t - a) * 100 / t; else print 0 }' /proc/meminfo 2>/dev/null || echo 0)
  jq -n --argjson uptime "$uptime" --argjson cpu "$cpu" --argjson memory "$memory" --arg version "$NODERR_VERSION" \
    '{uptime: $uptime, cpu: $cpu, memory: $memory, version: $version}'
}

hb_main() {
  local conf="$NODERR_CONFIG_DIR/node.conf" creds="$NODERR_CONFIG_DIR/credentials.json"
  if [ ! -r "$conf" ] || [ ! -r "$creds" ]; then hb_fail 1 "no node configuration in $NODERR_CONFIG_DIR (node.conf, credentials.json)." "Run as root; install the node with the noderr installer first."; fi
  local key value node_id="" ak="" node_key="" selection="sha256:0,1,2,3,4,5,6,7"
  local event_log=/sys/kernel/security/tpm0/binary_bios_measurements
  API_URL="" TPM_TIMEOUT=30
  while IFS='=' read -r key value; do
    case "$key" in
      API_URL) API_URL=$value ;; NODE_ID) node_id=$value ;; AK_HANDLE) ak=$value ;; KEY_HANDLE) node_key=$value ;;
      TCTI) export TPM2TOOLS_TCTI=$value ;; PCR_SELECTION) selection=$value ;; TPM_TIMEOUT) TPM_TIMEOUT=$value ;;
      EVENT_LOG) event_log=$value ;;
    esac
  done <"$conf"
  if [ -z "$API_URL" ] || [ -z "$node_id" ] || [ -z "$ak" ] || [ -z "$node_key" ]; then
    hb_fail 1 "$conf is incomplete." "Run the installer again to finish the installation."
  fi
  HB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/noderr-heartbeat.XXXXXX")
  trap 'rm -rf -- "$HB_DIR"' EXIT
  local dir=$HB_DIR
  CURL_ERR="$dir/curl.err" TPM_ERR_LOG="$dir/tpm.err"
  : >"$TPM_ERR_LOG"

  # 1. challenge
  jq -n --arg nodeId "$node_id" '{nodeId: $nodeId}' | hb_api /api/v1/auth/challenge "$dir/challenge.json"
  local nonce
  nonce=$(jq -r '.nonce' "$dir/challenge.json")
  # 2. verify: the node key signs "noderr-verify-v1:" ‖ nodeId ‖ ":" ‖ nonce bytes (SHA-256, ECDSA)
  {
    printf 'noderr-verify-v1:%s:' "$node_id"
    printf '%s' "$nonce" | base64 -d
  } >"$dir/verify.msg"
  tpm_tool /dev/null tpm2_sign -c "$node_key" -g sha256 -s ecdsa -f tss -o "$dir/verify.sig" "$dir/verify.msg" ||
    hb_fail 4 "the TPM could not sign with the node key $node_key: $(tail -n1 "$TPM_ERR_LOG")" "Check that the TPM is reachable (${TPM2TOOLS_TCTI:-device:/dev/tpmrm0}) and that the key was not removed."
  b64_of_file "$dir/verify.sig" >"$dir/verify.sig.b64"
  jq --arg nodeId "$node_id" --arg challenge "$nonce" --rawfile signature "$dir/verify.sig.b64" \
    '{nodeId: $nodeId, apiKey: .apiKey, challenge: $challenge, signature: $signature}' "$creds" |
    hb_api /api/v1/auth/verify "$dir/verify.json"
  # The session JWT: root-only file for the node's container, and a header file for curl.
  (
    umask 077
    jq -r '.jwtToken' "$dir/verify.json" >"$NODERR_CONFIG_DIR/session.jwt.tmp"
    mv -f "$NODERR_CONFIG_DIR/session.jwt.tmp" "$NODERR_CONFIG_DIR/session.jwt"
    printf 'Authorization: Bearer %s\n' "$(jq -r '.jwtToken' "$dir/verify.json")" >"$dir/auth.header"
  )
  # 3. heartbeat
  hb_metrics >"$dir/metrics.json"
  jq -n --arg nodeId "$node_id" --slurpfile metrics "$dir/metrics.json" '{nodeId: $nodeId, metrics: $metrics[0]}' |
    hb_api /api/v1/auth/heartbeat "$dir/heartbeat.json" "$dir/auth.header"
  local reattested=""
  if [ "$(jq -r '.attestation.required // false' "$dir/heartbeat.json")" = true ]; then
    local att_nonce pending="$NODERR_CONFIG_DIR/reattestation.nonce"
    att_nonce=$(jq -r '.attestation.nonce // empty' "$dir/heartbeat.json")
    # The API hands out a re-attestation nonce once; keep it until answered, in case this run dies.
    if [ -n "$att_nonce" ]; then
      printf '%s\n' "$att_nonce" >"$pending"
    elif [ -s "$pending" ]; then
      att_nonce=$(cat "$pending")
    else
      hb_fail 5 "the API asks for a re-attestation but sent no nonce, and none is pending here." "The next heartbeats get a fresh one; if this repeats, ask your administrator."
    fi
    tpm_quote "$ak" "$selection" "$att_nonce" "$dir" ||
      hb_fail 4 "the TPM could not quote with the AK $ak: $(tail -n1 "$TPM_ERR_LOG")" "Check that the TPM is reachable and that the key was not removed."
    b64_of_file "$dir/quote.msg" >"$dir/quote.msg.b64"
    b64_of_file "$dir/quote.sig" >"$dir/quote.sig.b64"
    event_log_b64 "$event_log" "$dir/event-log.b64"
    jq -n --arg nodeId "$node_id" --slurpfile metrics "$dir/metrics.json" --arg nonce "$att_nonce" \
      --rawfile quote "$dir/quote.msg.b64" --rawfile signature "$dir/quote.sig.b64" --slurpfile pcrs "$dir/pcrs.json" \
      --rawfile eventLog "$dir/event-log.b64" \
      '{nodeId: $nodeId, metrics: $metrics[0], attestation: ({nonce: $nonce, quote: $quote, signature: $signature, pcrValues: $pcrs[0]}
        + (if $eventLog == "" then {} else {eventLog: $eventLog} end))}' |
      hb_api /api/v1/auth/heartbeat "$dir/heartbeat2.json" "$dir/auth.header"
    rm -f "$pending"
    reattested=", re-attested"
  fi
  printf 'noderr-heartbeat: ok (node %s%s)\n' "$node_id" "$reattested"
}

install_heartbeat() {
  ensure_dir "$INSTALL_DIR" 755
  ensure_dir "$INSTALL_DIR/bin" 755
  heartbeat_script "$CONFIG_DIR" | write_file "$INSTALL_DIR/bin/noderr-heartbeat" 755
  ok "Installed $INSTALL_DIR/bin/noderr-heartbeat"
  if [ "$DRY_RUN" != 1 ]; then
    STATE[INSTALL_DIR]=$INSTALL_DIR
    save_state
    local mode
    mode=$(stat -c '%a %U' "$CONFIG_DIR/credentials.json")
    [ "$mode" = "600 root" ] || [ "$(id -u)" -ne 0 ] || fail "$EXIT_FAILURE" "credentials.json has mode/owner $mode, expected 600 root."
    ok "Credentials stored root-only in $CONFIG_DIR/credentials.json (0600)"
  fi
  local hb="$INSTALL_DIR/bin/noderr-heartbeat"
  if [ "$DRY_RUN" != 1 ]; then
    if has_systemd; then STATE[SYSTEMD_DIR]=$(systemd_dir); else STATE[CRON_DIR]=$(cron_dir); fi
    save_state
  fi
  if has_systemd; then
    local d
    d=$(systemd_dir)
    ensure_dir "$d" 755
    write_file "$d/noderr-heartbeat.service" 644 <<EOF
[Unit]
Description=noderr heartbeat: challenge, verify, heartbeat and re-attestation
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
Environment=NODERR_CONFIG_DIR=$CONFIG_DIR
ExecStart=$hb
EOF
    write_file "$d/noderr-heartbeat.timer" 644 <<EOF
[Unit]
Description=Run the noderr heartbeat every 60 seconds

[Timer]
OnBootSec=30s
OnUnitActiveSec=60s
AccuracySec=5s
Unit=noderr-heartbeat.service

[Install]
WantedBy=timers.target
EOF
    ok "systemd timer noderr-heartbeat.timer written (every 60 s)"
  else
    local d
    d=$(cron_dir)
    ensure_dir "$d" 755
    printf '# noderr heartbeat every minute (written by the noderr installer)\n* * * * * root NODERR_CONFIG_DIR=%s %s 2>&1 | logger -t noderr-heartbeat\n' "$CONFIG_DIR" "$hb" |
      write_file "$d/noderr-heartbeat" 644
    ok "cron job $d/noderr-heartbeat written (every minute; no systemd here)"
  fi
}

# ----------------------------------------------------------------------------------------------------
# Step 7: Docker
# ----------------------------------------------------------------------------------------------------

image_ref() {
  local registry image
  registry=$(jq -r '.config.dockerRegistry // empty' "$1")
  image=$(jq -r '.config.dockerImage // empty' "$1")
  [ -n "$image" ] || return 1
  # An image that names its own registry host (first path part with a dot or port) is used as it is.
  if [ -z "$registry" ] || { [ "$image" != "${image#*/}" ] && [[ ${image%%/*} == *.* || ${image%%/*} == *:* || ${image%%/*} == localhost ]]; }; then
    printf '%s' "$image"
  else
    printf '%s/%s' "${registry%/}" "$image"
  fi
}

setup_docker() {
  if [ "$NO_DOCKER" = 1 ]; then
    ok "Skipped (--no-docker): this node registers and stays attested without a container"
    return 0
  fi
  local image=${STATE[DOCKER_IMAGE]:-}
  if [ -z "$image" ] && [ -n "${CONFIG_JSON:-}" ] && [ -s "$CONFIG_JSON" ]; then
    image=$(image_ref "$CONFIG_JSON" || true)
  fi
  if [ -z "$image" ]; then
    if [ "$DRY_RUN" = 1 ]; then
      printf '    [dry-run] would pull the tier'\''s image named by install/config (needs the install token)\n'
      return 0
    fi
    fail "$EXIT_API" "The API's install configuration names no Docker image for this tier." \
      "Run with --no-docker, or ask your administrator to configure the tier's image."
  fi
  act "pull the node image" docker pull "$image" ||
    fail "$EXIT_DEPENDENCY" "Pulling $image failed." "Check Docker and the network (docker pull $image), then run the installer again."
  ok "Image $image pulled"
  if [ "$DRY_RUN" = 1 ] || ! docker network inspect "$DOCKER_NETWORK" >/dev/null 2>&1; then
    act "create the Docker network" docker network create "$DOCKER_NETWORK" ||
      fail "$EXIT_DEPENDENCY" "Creating the Docker network $DOCKER_NETWORK failed." "See the log; check that Docker runs (docker info)."
  fi
  ok "Docker network $DOCKER_NETWORK"
  # Configuration only: the credentials stay in credentials.json. The container reads the current node
  # session JWT (refreshed by noderr-heartbeat) from a read-only mount.
  write_file "$CONFIG_DIR/node.env" 600 <<EOF
NODERR_NODE_ID=${STATE[NODE_ID]:-}
NODERR_TIER=${STATE[TIER]:-}
NODERR_API_URL=${STATE[AUTH_API_URL]:-$API_URL}
NODERR_DEPLOYMENT_ENGINE_URL=${STATE[DEPLOYMENT_ENGINE_URL]:-}
NODERR_TELEMETRY_ENDPOINT=${STATE[TELEMETRY_ENDPOINT]:-}
NODERR_SESSION_JWT_FILE=/run/noderr/session.jwt
EOF
  ok "Environment file $CONFIG_DIR/node.env (no secrets)"
  local docker_bin
  docker_bin=$(command -v docker || echo /usr/bin/docker)
  if has_systemd; then
    write_file "$(systemd_dir)/noderr-node.service" 644 <<EOF
[Unit]
Description=noderr node container
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target

[Service]
Restart=always
RestartSec=10
TimeoutStartSec=300
ExecStartPre=-$docker_bin rm -f $CONTAINER_NAME
ExecStart=$docker_bin run --rm --name $CONTAINER_NAME --network $DOCKER_NETWORK --env-file $CONFIG_DIR/node.env -v $CONFIG_DIR/session.jwt:/run/noderr/session.jwt:ro $image
ExecStop=$docker_bin stop $CONTAINER_NAME

[Install]
WantedBy=multi-user.target
EOF
    ok "systemd unit noderr-node.service written (restart: always)"
  else
    ok "No systemd: the container will run with Docker's restart policy (unless-stopped)"
  fi
}

# ----------------------------------------------------------------------------------------------------
# Step 8: start and health check
# ----------------------------------------------------------------------------------------------------

start_services() {
  if has_systemd; then
    act "reload systemd" systemctl daemon-reload ||
      fail "$EXIT_FAILURE" "systemctl daemon-reload failed." "Check systemd (systemctl status) and run the installer again."
    act "enable the heartbeat timer" systemctl enable --now noderr-heartbeat.timer ||
      fail "$EXIT_FAILURE" "Enabling noderr-heartbeat.timer failed." "See: systemctl status noderr-heartbeat.timer"
    ok "noderr-heartbeat.timer enabled"
  fi
  if [ "$NO_DOCKER" != 1 ]; then
    if has_systemd; then
      act "start the node service" systemctl enable --now noderr-node.service ||
        fail "$EXIT_FAILURE" "Starting noderr-node.service failed." "See: systemctl status noderr-node.service; journalctl -u noderr-node"
    else
      act "remove an old container" docker rm -f "$CONTAINER_NAME" || true
      act "start the node container" docker run -d --restart unless-stopped --name "$CONTAINER_NAME" --network "$DOCKER_NETWORK" \
        --env-file "$CONFIG_DIR/node.env" -v "$CONFIG_DIR/session.jwt:/run/noderr/session.jwt:ro" "${STATE[DOCKER_IMAGE]:-<image>}" ||
        fail "$EXIT_FAILURE" "Starting the node container failed." "See: docker logs $CONTAINER_NAME"
    fi
  fi
  if [ "$DRY_RUN" = 1 ]; then
    printf '    [dry-run] would run %s/bin/noderr-heartbeat once (challenge, verify, heartbeat)\n' "$INSTALL_DIR"
    return 0
  fi
  local out="$WORK_DIR/heartbeat.out" rc=0
  NODERR_CONFIG_DIR=$CONFIG_DIR "$INSTALL_DIR/bin/noderr-heartbeat" >"$out" 2>&1 || rc=$?
  cat "$out" >>"$LOG_FILE"
  [ "$rc" -eq 0 ] || fail "$EXIT_FAILURE" "The first heartbeat failed: $(head -n1 "$out")" "$(sed -n 's/^  -> //p' "$out" | head -n1)" \
    "Run it by hand to see more: sudo $INSTALL_DIR/bin/noderr-heartbeat"
  ok "First heartbeat accepted (challenge signed by the TPM node key, session verified)"
  if [ "$NO_DOCKER" != 1 ]; then
    local i running=""
    for i in $(seq 1 "${NODERR_HEALTH_TIMEOUT:-30}"); do
      running=$(docker inspect -f '{{.State.Running}}' "$CONTAINER_NAME" 2>>"$LOG_FILE" || true)
      [ "$running" = true ] && break
      sleep 1
    done
    [ "$running" = true ] || fail "$EXIT_FAILURE" "The node container $CONTAINER_NAME is not running." \
      "See: docker logs $CONTAINER_NAME; systemctl status noderr-node" "Then run the installer again: it continues where it stopped."
    ok "Container $CONTAINER_NAME running"
  fi
}

summary() {
  local node_id=${STATE[NODE_ID]:-?} flags=""
  if [ "$CONFIG_DIR" != /etc/noderr ]; then flags=" --config-dir $CONFIG_DIR"; fi
  printf '\n%snoderr node installed.%s\n' "$C_BOLD" "$C_OFF"
  printf '  Node id:      %s\n' "$node_id"
  printf '  Status:       registered and attested (TPM keys %s, %s)\n' "$AK_HANDLE" "$KEY_HANDLE"
  printf '  Credentials:  %s/credentials.json (root only)\n' "$CONFIG_DIR"
  if has_systemd; then
    printf '  Heartbeat:    every 60 s (systemctl status noderr-heartbeat.timer; journalctl -u noderr-heartbeat)\n'
  else
    printf '  Heartbeat:    every minute from %s/noderr-heartbeat (logs: syslog, tag noderr-heartbeat)\n' "$(cron_dir)"
  fi
  if [ "$NO_DOCKER" != 1 ]; then printf '  Node logs:    docker logs -f %s\n' "$CONTAINER_NAME"; fi
  printf '  Installer log: %s\n' "$LOG_FILE"
  printf '  Uninstall:    curl -fsSL %s/install/linux | sudo bash -s -- --uninstall%s\n' "$API_URL" "$flags"
  printf '  Troubleshooting: run sudo %s/bin/noderr-heartbeat by hand; it says what is wrong.\n' "$INSTALL_DIR"
  printf '    A suspended node resumes when an administrator sets it active; a revoked one needs a new install.\n'
}

# ----------------------------------------------------------------------------------------------------
# Uninstall
# ----------------------------------------------------------------------------------------------------

uninstall() {
  printf '%snoderr uninstall%s\n' "$C_BOLD" "$C_OFF"
  check_root
  load_state
  local install_dir=${STATE[INSTALL_DIR]:-$INSTALL_DIR}
  local -a removed=() kept=()
  if [ ! -d "$CONFIG_DIR" ] && [ ! -d "$install_dir" ]; then
    ok "noderr is not installed here (no $CONFIG_DIR): nothing to remove."
    return 0
  fi
  export TPM2TOOLS_TCTI=${STATE[TCTI]:-$TCTI}
  local d cron
  d=${STATE[SYSTEMD_DIR]:-$(systemd_dir)}
  cron=${STATE[CRON_DIR]:-$(cron_dir)}
  if command -v systemctl >/dev/null 2>&1 && { has_systemd || [ -e "$d/noderr-heartbeat.timer" ]; }; then
    act "stop the heartbeat timer" systemctl disable --now noderr-heartbeat.timer || true
    act "stop the node service" systemctl disable --now noderr-node.service || true
  fi
  local f
  for f in "$d/noderr-heartbeat.timer" "$d/noderr-heartbeat.service" "$d/noderr-node.service" "$cron/noderr-heartbeat"; do
    if [ -e "$f" ]; then
      act "remove $f" rm -f "$f"
      removed+=("$f")
    fi
  done
  if command -v systemctl >/dev/null 2>&1 && { has_systemd || [ -n "${STATE[SYSTEMD_DIR]:-}" ]; }; then
    act "reload systemd" systemctl daemon-reload || true
  fi
  if command -v docker >/dev/null 2>&1 && [ "${STATE[NO_DOCKER]:-0}" != 1 ] && [ -n "${STATE[DOCKER_IMAGE]:-}" ]; then
    act "remove the node container" docker rm -f "$CONTAINER_NAME" || true
    act "remove the Docker network" docker network rm "$DOCKER_NETWORK" || true
    removed+=("container $CONTAINER_NAME and network $DOCKER_NETWORK")
    kept+=("the Docker image ${STATE[DOCKER_IMAGE]} (remove it with: docker rmi ${STATE[DOCKER_IMAGE]})")
  fi
  local key handle
  for key in AK KEY; do
    handle=${STATE[${key}_HANDLE]:-}
    [ -n "$handle" ] || continue
    if ! tpm_handle_present "$handle"; then continue; fi
    if handle_is_ours "$handle" "${key}_NAME"; then
      if act "remove our TPM key at $handle" tpm_tool /dev/null tpm2_evictcontrol -C o -c "$handle"; then
        removed+=("TPM key $handle")
      else
        kept+=("TPM key $handle (removing it failed: tpm2_evictcontrol -C o -c $handle)")
      fi
    else
      kept+=("TPM object at $handle: it is not the key this installer created")
    fi
  done
  if [ -d "$install_dir" ]; then
    act "remove $install_dir" rm -rf -- "$install_dir"
    removed+=("$install_dir")
  fi
  act "remove $CONFIG_DIR (credentials and state)" rm -rf -- "$CONFIG_DIR"
  removed+=("$CONFIG_DIR (credentials and state)")
  kept+=("the TPM's endorsement key and everything else in the TPM (never touched)")
  if [ "$LOG_FILE" != /dev/null ]; then kept+=("the installer log $LOG_FILE"); fi
  if [ -n "${STATE[NODE_ID]:-}" ]; then
    kept+=("the node's registration ${STATE[NODE_ID]} at the API: revoke it in the dApp if this node is gone for good")
  fi
  local prefix="Removed"
  if [ "$DRY_RUN" = 1 ]; then prefix="Would remove"; fi
  printf '%s:\n' "$prefix"
  for f in "${removed[@]}"; do printf '  - %s\n' "$f"; done
  printf 'Kept:\n'
  for f in "${kept[@]}"; do printf '  - %s\n' "$f"; done
  log "uninstalled; removed: ${removed[*]}"
}

# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------

setup_logging() {
  local file=$LOG_FILE_OPT
  if [ -z "$file" ]; then
    # A dry run writes nothing unless a log file was asked for.
    [ "$DRY_RUN" = 1 ] && return 0
    file=/var/log/noderr/install.log
  fi
  if [ "$(id -u)" -ne 0 ] && [ -z "$LOG_FILE_OPT" ]; then return 0; fi
  if [ ! -d "$(dirname "$file")" ]; then mkdir -p "$(dirname "$file")" 2>/dev/null && chmod 700 "$(dirname "$file")"; fi
  if (umask 077 && : >>"$file") 2>/dev/null; then
    LOG_FILE=$file
    log "noderr installer $NODERR_VERSION; api=$API_URL tcti=$TCTI config=$CONFIG_DIR install=$INSTALL_DIR no-docker=$NO_DOCKER dry-run=$DRY_RUN"
  else
    warn "Cannot write the log file $file; continuing without a log."
  fi
}

confirm() {
  if [ "$ASSUME_YES" = 1 ] || [ "$DRY_RUN" = 1 ]; then return 0; fi
  local answer=""
  if ! { exec 8<>/dev/tty; } 2>/dev/null; then
    fail "$EXIT_USAGE" "No terminal to ask for confirmation." "Run again with --yes to proceed without asking."
  fi
  printf '\nThis will install what is missing, create keys in the TPM and register this host with %s. Continue? [y/N] ' "$API_URL" >&8
  read -r answer <&8 || true
  exec 8<&-
  case "$answer" in
    y | Y | yes | YES) ;;
    *) fail "$EXIT_USAGE" "Cancelled: nothing was changed." ;;
  esac
}

main() {
  parse_args "$@"
  umask 077
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/noderr-install.XXXXXX")
  CURL_ERR="$WORK_DIR/curl.err" TPM_ERR_LOG="$WORK_DIR/tpm.err"
  : >"$TPM_ERR_LOG"
  trap on_exit EXIT
  trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR
  setup_logging
  export TPM2TOOLS_TCTI=$TCTI

  if [ "$UNINSTALL" = 1 ]; then
    uninstall
    return 0
  fi

  printf '%snoderr node installer %s%s%s\n' "$C_BOLD" "$NODERR_VERSION" "$([ "$DRY_RUN" = 1 ] && printf ' (dry run: nothing will be changed)')" "$C_OFF"
  step 1 "Checking the environment"
  check_os
  ok "Operating system: $OS_PRETTY"
  check_root
  [ "$(id -u)" -ne 0 ] || ok "Running as root"
  if [ -r "$(state_file)" ]; then load_state; fi
  if stage_at_least activated; then
    # Registered: keep everything from now on, and use the keys and TPM the node registered with.
    ROLLBACK_ARMED=0
    AK_HANDLE=${STATE[AK_HANDLE]:-$AK_HANDLE} KEY_HANDLE=${STATE[KEY_HANDLE]:-$KEY_HANDLE}
    if [ -n "${STATE[NO_DOCKER]:-}" ] && [ "$NO_DOCKER" != 1 ]; then NO_DOCKER=${STATE[NO_DOCKER]}; fi
  fi
  if [ "${STATE[STAGE]:-}" = "done" ]; then
    ok "noderr is already installed on this host: node ${STATE[NODE_ID]:-?} (config $CONFIG_DIR). Nothing to do."
    info "Check it with: sudo ${STATE[INSTALL_DIR]:-$INSTALL_DIR}/bin/noderr-heartbeat"
    info "To reinstall, run with --uninstall first."
    return 0
  fi
  # An interrupted run may have stopped right after the server created the node.
  if ! stage_at_least activated && [ -s "$CONFIG_DIR/.activation.json" ] && [ "$DRY_RUN" != 1 ]; then
    CONFIG_JSON=/dev/null
    adopt_activation || true
  fi
  check_api
  if stage_at_least activated; then
    ok "Continuing the unfinished installation of node ${STATE[NODE_ID]} (no token needed)"
    if [ -n "${STATE[TCTI]:-}" ] && [ "${STATE[TCTI]}" != "$TCTI" ] && [ -z "${NODERR_TCTI:-}" ]; then
      TCTI=${STATE[TCTI]}
      export TPM2TOOLS_TCTI=$TCTI
    fi
  elif [ -z "$INSTALL_TOKEN" ]; then
    if [ "$DRY_RUN" = 1 ]; then
      warn "No install token given: the real run needs one (from your welcome email or the dApp)."
    else
      fail "$EXIT_USAGE" "No install token given." \
        "Pass the token from your welcome email: curl -fsSL ${API_URL}/install/linux | sudo bash -s -- <INSTALL_TOKEN>" \
        "Or use --token-file FILE or NODERR_INSTALL_TOKEN."
    fi
  elif ! command -v jq >/dev/null 2>&1; then
    info "The install token is checked once jq is installed (step 3)."
  else
    fetch_install_config
    ok "Install token accepted (tier $(jq -r .tier "$CONFIG_JSON"), not used up until activation)"
  fi

  step 2 "Checking the hardware"
  local tpm_checked=0
  if command -v tpm2_getcap >/dev/null 2>&1; then
    check_tpm
    tpm_checked=1
  else
    check_tpm_device
    info "tpm2-tools is not installed yet: the TPM is queried after step 3."
  fi
  check_resources

  confirm

  step 3 "Installing dependencies"
  install_dependencies

  step 4 "Creating TPM keys"
  if [ "$tpm_checked" = 0 ] && [ "$DRY_RUN" != 1 ]; then check_tpm; fi
  if [ -z "${CONFIG_JSON:-}" ] && [ -n "$INSTALL_TOKEN" ] && ! stage_at_least activated && [ "$DRY_RUN" != 1 ]; then
    fetch_install_config
    ok "Install token accepted (tier $(jq -r .tier "$CONFIG_JSON"), not used up until activation)"
  fi
  ensure_dir "$CONFIG_DIR" 700
  if [ "$DRY_RUN" != 1 ]; then
    exec 9>"$CONFIG_DIR/.install.lock"
    flock -n 9 || fail "$EXIT_FAILURE" "Another noderr installer is running on this host." "Wait for it to finish, then run again if needed."
    if ! stage_at_least activated; then
      STATE[API_URL]=$API_URL STATE[TCTI]=$TCTI STATE[TPM_TIMEOUT]=$TPM_TIMEOUT STATE[NO_DOCKER]=$NO_DOCKER
      STATE[EVENT_LOG]=$EVENT_LOG
      remember_install_config
    fi
    save_state
  fi
  create_tpm_keys

  step 5 "Registering the node (TPM attestation)"
  register_node

  step 6 "Storing credentials and installing noderr-heartbeat"
  install_heartbeat

  step 7 "Setting up Docker"
  setup_docker
  if [ "$DRY_RUN" != 1 ]; then
    STATE[STAGE]=services
    save_state
  fi

  step 8 "Starting and checking"
  start_services
  if [ "$DRY_RUN" = 1 ]; then
    printf '\nDry run complete: nothing was changed.\n'
    return 0
  fi
  STATE[STAGE]="done"
  save_state
  log "timing: step $CURRENT_STEP took $(($(now_ms) - STEP_STARTED_MS)) ms"
  summary
}

if [ "${NODERR_INSTALL_SOURCE_ONLY:-0}" != 1 ]; then
  main "$@"
fi

#Requires -RunAsAdministrator
#Requires -Version 5.1
<#
.SYNOPSIS
    noderr node installer for Windows (Windows 10/11 Pro/Enterprise/Education, Windows Server 2019+).

.DESCRIPTION
    From an install token to a registered, TPM-attested, running node:

        Invoke-WebRequest -UseBasicParsing https://api.noderr.xyz/install/windows.ps1 -OutFile install-noderr.ps1
        .\install-noderr.ps1 -InstallToken <TOKEN>

    Checks the host (edition, Administrator, API, TPM 2.0, CPU, RAM, disk), installs Node.js LTS with winget
    when missing, downloads the node agent from the API and verifies its SHA-256, registers the node
    through the agent (which drives the TPM over TBS: EK, AK, node key, quote, credential activation),
    keeps its state in a directory only SYSTEM and Administrators can open, runs the agent's heartbeat
    daemon as a scheduled task at startup (SYSTEM) and starts the node's container with Docker.

    Secrets: the install token goes to the agent on stdin, never on a command line; it is never written
    to the console or the log. installers/windows/README.md has the details, the exit codes and the
    manual test procedure.

.PARAMETER InstallToken
    The install token (ndr_install_ + 64 hex characters). Also from -InstallTokenFile or the environment
    variable NODERR_INSTALL_TOKEN. Not needed to resume after registration, nor for -Uninstall.

.EXAMPLE
    .\install-noderr.ps1 -InstallToken ndr_install_0123... -Yes

.EXAMPLE
    .\install-noderr.ps1 -DryRun

.EXAMPLE
    .\install-noderr.ps1 -Uninstall
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [string]$InstallToken,
    [string]$InstallTokenFile,
    [string]$ApiUrl,
    [string]$InstallDir,
    [string]$DataDir,
    [switch]$NoDocker,
    [switch]$DryRun,
    [switch]$Yes,
    [switch]$Uninstall,
    [int]$MinCpu = -1,
    [int]$MinRamGB = -1,
    [int]$MinDiskGB = -1
)

$ErrorActionPreference = 'Stop'

$NoderrDefaultApiUrl = 'https://api.noderr.xyz'  # replaced when served by the API

$NoderrVersion = '0.1.0'
$NoderrTotalSteps = 8

# Exit codes: the same meaning as the Linux installer (README lists them).
$NoderrExit = @{
    Ok          = 0
    Failure     = 1
    Usage       = 2
    Environment = 3
    Api         = 4
    Hardware    = 5
    Dependency  = 6
    Token       = 7
    Attestation = 8
}

# The agent persists its keys at these handles (clients/node/src/agent/keys.ts).
$NoderrAgentHandles = @('0x81008001', '0x81008002')
$NoderrKoffiVersion = '3.3.4'
$NoderrMinNodeMajor = 20
$NoderrContainerName = 'noderr-node'
$NoderrDockerNetwork = 'noderr'
$NoderrTaskName = 'noderr-agent'
$NoderrTaskPath = '\noderr\'
$NoderrWellKnownSids = @{
    System         = 'S-1-5-18'
    Administrators = 'S-1-5-32-544'
}

# ---------------------------------------------------------------------------------------------------
# Decisions that do not need Windows: pure functions over their arguments (README mirrors them).
# ---------------------------------------------------------------------------------------------------

# The eight steps. Skip = the option that skips the step; DoneAt = the stage from which a re-run skips it
# (the other steps are idempotent and run again on a re-run).
$NoderrSteps = @(
    @{ N = 1; Title = 'Checking the environment'; Skip = ''; DoneAt = ''; Does = 'Windows edition and build, Administrator, GET /api/v1/health, install token checked with install/config (not used up)' }
    @{ N = 2; Title = 'Checking the hardware'; Skip = ''; DoneAt = ''; Does = 'Get-Tpm present, enabled and ready; Win32_Tpm SpecVersion 2.0; CPU cores, RAM, disk against the minimums' }
    @{ N = 3; Title = 'Installing dependencies'; Skip = ''; DoneAt = ''; Does = 'Node.js LTS with winget when node is missing or older than 20; Docker engine present, running, Linux containers' }
    @{ N = 4; Title = 'Installing the node agent'; Skip = ''; DoneAt = ''; Does = 'data directory with an ACL for SYSTEM and Administrators only; GET /agent/noderr-agent.mjs, SHA-256 checked against x-content-sha256; koffi with npm; noderr-agent tpm info over TBS' }
    @{ N = 5; Title = 'Registering the node (TPM attestation)'; Skip = ''; DoneAt = 'registered'; Does = 'noderr-agent register with the token on stdin: EK, AK and node key, quote, credential activation' }
    @{ N = 6; Title = 'Protecting credentials and installing the agent task'; Skip = ''; DoneAt = ''; Does = 'ACL of the data directory verified; scheduled task \noderr\noderr-agent (at startup, SYSTEM, restart on failure) running noderr-agent run' }
    @{ N = 7; Title = 'Setting up Docker'; Skip = 'NoDocker'; DoneAt = ''; Does = 'docker pull of the tier image, network noderr, node.env (no secrets), container noderr-node with --restart unless-stopped' }
    @{ N = 8; Title = 'Starting and checking'; Skip = ''; DoneAt = ''; Does = 'one noderr-agent heartbeat, start the scheduled task, container running, summary' }
)

# API error code -> exit code, message and next step. Every code of shared/api/error-codes.ts is here
# (a test compares them, and this table with the README). {api} is replaced with the API URL.
$NoderrApiErrors = @{
    VALIDATION_FAILED      = @{ Exit = 1; Message = 'The API did not accept the request format.'; Hint = 'The installer or the agent is outdated: download the installer again from {api}/install/windows.ps1 and run it again.' }
    INSTALL_TOKEN_INVALID  = @{ Exit = 7; Message = 'The install token was not recognised.'; Hint = 'Check that you copied the whole token from the welcome email, or create a new one in the dApp.' }
    INSTALL_TOKEN_USED     = @{ Exit = 7; Message = 'This install token has already been used to register a node.'; Hint = 'Each token registers one node: create a new install token in the dApp. If this host is that node and its files are gone, run with -Uninstall, revoke the old node in the dApp and install with a new token.' }
    INSTALL_TOKEN_EXPIRED  = @{ Exit = 7; Message = 'This install token has expired.'; Hint = 'Create a new install token in the dApp (tokens are valid for up to 7 days) and run the installer with it.' }
    INSTALL_TOKEN_REVOKED  = @{ Exit = 7; Message = 'This install token was revoked by an administrator.'; Hint = 'Ask your administrator for a new install token.' }
    CHALLENGE_INVALID      = @{ Exit = 4; Message = 'The registration challenge was no longer valid.'; Hint = 'Run the installer again: it asks for a fresh challenge.' }
    CHALLENGE_EXPIRED      = @{ Exit = 4; Message = 'The registration challenge expired.'; Hint = 'Run the installer again: it asks for a fresh challenge.' }
    ATTESTATION_INVALID    = @{ Exit = 8; Message = 'The API rejected this TPM attestation.'; Hint = 'Run the installer again; if it fails the same way, send the log to support.' }
    EK_ALREADY_REGISTERED  = @{ Exit = 8; Message = 'This machine TPM is already registered as another node.'; Hint = 'One TPM registers one node. Revoke the old node in the dApp first, then run the installer again.' }
    ACTIVATION_NOT_FOUND   = @{ Exit = 8; Message = 'Credential activation failed: the API no longer knows this activation.'; Hint = 'Run the installer again with the same token (it was not used up).' }
    ACTIVATION_FAILED      = @{ Exit = 8; Message = 'Credential activation failed: the TPM did not recover the API secret.'; Hint = 'Run the installer again with the same token (it was not used up).' }
    CREDENTIALS_INVALID    = @{ Exit = 8; Message = 'The API rejected this node credentials.'; Hint = 'The credentials or the TPM key changed: run with -Uninstall, then install with a new token.' }
    SESSION_INVALID        = @{ Exit = 1; Message = 'The API rejected the node session.'; Hint = 'Run the installer again; it continues where it stopped.' }
    SESSION_FORBIDDEN      = @{ Exit = 1; Message = 'The node session belongs to another node.'; Hint = 'Run with -Uninstall, then install with a new token.' }
    NODE_NOT_FOUND         = @{ Exit = 8; Message = 'The API does not know this node.'; Hint = 'The node was deleted at the API: run with -Uninstall, then install with a new token.' }
    NODE_SUSPENDED         = @{ Exit = 8; Message = 'This node is suspended.'; Hint = 'An administrator must set it active again in the dApp; then run the installer again.' }
    NODE_REVOKED           = @{ Exit = 8; Message = 'This node was revoked.'; Hint = 'It cannot come back: run with -Uninstall, then install with a new token.' }
    UNAUTHORIZED           = @{ Exit = 4; Message = 'The API asked for an administrator login.'; Hint = 'The installer never needs one: check that -ApiUrl points at the noderr API.' }
    FORBIDDEN              = @{ Exit = 4; Message = 'The API refused the request as not allowed.'; Hint = 'Check that -ApiUrl points at the noderr API.' }
    NOT_FOUND              = @{ Exit = 4; Message = 'The API has no such resource.'; Hint = 'Check -ApiUrl; if it is right, this deployment lacks the agent bundle: tell your operator.' }
    METHOD_NOT_ALLOWED     = @{ Exit = 4; Message = 'The API does not allow this request.'; Hint = 'Check that -ApiUrl points at the noderr API.' }
    CONFLICT               = @{ Exit = 4; Message = 'The API reported a conflicting change.'; Hint = 'Run the installer again.' }
    PAYLOAD_TOO_LARGE      = @{ Exit = 1; Message = 'The request was too large for the API.'; Hint = 'Send the log to support.' }
    UNSUPPORTED_MEDIA_TYPE = @{ Exit = 1; Message = 'The API did not accept the request content type.'; Hint = 'The installer is outdated: download it again from {api}/install/windows.ps1.' }
    RATE_LIMITED           = @{ Exit = 4; Message = 'Too many attempts from this address.'; Hint = 'Wait a minute, then run the installer again.' }
    INTERNAL               = @{ Exit = 4; Message = 'The API failed on its side.'; Hint = 'Wait a few minutes and run the installer again; if it persists, send the request id to support.' }
    DATABASE_UNAVAILABLE   = @{ Exit = 4; Message = 'The API database is unavailable.'; Hint = 'This is on the service side: wait a few minutes and run the installer again.' }
    SESSION_KEY_UNAVAILABLE = @{ Exit = 4; Message = 'The API has no approved session signing key.'; Hint = 'This is on the service side: administrators must approve a session signing key in the dApp; then run the installer again (it resumes).' }
}

# details.reason of ATTESTATION_INVALID with a message of its own.
$NoderrAttestationReasons = @{
    EK_CERT_REQUIRED     = @{ Exit = 8; Message = 'Your tier requires a TPM endorsement key certificate and this TPM has none.'; Hint = 'Use a host whose TPM carries an EK certificate, or ask for an install token of a tier that accepts TPMs without one.' }
    EK_CERT_UNTRUSTED    = @{ Exit = 8; Message = 'The TPM endorsement key certificate is not from a manufacturer the API trusts.'; Hint = 'For a virtual TPM of a private cloud, an administrator must add its CA as an EK trust anchor (admin API: ek-anchors); then run the installer again.' }
    PCR_POLICY_VIOLATION = @{ Exit = 8; Message = 'The measured boot state (PCR values) is not allowed by your tier policy.'; Hint = 'Ask your administrator which firmware and boot configuration the policy expects.' }
}

# Agent error code (clients/node/src/errors.ts, plus INTERNAL for its unexpected failures) -> exit code,
# message and next step. API_REJECTED is translated with the API code it carries.
$NoderrAgentErrors = @{
    TPM_SPEC_INVALID           = @{ Exit = 1; Message = 'The agent did not accept the TPM selection.'; Hint = 'This is a bug of the installer: send the log to support.' }
    TPM_UNAVAILABLE            = @{ Exit = 5; Message = 'The TPM cannot be reached through TBS.'; Hint = 'Open tpm.msc: the TPM must be a TPM 2.0 and ready. In a VM, add a virtual TPM (Hyper-V: Enable-VMTPM) and reboot.' }
    TPM_TIMEOUT                = @{ Exit = 5; Message = 'The TPM is busy: it did not answer in time.'; Hint = 'Another program holds it: wait, reboot if it persists, then run the installer again.' }
    TPM_TRANSPORT_CLOSED       = @{ Exit = 5; Message = 'The connection to the TPM closed.'; Hint = 'Run the installer again; reboot if it persists.' }
    TPM_RESPONSE_TRUNCATED     = @{ Exit = 5; Message = 'The TPM sent a truncated answer.'; Hint = 'Update the TPM firmware and Windows, then run the installer again.' }
    TPM_RESPONSE_BAD_TAG       = @{ Exit = 5; Message = 'The TPM sent a malformed answer.'; Hint = 'Update the TPM firmware and Windows, then run the installer again.' }
    TPM_RESPONSE_SIZE_MISMATCH = @{ Exit = 5; Message = 'The TPM sent a malformed answer.'; Hint = 'Update the TPM firmware and Windows, then run the installer again.' }
    TPM_RESPONSE_MALFORMED     = @{ Exit = 5; Message = 'The TPM sent a malformed answer.'; Hint = 'Update the TPM firmware and Windows, then run the installer again.' }
    TPM_COMMAND_FAILED         = @{ Exit = 5; Message = 'The TPM refused a command.'; Hint = 'TPM_RC_BAD_AUTH or TPM_RC_AUTH_FAIL: the owner hierarchy has a password (not supported). TPM_RC_LOCKOUT: wait for the lockout to expire. Otherwise send the log to support.' }
    TBS_FAILED                 = @{ Exit = 5; Message = 'The Windows TPM Base Services refused the request.'; Hint = 'Check that the TBS service runs (Get-Service TBS) and that Group Policy does not block TPM commands, then run the installer again.' }
    EK_CERT_NOT_FOUND          = @{ Exit = 8; Message = 'No endorsement key certificate was found in the TPM or at the manufacturer.'; Hint = 'Your tier requires one: use a host whose TPM carries an EK certificate, or ask for a tier that accepts TPMs without one.' }
    NOT_REGISTERED             = @{ Exit = 1; Message = 'The agent has no registration in its state directory.'; Hint = 'Run the installer again with the install token.' }
    ALREADY_REGISTERED         = @{ Exit = 1; Message = 'The agent is already registered.'; Hint = 'Run the installer again without a token: it continues the installation.' }
    STATE_INVALID              = @{ Exit = 1; Message = 'The agent state directory is unreadable.'; Hint = 'Run with -Uninstall, then install with a new token.' }
    HANDLE_OCCUPIED            = @{ Exit = 5; Message = 'The TPM handles the agent uses hold keys of another program.'; Hint = 'Find out which program owns them; the installer never removes keys it did not create. Free the handles, then run the installer again.' }
    REGISTRATION_LOST          = @{ Exit = 8; Message = 'The node was activated at the API but its credentials were lost before they were saved.'; Hint = 'Ask an administrator to revoke that node in the dApp and to issue a new install token, then run the installer again with it.' }
    API_UNREACHABLE            = @{ Exit = 4; Message = 'The agent cannot reach the noderr API.'; Hint = 'Check the network, DNS, firewall and proxy, then run the installer again.' }
    API_REJECTED               = @{ Exit = 4; Message = 'The API rejected the agent request.'; Hint = 'Run the installer again; if it fails the same way, send the log to support.' }
    API_RESPONSE_INVALID       = @{ Exit = 4; Message = 'The API answered something the agent does not understand.'; Hint = 'The agent and the API versions differ: download the installer again and run it.' }
    NODE_REVOKED               = @{ Exit = 8; Message = 'This node was revoked.'; Hint = 'It cannot come back: run with -Uninstall, then install with a new token.' }
    NODE_SUSPENDED             = @{ Exit = 8; Message = 'This node is suspended.'; Hint = 'An administrator must set it active again in the dApp; then run the installer again.' }
    USAGE                      = @{ Exit = 1; Message = 'The agent did not accept its command line.'; Hint = 'This is a bug of the installer: send the log to support.' }
    INTERNAL                   = @{ Exit = 1; Message = 'The agent failed unexpectedly.'; Hint = 'Send the log to support.' }
}

function Test-NoderrInstallToken {
    param([string]$Token)
    # -cmatch: case-sensitive, lowercase hex only (PowerShell's -match ignores case).
    return [bool]($Token -cmatch '^ndr_install_[0-9a-f]{64}$')
}

function ConvertTo-NoderrApiUrl {
    param([string]$Url)
    $u = ([string]$Url).Trim().TrimEnd('/')
    if ($u -match '[\s"''`]') {
        return @{ Ok = $false; Error = "-ApiUrl contains spaces or quotes: $u" }
    }
    if ($u -match '^https://[^/]+') {
        return @{ Ok = $true; Value = $u }
    }
    if ($u -match '^http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?$') {
        return @{ Ok = $true; Value = $u }
    }
    if ($u -match '^http://') {
        return @{ Ok = $false; Error = "-ApiUrl must use https:// (plain http is accepted for localhost only): $u" }
    }
    return @{ Ok = $false; Error = "-ApiUrl must be an https:// URL, e.g. https://api.noderr.xyz (got: $u)" }
}

function Test-NoderrTruthy {
    param([string]$Value)
    return [bool]($Value -match '^(1|true|yes|on)$')
}

# Options from the parameters, then NODERR_* environment variables, then defaults. Returns
# @{ Ok; Error } or @{ Ok = $true; Options = @{...} }. The token is validated, never echoed.
function Resolve-NoderrOption {
    param([hashtable]$Bound, [hashtable]$Environment, [string]$TokenFileContent, [string]$DefaultApiUrl, [hashtable]$Folders)
    $o = @{}
    $url = $DefaultApiUrl
    if ($Environment.ContainsKey('NODERR_API_URL') -and $Environment['NODERR_API_URL']) { $url = $Environment['NODERR_API_URL'] }
    if ($Bound.ContainsKey('ApiUrl')) { $url = $Bound['ApiUrl'] }
    $api = ConvertTo-NoderrApiUrl -Url $url
    if (-not $api.Ok) { return @{ Ok = $false; Error = $api.Error } }
    $o.ApiUrl = $api.Value

    $o.InstallDir = Join-Path $Folders.ProgramFiles 'noderr'
    if ($Environment['NODERR_INSTALL_DIR']) { $o.InstallDir = $Environment['NODERR_INSTALL_DIR'] }
    if ($Bound.ContainsKey('InstallDir')) { $o.InstallDir = $Bound['InstallDir'] }
    $o.DataDir = Join-Path $Folders.ProgramData 'noderr'
    if ($Environment['NODERR_DATA_DIR']) { $o.DataDir = $Environment['NODERR_DATA_DIR'] }
    if ($Bound.ContainsKey('DataDir')) { $o.DataDir = $Bound['DataDir'] }
    foreach ($name in @('InstallDir', 'DataDir')) {
        $dir = ([string]$o[$name]).TrimEnd('\')
        if ($dir -notmatch '^[A-Za-z]:\\[^"*?<>|]+$') {
            return @{ Ok = $false; Error = "-$name must be an absolute path on a drive, e.g. C:\noderr (got: $dir)" }
        }
        $forbidden = @($Folders.ProgramFiles, $Folders.ProgramData, $Folders.Windows, $Folders.SystemDrive + '\', $Folders.SystemDrive + '\Users')
        foreach ($f in $forbidden) {
            if ($dir.TrimEnd('\') -eq ([string]$f).TrimEnd('\')) {
                return @{ Ok = $false; Error = "-$name must be a directory of its own, not $dir" }
            }
        }
        $o[$name] = $dir
    }

    foreach ($flag in @(@('NoDocker', 'NODERR_NO_DOCKER'), @('DryRun', 'NODERR_DRY_RUN'), @('Yes', 'NODERR_YES'), @('Uninstall', 'NODERR_UNINSTALL'))) {
        $o[$flag[0]] = [bool]($Bound.ContainsKey($flag[0]) -and $Bound[$flag[0]]) -or (Test-NoderrTruthy -Value $Environment[$flag[1]])
    }

    $minimums = @(@('MinCpu', 'NODERR_MIN_CPU', 4), @('MinRamGB', 'NODERR_MIN_RAM_GB', 8), @('MinDiskGB', 'NODERR_MIN_DISK_GB', 100))
    foreach ($m in $minimums) {
        $value = [string]$m[2]
        if ($Environment[$m[1]]) { $value = [string]$Environment[$m[1]] }
        if ($Bound.ContainsKey($m[0])) { $value = [string]$Bound[$m[0]] }
        if ($value -notmatch '^[0-9]+$') {
            return @{ Ok = $false; Error = "-$($m[0]) must be a whole number (got: $value)" }
        }
        $o[$m[0]] = [int]$value
    }

    $sources = 0
    $token = ''
    if ($Bound.ContainsKey('InstallToken') -and $Bound['InstallToken']) { $token = $Bound['InstallToken']; $sources++ }
    if ($Bound.ContainsKey('InstallTokenFile') -and $Bound['InstallTokenFile']) { $token = $TokenFileContent; $sources++ }
    if ($sources -gt 1) {
        return @{ Ok = $false; Error = 'Give the install token once: -InstallToken or -InstallTokenFile, not both.' }
    }
    if ($sources -eq 0 -and $Environment['NODERR_INSTALL_TOKEN']) { $token = $Environment['NODERR_INSTALL_TOKEN'] }
    $token = ([string]$token).Trim()
    if ($token -and -not (Test-NoderrInstallToken -Token $token)) {
        return @{ Ok = $false; Error = 'The install token is malformed: it must be ndr_install_ followed by 64 lowercase hex characters. Copy it again from your welcome email or the dApp.' }
    }
    $o.InstallToken = $token
    return @{ Ok = $true; Options = $o }
}

# Windows 10/11 (build 19041+ for WSL2) in the Pro, Enterprise, Education or Workstation editions, or
# Windows Server 2019+ (build 17763+). ProductType: 1 workstation, 2 domain controller, 3 server.
function Test-NoderrWindowsVersion {
    param([int]$Build, [int]$ProductType, [string]$EditionId, [string]$Caption)
    if ($ProductType -eq 1) {
        if ($EditionId -match '^Core') {
            return @{ Supported = $false; Reason = "$Caption (Home) is not supported: use Windows 10/11 Pro, Enterprise or Education." }
        }
        if ($Build -lt 19041) {
            return @{ Supported = $false; Reason = "$Caption build $Build is too old: Windows 10 version 2004 (build 19041) or later is needed." }
        }
        return @{ Supported = $true; Reason = '' }
    }
    if ($Build -lt 17763) {
        return @{ Supported = $false; Reason = "$Caption build $Build is too old: Windows Server 2019 (build 17763) or later is needed." }
    }
    return @{ Supported = $true; Reason = '' }
}

# Get-Tpm and Win32_Tpm facts -> verdict. Code is one of ok, absent, disabled, not-ready, not-2.0.
function Get-NoderrTpmVerdict {
    param([bool]$Present, [bool]$Enabled, [bool]$Ready, [string]$SpecVersion)
    if (-not $Present) { return 'absent' }
    if (-not $Enabled) { return 'disabled' }
    $major = ([string]$SpecVersion).Split(',')[0].Trim()
    if ($major -ne '2.0') { return 'not-2.0' }
    if (-not $Ready) { return 'not-ready' }
    return 'ok'
}

# 'v20.11.1' -> $true when the major version is at least $Minimum.
function Test-NoderrNodeVersion {
    param([string]$Version, [int]$Minimum)
    if ($Version -notmatch '^v?([0-9]+)\.[0-9]+\.[0-9]+') { return $false }
    return ([int]$Matches[1] -ge $Minimum)
}

# Bytes -> whole GB: RAM in GiB rounded to the nearest, disk in GB (10^9) rounded to the nearest.
function ConvertTo-NoderrGigabyte {
    param([double]$Bytes, [switch]$Binary)
    if ($Binary) { return [int][Math]::Floor(($Bytes + 536870912) / 1073741824) }
    return [int][Math]::Floor(($Bytes + 500000000) / 1000000000)
}

# install/config's dockerRegistry + dockerImage -> the reference to pull (as the Linux installer does).
function Get-NoderrImageReference {
    param([string]$Registry, [string]$Image)
    if (-not $Image) { return '' }
    $first = $Image.Split('/')[0]
    $namesHost = ($Image.Contains('/') -and ($first.Contains('.') -or $first.Contains(':') -or $first -eq 'localhost'))
    if (-not $Registry -or $namesHost) { return $Image }
    return $Registry.TrimEnd('/') + '/' + $Image
}

# API error -> @{ Exit; Message; Hints }. Unknown codes get a generic message with the HTTP status.
function Get-NoderrApiErrorMessage {
    param([string]$Code, [string]$Reason, [string]$RequestId, [string]$Detail, [int]$Status, [string]$ApiUrl)
    $entry = $null
    $label = $Code
    if ($Code -eq 'ATTESTATION_INVALID' -and $Reason) {
        $label = "$Code/$Reason"
        if ($NoderrAttestationReasons.ContainsKey($Reason)) { $entry = $NoderrAttestationReasons[$Reason] }
    }
    if (-not $entry -and $Code -and $NoderrApiErrors.ContainsKey($Code)) { $entry = $NoderrApiErrors[$Code] }
    $rid = ''
    if ($RequestId) { $rid = " (request id $RequestId)" }
    if (-not $entry) {
        $what = 'no details'
        if ($Detail) { $what = $Detail }
        return @{ Exit = 4; Message = "The API refused the request: HTTP $Status [$Code]$($rid): $what"; Hints = @('Run the installer again; if it fails the same way, send the log to support.') }
    }
    $message = "$($entry.Message) [$label]$rid"
    if ($Code -eq 'ATTESTATION_INVALID' -and -not $NoderrAttestationReasons.ContainsKey([string]$Reason) -and $Detail) {
        $message = "$message $Detail"
    }
    return @{ Exit = $entry.Exit; Message = $message; Hints = @($entry.Hint.Replace('{api}', $ApiUrl)) }
}

# The agent's --json failure -> @{ Exit; Message; Hints }. API_REJECTED and API_UNREACHABLE that carry
# the API's code are translated like the installer's own API calls.
function Get-NoderrAgentErrorMessage {
    param([string]$Code, [string]$Message, [string]$ApiCode, [string]$RequestId, [int]$Status, [string]$ApiUrl)
    if ($ApiCode -and ($Code -eq 'API_REJECTED' -or $Code -eq 'API_UNREACHABLE')) {
        $reason = ''
        if ($ApiCode -eq 'ATTESTATION_INVALID') {
            foreach ($r in $NoderrAttestationReasons.Keys) {
                if ($Message -and $Message.Contains($r)) { $reason = $r }
            }
        }
        return Get-NoderrApiErrorMessage -Code $ApiCode -Reason $reason -RequestId $RequestId -Detail $Message -Status $Status -ApiUrl $ApiUrl
    }
    $entry = $NoderrAgentErrors['INTERNAL']
    if ($Code -and $NoderrAgentErrors.ContainsKey($Code)) { $entry = $NoderrAgentErrors[$Code] }
    $text = "$($entry.Message) [$Code]"
    if ($Message) { $text = "$text $Message" }
    return @{ Exit = $entry.Exit; Message = $text; Hints = @($entry.Hint.Replace('{api}', $ApiUrl)) }
}

# The step plan (what -DryRun prints first, and what a run does): each step with run or skip and why.
function Get-NoderrStepPlan {
    param([bool]$NoDocker, [string]$Stage)
    $order = @{ '' = 0; 'none' = 0; 'registered' = 1; 'services' = 2; 'done' = 3 }
    $at = 0
    if ($order.ContainsKey([string]$Stage)) { $at = $order[[string]$Stage] }
    $plan = @()
    foreach ($s in $NoderrSteps) {
        $action = 'run'
        $why = ''
        if ($s.Skip -eq 'NoDocker' -and $NoDocker) {
            $action = 'skip'
            $why = '-NoDocker'
        }
        elseif ($s.DoneAt -and $at -ge $order[$s.DoneAt]) {
            $action = 'skip'
            $why = "already done (stage $Stage)"
        }
        $plan += , @{ N = $s.N; Title = $s.Title; Action = $action; Why = $why; Does = $s.Does }
    }
    return , $plan
}

# SIDs of an ACL that may not be there: only SYSTEM and Administrators may open the data directory.
function Get-NoderrUnexpectedSid {
    param([string[]]$Sids)
    $allowed = @($NoderrWellKnownSids.System, $NoderrWellKnownSids.Administrators)
    return @($Sids | Where-Object { $allowed -notcontains $_ } | Sort-Object -Unique)
}

# ---------------------------------------------------------------------------------------------------
# Output and logging. The log is a transcript of this session (secrets are never printed; the token is
# redacted from the file when the transcript stops, in case the host line recorded it).
# ---------------------------------------------------------------------------------------------------

$script:LogFile = ''
$script:CurrentStep = 0
$script:StepStarted = $null
$script:Opt = $null
$script:RollbackArmed = $false

function Write-NoderrStep {
    param([int]$N, [string]$Title)
    if ($script:StepStarted) {
        $ms = [int]((Get-Date) - $script:StepStarted).TotalMilliseconds
        Write-Verbose "timing: step $script:CurrentStep took $ms ms"
    }
    $script:StepStarted = Get-Date
    $script:CurrentStep = $N
    Write-Host ''
    Write-Host "[$N/$NoderrTotalSteps] $Title" -ForegroundColor White
    Write-Progress -Activity 'noderr node installer' -Status "[$N/$NoderrTotalSteps] $Title" -PercentComplete ([int](($N - 1) * 100 / $NoderrTotalSteps))
}

function Write-NoderrOk {
    param([string]$Text)
    Write-Host ('  ' + [char]0x2713 + ' ' + $Text) -ForegroundColor Green
}

function Write-NoderrInfo {
    param([string]$Text)
    Write-Host ('    ' + $Text)
}

function Write-NoderrWarning {
    param([string]$Text)
    Write-Host ('  ! ' + $Text) -ForegroundColor Yellow
}

# Prints what went wrong and what to do, undoes what this run created before registration, and exits.
function Stop-NoderrInstall {
    param([int]$Code, [string]$Message, [string[]]$Hints)
    Write-Host ('  ' + [char]0x2717 + ' ' + $Message) -ForegroundColor Red
    foreach ($h in $Hints) {
        if ($h) { Write-Host ('    -> ' + $h) }
    }
    if ($script:LogFile) { Write-Host "    Log: $script:LogFile" }
    if ($script:RollbackArmed) { Undo-NoderrInstall }
    Write-Progress -Activity 'noderr node installer' -Completed
    Stop-NoderrLog
    exit $Code
}

function Stop-NoderrUsage {
    param([string]$Message)
    Write-Host "Error: $Message" -ForegroundColor Red
    Write-Host 'Run Get-Help .\install-noderr.ps1 -Detailed for usage.'
    exit $NoderrExit.Usage
}

# Runs a change, or in a dry run only says what it would do.
function Invoke-NoderrAction {
    param([string]$Description, [scriptblock]$Action)
    if ($script:Opt.DryRun) {
        Write-Host "    [dry-run] would $Description"
        return $null
    }
    Write-Verbose "action: $Description"
    return (& $Action)
}

# The one place native programs run: stdout and stderr are captured (stderr as text, so that
# $ErrorActionPreference = 'Stop' does not turn a warning into a failure), the exit code is returned.
# InputText goes to the program's stdin: the way secrets travel, never ArgumentList.
function Invoke-NoderrNative {
    param([string]$FilePath, [string[]]$ArgumentList, [string]$InputText)
    Write-Verbose ("run: $FilePath " + ($ArgumentList -join ' '))
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        if ($InputText) {
            $lines = $InputText | & $FilePath @ArgumentList 2>&1
        }
        else {
            $lines = & $FilePath @ArgumentList 2>&1
        }
        $code = $LASTEXITCODE
    }
    finally {
        $ErrorActionPreference = $previous
    }
    $out = @()
    $err = @()
    foreach ($l in @($lines)) {
        if ($l -is [System.Management.Automation.ErrorRecord]) { $err += [string]$l } else { $out += [string]$l }
    }
    return @{ ExitCode = $code; Output = ($out -join "`n"); Errors = ($err -join "`n") }
}

# POST/GET JSON. Returns @{ Status; Body (object or $null); Text }; Status 0 = no HTTP answer.
function Invoke-NoderrApi {
    param([string]$Method, [string]$Path, [hashtable]$Body, [int]$TimeoutSec = 30)
    $uri = $script:Opt.ApiUrl + $Path
    $req = @{ Uri = $uri; Method = $Method; UseBasicParsing = $true; TimeoutSec = $TimeoutSec; Headers = @{ Accept = 'application/json' } }
    if ($Body) {
        $req.ContentType = 'application/json'
        $req.Body = [System.Text.Encoding]::UTF8.GetBytes(($Body | ConvertTo-Json -Depth 5 -Compress))
    }
    try {
        $resp = Invoke-WebRequest @req
        $text = [string]$resp.Content
        $obj = $null
        if ($text) { $obj = $text | ConvertFrom-Json }
        return @{ Status = [int]$resp.StatusCode; Body = $obj; Text = $text }
    }
    catch {
        $status = 0
        $text = ''
        $response = $null
        if ($_.Exception.PSObject.Properties['Response']) { $response = $_.Exception.Response }
        if ($response) {
            $status = [int]$response.StatusCode
            if ($_.ErrorDetails -and $_.ErrorDetails.Message) { $text = $_.ErrorDetails.Message }
        }
        $obj = $null
        if ($text) {
            try { $obj = $text | ConvertFrom-Json } catch { $obj = $null }
        }
        return @{ Status = $status; Body = $obj; Text = $text; Failure = $_.Exception.Message }
    }
}

# An API failure answer -> message and exit.
function Stop-NoderrApiFailure {
    param([hashtable]$Answer, [string]$What)
    $code = ''
    $reason = ''
    $rid = ''
    $detail = ''
    if ($Answer.Body -and $Answer.Body.PSObject.Properties['error']) {
        $e = $Answer.Body.error
        $code = [string]$e.code
        $rid = [string]$e.requestId
        $detail = [string]$e.message
        if ($e.PSObject.Properties['details'] -and $e.details -and $e.details.PSObject.Properties['reason']) { $reason = [string]$e.details.reason }
    }
    Write-Verbose "API $What answered HTTP $($Answer.Status): code=$code reason=$reason request=$rid"
    $m = Get-NoderrApiErrorMessage -Code $code -Reason $reason -RequestId $rid -Detail $detail -Status $Answer.Status -ApiUrl $script:Opt.ApiUrl
    Stop-NoderrInstall -Code $m.Exit -Message $m.Message -Hints $m.Hints
}

# ---------------------------------------------------------------------------------------------------
# State: <DataDir>\install-state.json (no secrets). Stage: none -> registered -> services -> done.
# ---------------------------------------------------------------------------------------------------

function Get-NoderrStatePath {
    return (Join-Path $script:Opt.DataDir 'install-state.json')
}

function Read-NoderrState {
    $path = Get-NoderrStatePath
    $state = @{ Stage = 'none' }
    if (Test-Path -LiteralPath $path) {
        $obj = Get-Content -LiteralPath $path -Raw | ConvertFrom-Json
        foreach ($p in $obj.PSObject.Properties) { $state[$p.Name] = $p.Value }
    }
    return $state
}

function Save-NoderrState {
    param([hashtable]$State)
    if ($script:Opt.DryRun) { return }
    $path = Get-NoderrStatePath
    $State.InstallerVersion = $NoderrVersion
    $State.UpdatedAt = (Get-Date).ToUniversalTime().ToString('o')
    $tmp = "$path.tmp"
    ($State | ConvertTo-Json -Depth 4) | Set-Content -LiteralPath $tmp -Encoding UTF8
    Move-Item -LiteralPath $tmp -Destination $path -Force
}

function Get-NoderrAgentStateDir {
    return (Join-Path $script:Opt.DataDir 'agent')
}

function Get-NoderrAgentPath {
    return (Join-Path $script:Opt.InstallDir 'noderr-agent.mjs')
}

# Runs the agent with --json; returns @{ ExitCode; Json }. The token, when given, goes to its stdin.
function Invoke-NoderrAgent {
    param([string[]]$Arguments, [string]$StdinSecret)
    $argv = @((Get-NoderrAgentPath)) + $Arguments + @('--state-dir', (Get-NoderrAgentStateDir), '--json')
    $r = Invoke-NoderrNative -FilePath $script:NodeExe -ArgumentList $argv -InputText $StdinSecret
    if ($r.ExitCode -ne 0) { Write-Verbose "agent $($Arguments[0]) exited with $($r.ExitCode)" }
    $json = $null
    $last = @($r.Output -split "`n" | Where-Object { $_.Trim().StartsWith('{') }) | Select-Object -Last 1
    if ($last) {
        try { $json = $last | ConvertFrom-Json } catch { $json = $null }
    }
    return @{ ExitCode = $r.ExitCode; Json = $json; Errors = $r.Errors }
}

function Stop-NoderrAgentFailure {
    param([hashtable]$Result, [string]$What)
    $j = $Result.Json
    if (-not $j -or -not $j.PSObject.Properties['error']) {
        Stop-NoderrInstall -Code $NoderrExit.Failure -Message "noderr-agent $What failed (exit code $($Result.ExitCode)) without a readable answer: $($Result.Errors)" -Hints @('Send the log to support.')
    }
    $apiCode = ''
    $rid = ''
    $status = 0
    if ($j.error.PSObject.Properties['details'] -and $j.error.details) {
        $d = $j.error.details
        if ($d.PSObject.Properties['apiCode']) { $apiCode = [string]$d.apiCode }
        if ($d.PSObject.Properties['requestId']) { $rid = [string]$d.requestId }
        if ($d.PSObject.Properties['status']) { $status = [int]$d.status }
    }
    $m = Get-NoderrAgentErrorMessage -Code ([string]$j.error.code) -Message ([string]$j.error.message) -ApiCode $apiCode -RequestId $rid -Status $status -ApiUrl $script:Opt.ApiUrl
    Stop-NoderrInstall -Code $m.Exit -Message "noderr-agent $($What): $($m.Message)" -Hints $m.Hints
}

# ---------------------------------------------------------------------------------------------------
# Step 1: environment
# ---------------------------------------------------------------------------------------------------

function Test-NoderrEnvironment {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $edition = ''
    try { $edition = [string](Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -Name EditionID).EditionID } catch { $edition = '' }
    $v = Test-NoderrWindowsVersion -Build ([int]$os.BuildNumber) -ProductType ([int]$os.ProductType) -EditionId $edition -Caption ([string]$os.Caption)
    if (-not $v.Supported) {
        Stop-NoderrInstall -Code $NoderrExit.Environment -Message "Unsupported Windows: $($v.Reason)" -Hints @('Supported: Windows 10 (2004+) and 11 Pro, Enterprise or Education; Windows Server 2019 or later.')
    }
    $script:IsServer = ([int]$os.ProductType -ne 1)
    Write-NoderrOk "Windows: $($os.Caption) (build $($os.BuildNumber), $edition)"
    $principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        Stop-NoderrInstall -Code $NoderrExit.Environment -Message 'This installer must run as Administrator: it installs software, uses the TPM and writes to Program Files.' -Hints @('Open PowerShell with "Run as administrator" and run .\install-noderr.ps1 again.')
    }
    Write-NoderrOk 'Running as Administrator'
}

function Test-NoderrApi {
    $a = Invoke-NoderrApi -Method 'GET' -Path '/api/v1/health' -TimeoutSec 20
    if ($a.Status -eq 0) {
        Stop-NoderrInstall -Code $NoderrExit.Api -Message "Cannot reach the noderr API at $($script:Opt.ApiUrl): $($a.Failure)" -Hints @('Check the network, DNS, firewall and proxy, then run the installer again.', "Test with: Invoke-WebRequest -UseBasicParsing $($script:Opt.ApiUrl)/api/v1/health")
    }
    if ($a.Status -ne 200 -or -not $a.Body -or [string]$a.Body.status -ne 'ok') {
        Stop-NoderrInstall -Code $NoderrExit.Api -Message "The noderr API at $($script:Opt.ApiUrl) is not healthy (HTTP $($a.Status))." -Hints @('This is on the service side: wait a few minutes and run the installer again.', 'Check that -ApiUrl points at the noderr API.')
    }
    Write-NoderrOk "API reachable: $($script:Opt.ApiUrl) (version $($a.Body.version))"
}

# install/config does not use the token up; it tells the tier and its Docker image.
function Get-NoderrInstallConfig {
    $a = Invoke-NoderrApi -Method 'POST' -Path '/api/v1/install/config' -Body @{ installToken = $script:Opt.InstallToken }
    if ($a.Status -eq 0) {
        Stop-NoderrInstall -Code $NoderrExit.Api -Message "Cannot reach the noderr API at $($script:Opt.ApiUrl): $($a.Failure)" -Hints @('Check the network and run the installer again.')
    }
    if ($a.Status -ne 200) { Stop-NoderrApiFailure -Answer $a -What 'install/config' }
    return $a.Body
}

# ---------------------------------------------------------------------------------------------------
# Step 2: hardware
# ---------------------------------------------------------------------------------------------------

function Test-NoderrTpm {
    $tpm = $null
    try { $tpm = Get-Tpm } catch { $tpm = $null }
    $wmi = $null
    try { $wmi = Get-CimInstance -Namespace 'root\cimv2\Security\MicrosoftTpm' -ClassName Win32_Tpm } catch { $wmi = $null }
    $present = [bool]($tpm -and $tpm.TpmPresent)
    $enabled = [bool]($tpm -and $tpm.TpmEnabled -and $tpm.TpmActivated)
    $ready = [bool]($tpm -and $tpm.TpmReady)
    $spec = ''
    if ($wmi) { $spec = [string]$wmi.SpecVersion }
    switch (Get-NoderrTpmVerdict -Present $present -Enabled $enabled -Ready $ready -SpecVersion $spec) {
        'absent' {
            Stop-NoderrInstall -Code $NoderrExit.Hardware -Message 'No TPM found (Get-Tpm: TpmPresent is False).' -Hints @('Enable the TPM (TPM 2.0, Intel PTT or AMD fTPM) in the firmware setup, or add a virtual TPM to this VM (Hyper-V: Set-VMKeyProtector -NewLocalKeyProtector; Enable-VMTPM), then reboot.')
        }
        'disabled' {
            Stop-NoderrInstall -Code $NoderrExit.Hardware -Message 'The TPM is disabled or not activated (Get-Tpm: TpmEnabled/TpmActivated).' -Hints @('Enable and activate it in the firmware setup, then reboot.')
        }
        'not-2.0' {
            Stop-NoderrInstall -Code $NoderrExit.Hardware -Message "The TPM is not a TPM 2.0 (Win32_Tpm SpecVersion: $spec)." -Hints @('This installer needs TPM 2.0; some firmware can switch a TPM from 1.2 to 2.0 (see your vendor).')
        }
        'not-ready' {
            Stop-NoderrInstall -Code $NoderrExit.Hardware -Message 'The TPM is not ready for use (Get-Tpm: TpmReady is False).' -Hints @('Open tpm.msc and choose Prepare the TPM (or run Initialize-Tpm), reboot, then run the installer again.')
        }
    }
    $maker = ''
    if ($tpm) { $maker = [string]$tpm.ManufacturerIdTxt }
    Write-NoderrOk "TPM 2.0 present, enabled and ready (manufacturer $maker, spec $spec)"
}

function Test-NoderrResource {
    $cpu = [int]((Get-CimInstance -ClassName Win32_Processor | Measure-Object -Property NumberOfLogicalProcessors -Sum).Sum)
    $ram = ConvertTo-NoderrGigabyte -Bytes ([double](Get-CimInstance -ClassName Win32_ComputerSystem).TotalPhysicalMemory) -Binary
    $drive = $script:Opt.InstallDir.Substring(0, 2).ToUpperInvariant()
    $disk = 0
    $ld = Get-CimInstance -ClassName Win32_LogicalDisk -Filter "DeviceID='$drive'"
    if ($ld) { $disk = ConvertTo-NoderrGigabyte -Bytes ([double]$ld.Size) }
    $script:SystemFacts = @{ Cpu = $cpu; RamGB = $ram; DiskGB = $disk; Drive = $drive }
    if ($cpu -lt $script:Opt.MinCpu) {
        Stop-NoderrInstall -Code $NoderrExit.Hardware -Message "Not enough CPU: $cpu logical processors, the minimum is $($script:Opt.MinCpu)." -Hints @('Use a larger machine (or lower the minimum with -MinCpu if your operator allows it).')
    }
    Write-NoderrOk "CPU: $cpu logical processors (minimum $($script:Opt.MinCpu))"
    if ($ram -lt $script:Opt.MinRamGB) {
        Stop-NoderrInstall -Code $NoderrExit.Hardware -Message "Not enough memory: $ram GB, the minimum is $($script:Opt.MinRamGB) GB." -Hints @('Use a larger machine (or lower the minimum with -MinRamGB if your operator allows it).')
    }
    Write-NoderrOk "RAM: $ram GB (minimum $($script:Opt.MinRamGB) GB)"
    if ($disk -lt $script:Opt.MinDiskGB) {
        Stop-NoderrInstall -Code $NoderrExit.Hardware -Message "Not enough disk: drive $drive has $disk GB, the minimum is $($script:Opt.MinDiskGB) GB." -Hints @('Use a larger disk, another drive with -InstallDir (or lower the minimum with -MinDiskGB if your operator allows it).')
    }
    Write-NoderrOk "Disk: $disk GB on $drive (minimum $($script:Opt.MinDiskGB) GB)"
}

# ---------------------------------------------------------------------------------------------------
# Step 3: dependencies
# ---------------------------------------------------------------------------------------------------

function Find-NoderrNode {
    $candidates = @()
    $cmd = Get-Command -Name 'node.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { $candidates += $cmd.Source }
    $candidates += (Join-Path $env:ProgramFiles 'nodejs\node.exe')
    foreach ($c in $candidates) {
        if (-not (Test-Path -LiteralPath $c)) { continue }
        $r = Invoke-NoderrNative -FilePath $c -ArgumentList @('--version')
        if ($r.ExitCode -ne 0) { continue }
        if (Test-NoderrNodeVersion -Version $r.Output.Trim() -Minimum $NoderrMinNodeMajor) {
            return @{ Path = $c; Version = $r.Output.Trim() }
        }
    }
    return $null
}

function Install-NoderrNodeJs {
    $node = Find-NoderrNode
    if ($node) {
        $script:NodeExe = $node.Path
        Write-NoderrOk "Node.js $($node.Version) ($($node.Path))"
        return
    }
    $manual = 'winget install -e --id OpenJS.NodeJS.LTS --scope machine, or the Windows installer (.msi) of the LTS release from https://nodejs.org'
    $winget = Get-Command -Name 'winget.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $winget) {
        if ($script:Opt.DryRun) {
            Write-Host "    [dry-run] would stop: Node.js $NoderrMinNodeMajor+ is missing and winget is not available (install it by hand: $manual)"
            $script:NodeExe = Join-Path $env:ProgramFiles 'nodejs\node.exe'
            return
        }
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "Node.js $NoderrMinNodeMajor or later is missing and winget is not available to install it." -Hints @("Install Node.js LTS by hand: $manual", 'Then run the installer again.')
    }
    $wingetArgs = @('install', '-e', '--id', 'OpenJS.NodeJS.LTS', '--scope', 'machine', '--silent', '--accept-package-agreements', '--accept-source-agreements', '--disable-interactivity')
    if ($script:Opt.DryRun) {
        Write-Host "    [dry-run] would run: winget $($wingetArgs -join ' ')"
        $script:NodeExe = Join-Path $env:ProgramFiles 'nodejs\node.exe'
        return
    }
    $r = Invoke-NoderrNative -FilePath $winget.Source -ArgumentList $wingetArgs
    if ($r.ExitCode -ne 0) {
        Write-Verbose $r.Output
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "Installing Node.js LTS with winget failed (exit code $($r.ExitCode))." -Hints @("Install it by hand: $manual", 'Then run the installer again.')
    }
    $node = Find-NoderrNode
    if (-not $node) {
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "winget finished but no node.exe $NoderrMinNodeMajor+ was found." -Hints @('Open a new Administrator PowerShell (to pick up PATH) and run the installer again.', "Or install Node.js LTS by hand: $manual")
    }
    $script:NodeExe = $node.Path
    Write-NoderrOk "Node.js $($node.Version) installed ($($node.Path))"
}

function Test-NoderrDocker {
    if ($script:Opt.NoDocker) {
        Write-NoderrOk 'Docker: not needed (-NoDocker)'
        return
    }
    $guide = @(
        'Windows 10/11: wsl --install (then reboot), then winget install -e --id Docker.DockerDesktop, start Docker Desktop once and enable "Start Docker Desktop when you sign in".',
        'Windows Server: Docker Engine on Windows Server runs Windows containers only; run the node on a Linux host, or install with -NoDocker.',
        'Then run the installer again (it continues where it stopped).'
    )
    $docker = Get-Command -Name 'docker.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $docker) {
        if ($script:Opt.DryRun) {
            Write-Host '    [dry-run] would stop: Docker is not installed (see the Docker guidance in the README)'
            return
        }
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message 'Docker is not installed.' -Hints $guide
    }
    $script:DockerExe = $docker.Source
    $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('version', '--format', '{{.Server.Os}}')
    if ($r.ExitCode -ne 0) {
        if ($script:Opt.DryRun) {
            Write-Host '    [dry-run] would stop: the Docker engine is not running'
            return
        }
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message 'Docker is installed but its engine does not answer (docker version).' -Hints @('Start Docker Desktop (or the docker service) and wait until it says it is running, then run the installer again.')
    }
    if ($r.Output.Trim() -ne 'linux') {
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "Docker runs $($r.Output.Trim()) containers; the node image is a Linux image." -Hints @('In Docker Desktop choose "Switch to Linux containers", then run the installer again.')
    }
    Write-NoderrOk 'Docker engine running (Linux containers)'
}

# ---------------------------------------------------------------------------------------------------
# Step 4: the node agent
# ---------------------------------------------------------------------------------------------------

# Creates a directory whose ACL grants SYSTEM and Administrators only (inheritance from the parent cut).
function Protect-NoderrDirectory {
    param([string]$Path)
    if (-not (Test-Path -LiteralPath $Path)) {
        New-Item -ItemType Directory -Path $Path -Force | Out-Null
    }
    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($sid in @($NoderrWellKnownSids.System, $NoderrWellKnownSids.Administrators)) {
        $id = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($id, 'FullControl', 'ContainerInherit,ObjectInherit', 'None', 'Allow')
        $acl.AddAccessRule($rule)
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
}

function Test-NoderrDirectoryAcl {
    param([string]$Path)
    $acl = Get-Acl -LiteralPath $Path
    $sids = @()
    foreach ($rule in $acl.Access) {
        $sids += $rule.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    return @(Get-NoderrUnexpectedSid -Sids $sids)
}

function Install-NoderrAgent {
    Invoke-NoderrAction -Description "create $($script:Opt.DataDir) for SYSTEM and Administrators only" -Action { Protect-NoderrDirectory -Path $script:Opt.DataDir } | Out-Null
    Invoke-NoderrAction -Description "create $($script:Opt.InstallDir)" -Action {
        if (-not (Test-Path -LiteralPath $script:Opt.InstallDir)) {
            New-Item -ItemType Directory -Path $script:Opt.InstallDir -Force | Out-Null
        }
    } | Out-Null
    if (-not $script:Opt.DryRun) { Write-NoderrOk "Data directory $($script:Opt.DataDir) (SYSTEM and Administrators only)" }

    $target = Get-NoderrAgentPath
    $url = "$($script:Opt.ApiUrl)/agent/noderr-agent.mjs"
    if ($script:Opt.DryRun) {
        Write-Host "    [dry-run] would download $url to $target and check its SHA-256 against x-content-sha256"
        Write-Host "    [dry-run] would run: npm.cmd install koffi@$NoderrKoffiVersion in $($script:Opt.InstallDir)"
        Write-Host '    [dry-run] would run: node noderr-agent.mjs tpm info --json (TPM over TBS)'
        return
    }
    $partial = "$target.download"
    $previousProgress = $ProgressPreference
    $ProgressPreference = 'SilentlyContinue'
    try {
        $resp = Invoke-WebRequest -Uri $url -UseBasicParsing -OutFile $partial -PassThru -TimeoutSec 300
    }
    catch {
        Stop-NoderrInstall -Code $NoderrExit.Api -Message "Downloading the node agent from $url failed: $($_.Exception.Message)" -Hints @('Check the network and run the installer again.', 'HTTP 404 means this API deployment has no agent bundle: tell your operator.')
    }
    finally {
        $ProgressPreference = $previousProgress
    }
    $expected = ([string]($resp.Headers['x-content-sha256'] | Select-Object -First 1)).Trim().ToLowerInvariant()
    $actual = (Get-FileHash -LiteralPath $partial -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($expected -notmatch '^[0-9a-f]{64}$') {
        Remove-Item -LiteralPath $partial -Force
        Stop-NoderrInstall -Code $NoderrExit.Api -Message 'The API sent the agent without its SHA-256 (x-content-sha256 header).' -Hints @('A proxy may strip headers: try another network. Otherwise tell your operator.')
    }
    if ($expected -ne $actual) {
        Remove-Item -LiteralPath $partial -Force
        Stop-NoderrInstall -Code $NoderrExit.Api -Message "The downloaded agent does not match its SHA-256 (expected $expected, got $actual)." -Hints @('The download was corrupted or altered in transit: run the installer again; if it persists, tell your operator.')
    }
    Move-Item -LiteralPath $partial -Destination $target -Force
    Write-NoderrOk "Agent downloaded and verified (SHA-256 $actual)"

    $npm = Join-Path (Split-Path -Parent $script:NodeExe) 'npm.cmd'
    $koffi = Join-Path $script:Opt.InstallDir "node_modules\koffi\package.json"
    $haveKoffi = $false
    if (Test-Path -LiteralPath $koffi) { $haveKoffi = ((Get-Content -LiteralPath $koffi -Raw | ConvertFrom-Json).version -eq $NoderrKoffiVersion) }
    if (-not $haveKoffi) {
        $r = Invoke-NoderrNative -FilePath $npm -ArgumentList @('install', "koffi@$NoderrKoffiVersion", '--prefix', $script:Opt.InstallDir, '--no-audit', '--no-fund', '--save-exact')
        if ($r.ExitCode -ne 0) {
            Write-Verbose $r.Errors
            Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "npm install koffi@$NoderrKoffiVersion failed (exit code $($r.ExitCode))." -Hints @("Check the network to registry.npmjs.org, or run by hand: cd `"$($script:Opt.InstallDir)`"; npm install koffi@$NoderrKoffiVersion", 'Then run the installer again.')
        }
    }
    Write-NoderrOk "koffi $NoderrKoffiVersion (the agent's bridge to tbs.dll)"

    $info = Invoke-NoderrAgent -Arguments @('tpm', 'info')
    if ($info.ExitCode -ne 0) { Stop-NoderrAgentFailure -Result $info -What 'tpm info' }
    $script:TpmInfo = $info.Json
    Write-NoderrOk "TPM answers over TBS: $($info.Json.manufacturer) firmware $($info.Json.firmwareVersion)"
}

# ---------------------------------------------------------------------------------------------------
# Step 5: registration
# ---------------------------------------------------------------------------------------------------

function Register-NoderrNode {
    param([hashtable]$State)
    if ($script:Opt.DryRun) {
        Write-Host "    [dry-run] would run: node noderr-agent.mjs register - --api-url $($script:Opt.ApiUrl) --state-dir $(Get-NoderrAgentStateDir) --json (install token on stdin)"
        return
    }
    # The agent replaces whatever sits at its two handles. Never let it evict a key it did not create:
    # before the first attempt the handles must be free; a failed attempt of ours may have left them.
    $persistent = @()
    if ($script:TpmInfo -and $script:TpmInfo.PSObject.Properties['persistentHandles']) { $persistent = @($script:TpmInfo.persistentHandles) }
    $taken = @($NoderrAgentHandles | Where-Object { $persistent -contains $_ })
    if ($taken.Count -gt 0 -and -not $State.ContainsKey('HandlesOurs')) {
        Stop-NoderrInstall -Code $NoderrExit.Hardware -Message "The TPM handles the agent uses are taken: $($taken -join ', ') (by software other than this installer)." -Hints @('Find out which program owns them; this installer never removes TPM keys it did not create.', 'If they are left over from an old noderr install, run with -Uninstall, then clear them with that old install tools, and run the installer again.')
    }
    $State.HandlesOurs = $true
    $State.Stage = 'none'
    Protect-NoderrDirectory -Path (Get-NoderrAgentStateDir)
    Save-NoderrState -State $State
    $script:RollbackArmed = $true

    $r = Invoke-NoderrAgent -Arguments @('register', '-', '--api-url', $script:Opt.ApiUrl) -StdinSecret $script:Opt.InstallToken
    if ($r.ExitCode -ne 0) { Stop-NoderrAgentFailure -Result $r -What 'register' }
    $script:RollbackArmed = $false
    $State.Stage = 'registered'
    $State.NodeId = [string]$r.Json.nodeId
    $State.Tier = [string]$r.Json.tier
    Save-NoderrState -State $State
    Write-NoderrOk "Registered node $($State.NodeId) (tier $($State.Tier), $(([string]$r.Json.ekKind).ToUpperInvariant()) EK, EK certificate: $($r.Json.ekCertificate))"
}

# Before registration, a failure removes what this run created. The TPM keys the agent may have
# persisted stay (Windows has no tool here to remove them); the next registration replaces them.
function Undo-NoderrInstall {
    $script:RollbackArmed = $false
    Write-Host '    Undoing this run (the token was not used up):'
    foreach ($p in @((Get-NoderrAgentStateDir), $script:Opt.InstallDir)) {
        if (Test-Path -LiteralPath $p) {
            Remove-Item -LiteralPath $p -Recurse -Force -ErrorAction SilentlyContinue
            Write-Host "      removed $p"
        }
    }
    Write-Host "      kept $(Get-NoderrStatePath) (it records that the agent's TPM handles $($NoderrAgentHandles -join ', ') are ours to reuse)"
}

# ---------------------------------------------------------------------------------------------------
# Step 6: credentials and the agent task
# ---------------------------------------------------------------------------------------------------

function Register-NoderrAgentTask {
    if ($script:Opt.DryRun) {
        Write-Host "    [dry-run] would check that only SYSTEM and Administrators can open $($script:Opt.DataDir)"
        Write-Host "    [dry-run] would register the scheduled task $NoderrTaskPath$NoderrTaskName (at startup, SYSTEM): node noderr-agent.mjs run"
        return
    }
    Protect-NoderrDirectory -Path $script:Opt.DataDir
    $bad = @(Test-NoderrDirectoryAcl -Path (Get-NoderrAgentStateDir))
    if ($bad.Count -gt 0) {
        Stop-NoderrInstall -Code $NoderrExit.Failure -Message "The agent state directory is readable by $($bad -join ', ')." -Hints @("Remove those entries (icacls `"$(Get-NoderrAgentStateDir)`"), then run the installer again.")
    }
    Write-NoderrOk "Credentials in $(Get-NoderrAgentStateDir)\credentials.json: only SYSTEM and Administrators can read them"
    $argLine = '"{0}" run --state-dir "{1}"' -f (Get-NoderrAgentPath), (Get-NoderrAgentStateDir)
    $action = New-ScheduledTaskAction -Execute $script:NodeExe -Argument $argLine -WorkingDirectory $script:Opt.InstallDir
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero) -MultipleInstances IgnoreNew
    Register-ScheduledTask -TaskName $NoderrTaskName -TaskPath $NoderrTaskPath -Action $action -Trigger $trigger -Principal $principal -Settings $settings -Description 'noderr node agent: TPM-signed heartbeats and re-attestation' -Force | Out-Null
    Write-NoderrOk "Scheduled task $NoderrTaskPath$NoderrTaskName (at startup, SYSTEM, restarts every minute on failure)"
}

# ---------------------------------------------------------------------------------------------------
# Step 7: Docker
# ---------------------------------------------------------------------------------------------------

function Install-NoderrContainer {
    param([hashtable]$State)
    if ($script:Opt.NoDocker) {
        Write-NoderrOk 'Skipped (-NoDocker): this node registers and stays attested without a container'
        return
    }
    $image = [string]$State.DockerImage
    if (-not $image) {
        if ($script:Opt.DryRun) {
            Write-Host "    [dry-run] would pull the tier's image named by install/config (needs the install token)"
            return
        }
        Stop-NoderrInstall -Code $NoderrExit.Api -Message "The API's install configuration names no Docker image for this tier." -Hints @('Run with -NoDocker, or ask your administrator to configure the tier image.')
    }
    if ($script:Opt.DryRun) {
        Write-Host "    [dry-run] would run: docker pull $image; docker network create $NoderrDockerNetwork; write node.env; docker run -d --restart unless-stopped --name $NoderrContainerName"
        return
    }
    $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('pull', $image)
    if ($r.ExitCode -ne 0) {
        Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "Pulling $image failed: $($r.Errors)" -Hints @("Check Docker and the network (docker pull $image), then run the installer again.")
    }
    Write-NoderrOk "Image $image pulled"
    $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('network', 'inspect', $NoderrDockerNetwork)
    if ($r.ExitCode -ne 0) {
        $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('network', 'create', $NoderrDockerNetwork)
        if ($r.ExitCode -ne 0) {
            Stop-NoderrInstall -Code $NoderrExit.Dependency -Message "Creating the Docker network $NoderrDockerNetwork failed: $($r.Errors)" -Hints @('Check that Docker runs (docker info).')
        }
    }
    Write-NoderrOk "Docker network $NoderrDockerNetwork"
    # Configuration only: the credentials stay in the agent's state directory.
    $envFile = Join-Path $script:Opt.DataDir 'node.env'
    $lines = @(
        "NODERR_NODE_ID=$($State.NodeId)",
        "NODERR_TIER=$($State.Tier)",
        "NODERR_API_URL=$($State.AuthApiUrl)",
        "NODERR_DEPLOYMENT_ENGINE_URL=$($State.DeploymentEngineUrl)",
        "NODERR_TELEMETRY_ENDPOINT=$($State.TelemetryEndpoint)"
    )
    [System.IO.File]::WriteAllText($envFile, (($lines -join "`n") + "`n"))
    Write-NoderrOk "Environment file $envFile (no secrets)"
    $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('rm', '-f', $NoderrContainerName)
    if ($r.ExitCode -ne 0) { Write-Verbose "no old container to remove ($($r.Errors))" }
    $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('run', '-d', '--restart', 'unless-stopped', '--name', $NoderrContainerName, '--network', $NoderrDockerNetwork, '--env-file', $envFile, $image)
    if ($r.ExitCode -ne 0) {
        Stop-NoderrInstall -Code $NoderrExit.Failure -Message "Starting the node container failed: $($r.Errors)" -Hints @("See: docker logs $NoderrContainerName", 'Then run the installer again: it continues where it stopped.')
    }
    Write-NoderrOk "Container $NoderrContainerName created (restart: unless-stopped)"
}

# ---------------------------------------------------------------------------------------------------
# Step 8: start and check
# ---------------------------------------------------------------------------------------------------

function Start-NoderrNode {
    if ($script:Opt.DryRun) {
        Write-Host '    [dry-run] would run: node noderr-agent.mjs heartbeat --json (challenge, TPM signature, verify, heartbeat)'
        Write-Host "    [dry-run] would start the scheduled task $NoderrTaskPath$NoderrTaskName and check that the container runs"
        return
    }
    $hb = Invoke-NoderrAgent -Arguments @('heartbeat')
    if ($hb.ExitCode -ne 0) { Stop-NoderrAgentFailure -Result $hb -What 'heartbeat' }
    Write-NoderrOk 'First heartbeat accepted (challenge signed by the TPM node key, session verified)'
    Start-ScheduledTask -TaskPath $NoderrTaskPath -TaskName $NoderrTaskName
    $state = ''
    for ($i = 0; $i -lt 15; $i++) {
        Start-Sleep -Seconds 1
        $state = [string](Get-ScheduledTask -TaskPath $NoderrTaskPath -TaskName $NoderrTaskName).State
        if ($state -eq 'Running') { break }
    }
    if ($state -ne 'Running') {
        Stop-NoderrInstall -Code $NoderrExit.Failure -Message "The agent task did not stay running (state: $state)." -Hints @("See: Get-ScheduledTaskInfo -TaskPath '$NoderrTaskPath' -TaskName $NoderrTaskName (LastTaskResult is the agent exit code: 10 revoked, 11 suspended)", "Run it by hand to see why: & '$($script:NodeExe)' '$(Get-NoderrAgentPath)' run --state-dir '$(Get-NoderrAgentStateDir)'")
    }
    Write-NoderrOk "Agent task running (heartbeats every 60 s)"
    if (-not $script:Opt.NoDocker) {
        $running = ''
        for ($i = 0; $i -lt 30; $i++) {
            $r = Invoke-NoderrNative -FilePath $script:DockerExe -ArgumentList @('inspect', '-f', '{{.State.Running}}', $NoderrContainerName)
            if ($r.ExitCode -eq 0) { $running = $r.Output.Trim() }
            if ($running -eq 'true') { break }
            Start-Sleep -Seconds 1
        }
        if ($running -ne 'true') {
            Stop-NoderrInstall -Code $NoderrExit.Failure -Message "The node container $NoderrContainerName is not running." -Hints @("See: docker logs $NoderrContainerName", 'Then run the installer again: it continues where it stopped.')
        }
        Write-NoderrOk "Container $NoderrContainerName running"
    }
}

function Write-NoderrSummary {
    param([hashtable]$State)
    $agent = "& '$($script:NodeExe)' '$(Get-NoderrAgentPath)'"
    Write-Host ''
    Write-Host 'noderr node installed.' -ForegroundColor White
    Write-Host "  Node id:       $($State.NodeId) (tier $($State.Tier))"
    Write-Host "  Status:        registered and attested (TPM keys $($NoderrAgentHandles -join ', '))"
    Write-Host "  Credentials:   $(Get-NoderrAgentStateDir) (SYSTEM and Administrators only)"
    Write-Host "  Agent:         scheduled task $NoderrTaskPath$NoderrTaskName; status: $agent status --state-dir '$(Get-NoderrAgentStateDir)'"
    if (-not $script:Opt.NoDocker) { Write-Host "  Node logs:     docker logs -f $NoderrContainerName" }
    Write-Host "  Installer log: $script:LogFile"
    Write-Host '  Uninstall:     .\install-noderr.ps1 -Uninstall'
    Write-Host "  Troubleshooting: $agent heartbeat --state-dir '$(Get-NoderrAgentStateDir)' says what is wrong."
    Write-Host '    A suspended node resumes when an administrator sets it active; a revoked one needs a new install.'
}

# ---------------------------------------------------------------------------------------------------
# Uninstall
# ---------------------------------------------------------------------------------------------------

function Uninstall-NoderrNode {
    Write-Host 'noderr uninstall' -ForegroundColor White
    $state = Read-NoderrState
    $removed = @()
    $kept = @()
    $installDir = $script:Opt.InstallDir
    if ($state.ContainsKey('InstallDir') -and $state.InstallDir) { $installDir = [string]$state.InstallDir }
    # The agent to run for `unregister` is the one this install put there.
    $script:Opt.InstallDir = $installDir
    if (-not (Test-Path -LiteralPath $script:Opt.DataDir) -and -not (Test-Path -LiteralPath $installDir)) {
        Write-NoderrOk "noderr is not installed here (no $($script:Opt.DataDir)): nothing to remove."
        return
    }
    $task = Get-ScheduledTask -TaskPath $NoderrTaskPath -TaskName $NoderrTaskName -ErrorAction SilentlyContinue
    if ($task) {
        Invoke-NoderrAction -Description "stop and remove the scheduled task $NoderrTaskPath$NoderrTaskName" -Action {
            Stop-ScheduledTask -TaskPath $NoderrTaskPath -TaskName $NoderrTaskName -ErrorAction SilentlyContinue
            Unregister-ScheduledTask -TaskPath $NoderrTaskPath -TaskName $NoderrTaskName -Confirm:$false
        } | Out-Null
        $removed += "scheduled task $NoderrTaskPath$NoderrTaskName"
    }
    $docker = Get-Command -Name 'docker.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($docker -and $state.ContainsKey('DockerImage') -and $state.DockerImage -and -not $state.NoDocker) {
        if ($script:Opt.DryRun) {
            Write-Host "    [dry-run] would remove the container $NoderrContainerName and the network $NoderrDockerNetwork"
        }
        else {
            $a = Invoke-NoderrNative -FilePath $docker.Source -ArgumentList @('rm', '-f', $NoderrContainerName)
            if ($a.ExitCode -ne 0) { Write-Verbose "docker rm: $($a.Errors)" }
            $b = Invoke-NoderrNative -FilePath $docker.Source -ArgumentList @('network', 'rm', $NoderrDockerNetwork)
            if ($b.ExitCode -ne 0) { Write-Verbose "docker network rm: $($b.Errors)" }
        }
        $removed += "container $NoderrContainerName and network $NoderrDockerNetwork"
        $kept += "the Docker image $($state.DockerImage) (remove it with: docker rmi $($state.DockerImage))"
    }
    # The agent removes the TPM keys it created (only those whose Names it recorded), before its files go.
    $agentRemovedKeys = $false
    if (-not $script:NodeExe) {
        $nodeCmd = Get-Command -Name 'node.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($nodeCmd) { $script:NodeExe = $nodeCmd.Source }
    }
    if ((Test-Path -LiteralPath (Get-NoderrAgentPath)) -and $script:NodeExe) {
        if ($script:Opt.DryRun) {
            Write-Host "    [dry-run] would run noderr-agent unregister (evicts the agent's TPM keys)"
        }
        else {
            $u = Invoke-NoderrAgent -Arguments @('unregister')
            if ($u.ExitCode -eq 0) {
                $agentRemovedKeys = $true
                $removed += "the agent's TPM keys at $($NoderrAgentHandles -join ', ')"
            }
            elseif ($u.ExitCode -eq 3) {
                Write-Verbose 'noderr-agent unregister: no registration recorded, no TPM keys to remove'
            }
            else {
                Write-NoderrWarning "noderr-agent unregister exited with $($u.ExitCode): the TPM keys were left in place."
            }
        }
    }
    foreach ($d in @($installDir, $script:Opt.DataDir)) {
        if (Test-Path -LiteralPath $d) {
            Invoke-NoderrAction -Description "remove $d" -Action { Remove-Item -LiteralPath $d -Recurse -Force } | Out-Null
            $removed += $d
        }
    }
    if ($agentRemovedKeys) { $kept += 'everything else in the TPM (never touched)' }
    else { $kept += "the agent's TPM keys at $($NoderrAgentHandles -join ', ') if any (noderr-agent unregister did not run) and everything else in the TPM" }
    $kept += 'Node.js and Docker'
    if ($state.ContainsKey('NodeId') -and $state.NodeId) {
        $kept += "the node's registration $($state.NodeId) at the API: revoke it in the dApp if this node is gone for good"
    }
    $prefix = 'Removed'
    if ($script:Opt.DryRun) { $prefix = 'Would remove' }
    Write-Host "$($prefix):"
    foreach ($x in $removed) { Write-Host "  - $x" }
    Write-Host 'Kept:'
    foreach ($x in $kept) { Write-Host "  - $x" }
}

# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------

function Confirm-NoderrInstall {
    if ($script:Opt.Yes -or $script:Opt.DryRun) { return }
    $interactive = [Environment]::UserInteractive -and -not [Console]::IsInputRedirected
    if (-not $interactive) {
        Stop-NoderrInstall -Code $NoderrExit.Usage -Message 'No console to ask for confirmation.' -Hints @('Run again with -Yes to proceed without asking.')
    }
    $answer = Read-Host "This will install what is missing, create keys in the TPM and register this host with $($script:Opt.ApiUrl). Continue? [y/N]"
    if ($answer -notmatch '^(y|yes)$') {
        Stop-NoderrInstall -Code $NoderrExit.Usage -Message 'Cancelled: nothing was changed.' -Hints @()
    }
}

function Start-NoderrLog {
    if ($script:Opt.DryRun) { return }
    $logs = Join-Path $script:Opt.DataDir 'logs'
    $kind = 'install'
    # -Uninstall removes the data directory: its log goes to the TEMP directory instead.
    if ($script:Opt.Uninstall) {
        $logs = $env:TEMP
        $kind = 'noderr-uninstall'
    }
    try {
        if (-not $script:Opt.Uninstall -and -not (Test-Path -LiteralPath $script:Opt.DataDir)) { Protect-NoderrDirectory -Path $script:Opt.DataDir }
        if (-not (Test-Path -LiteralPath $logs)) { New-Item -ItemType Directory -Path $logs -Force | Out-Null }
        $script:LogFile = Join-Path $logs ($kind + '-' + (Get-Date).ToString('yyyyMMdd-HHmmss') + '.log')
        Start-Transcript -LiteralPath $script:LogFile -Append | Out-Null
        Write-Verbose "noderr installer $NoderrVersion; api=$($script:Opt.ApiUrl) install=$($script:Opt.InstallDir) data=$($script:Opt.DataDir) no-docker=$($script:Opt.NoDocker)"
    }
    catch {
        $script:LogFile = ''
        Write-NoderrWarning "Cannot write the log ($($_.Exception.Message)); continuing without one."
    }
}

# Stops the transcript and removes the token from it, should the host line have recorded it.
function Stop-NoderrLog {
    if (-not $script:LogFile) { return }
    try { Stop-Transcript | Out-Null } catch { Write-Verbose 'no transcript was running' }
    if ($script:Opt.InstallToken -and (Test-Path -LiteralPath $script:LogFile)) {
        $text = [System.IO.File]::ReadAllText($script:LogFile)
        if ($text.Contains($script:Opt.InstallToken)) {
            [System.IO.File]::WriteAllText($script:LogFile, $text.Replace($script:Opt.InstallToken, 'ndr_install_<redacted>'))
        }
    }
}

function Invoke-NoderrInstall {
    $title = "noderr node installer $NoderrVersion"
    if ($script:Opt.DryRun) { $title += ' (dry run: nothing will be changed)' }
    Write-Host $title -ForegroundColor White
    $state = Read-NoderrState
    $script:InstallerState = $state
    if ($state.Stage -eq 'done') {
        Write-NoderrOk "noderr is already installed on this host: node $($state.NodeId) ($($script:Opt.DataDir)). Nothing to do."
        Write-NoderrInfo 'To reinstall, run with -Uninstall first.'
        return
    }
    if ($script:Opt.DryRun) {
        Write-Host 'Plan:'
        foreach ($s in (Get-NoderrStepPlan -NoDocker $script:Opt.NoDocker -Stage $state.Stage)) {
            $note = ''
            if ($s.Action -eq 'skip') { $note = " (skipped: $($s.Why))" }
            Write-Host "  [$($s.N)/$NoderrTotalSteps] $($s.Title)$note"
        }
    }
    if ($state.ContainsKey('NoDocker') -and $state.Stage -ne 'none' -and $state.NoDocker) { $script:Opt.NoDocker = $true }

    Write-NoderrStep -N 1 -Title 'Checking the environment'
    Test-NoderrEnvironment
    Test-NoderrApi
    $registered = ($state.Stage -ne 'none')
    if ($registered) {
        Write-NoderrOk "Continuing the unfinished installation of node $($state.NodeId) (no token needed)"
    }
    elseif (-not $script:Opt.InstallToken) {
        if ($script:Opt.DryRun) {
            Write-NoderrWarning 'No install token given: the real run needs one (from your welcome email or the dApp).'
        }
        else {
            Stop-NoderrInstall -Code $NoderrExit.Usage -Message 'No install token given.' -Hints @('Pass the token from your welcome email: .\install-noderr.ps1 -InstallToken <TOKEN>', 'Or use -InstallTokenFile FILE or $env:NODERR_INSTALL_TOKEN (neither lands in the shell history).')
        }
    }
    else {
        $config = Get-NoderrInstallConfig
        $state.Tier = [string]$config.tier
        $state.DockerImage = Get-NoderrImageReference -Registry ([string]$config.config.dockerRegistry) -Image ([string]$config.config.dockerImage)
        $state.AuthApiUrl = [string]$config.config.authApiUrl
        $state.DeploymentEngineUrl = [string]$config.config.deploymentEngineUrl
        $state.TelemetryEndpoint = [string]$config.config.telemetryEndpoint
        Write-NoderrOk "Install token accepted (tier $($state.Tier), not used up until activation)"
    }

    Write-NoderrStep -N 2 -Title 'Checking the hardware'
    Test-NoderrTpm
    Test-NoderrResource

    Confirm-NoderrInstall

    Write-NoderrStep -N 3 -Title 'Installing dependencies'
    Install-NoderrNodeJs
    Test-NoderrDocker

    Write-NoderrStep -N 4 -Title 'Installing the node agent'
    # Until the agent has registered (the token is not used up yet) a failure removes what this run made.
    if (-not $registered -and -not $script:Opt.DryRun) { $script:RollbackArmed = $true }
    Install-NoderrAgent
    $state.ApiUrl = $script:Opt.ApiUrl
    $state.InstallDir = $script:Opt.InstallDir
    $state.NoDocker = [bool]$script:Opt.NoDocker
    $state.NodeExe = $script:NodeExe

    Write-NoderrStep -N 5 -Title 'Registering the node (TPM attestation)'
    $plan = Get-NoderrStepPlan -NoDocker $script:Opt.NoDocker -Stage $state.Stage
    if ($plan[4].Action -eq 'skip') {
        $st = Invoke-NoderrAgent -Arguments @('status')
        if ($st.ExitCode -ne 0) { Stop-NoderrAgentFailure -Result $st -What 'status' }
        Write-NoderrOk "Already registered: node $($st.Json.nodeId) (tier $($st.Json.tier))"
    }
    else {
        Register-NoderrNode -State $state
    }

    Write-NoderrStep -N 6 -Title 'Protecting credentials and installing the agent task'
    Register-NoderrAgentTask

    Write-NoderrStep -N 7 -Title 'Setting up Docker'
    Install-NoderrContainer -State $state
    if (-not $script:Opt.DryRun) {
        $state.Stage = 'services'
        Save-NoderrState -State $state
    }

    Write-NoderrStep -N 8 -Title 'Starting and checking'
    Start-NoderrNode
    Write-Progress -Activity 'noderr node installer' -Completed
    if ($script:Opt.DryRun) {
        Write-Host ''
        Write-Host 'Dry run complete: nothing was changed.'
        return
    }
    $state.Stage = 'done'
    Save-NoderrState -State $state
    Write-NoderrSummary -State $state
}

function Invoke-NoderrMain {
    param([hashtable]$Bound)
    $environment = @{}
    foreach ($name in @('NODERR_API_URL', 'NODERR_INSTALL_DIR', 'NODERR_DATA_DIR', 'NODERR_NO_DOCKER', 'NODERR_DRY_RUN', 'NODERR_YES', 'NODERR_UNINSTALL', 'NODERR_MIN_CPU', 'NODERR_MIN_RAM_GB', 'NODERR_MIN_DISK_GB', 'NODERR_INSTALL_TOKEN')) {
        $environment[$name] = [Environment]::GetEnvironmentVariable($name)
    }
    # The token may come from the environment: keep it in this session only, so that no program this
    # script starts inherits it.
    [Environment]::SetEnvironmentVariable('NODERR_INSTALL_TOKEN', $null, 'Process')
    $tokenFile = ''
    if ($Bound.ContainsKey('InstallTokenFile') -and $Bound['InstallTokenFile']) {
        if (-not (Test-Path -LiteralPath $Bound['InstallTokenFile'] -PathType Leaf)) { Stop-NoderrUsage -Message "Cannot read the token file $($Bound['InstallTokenFile'])." }
        $tokenFile = [System.IO.File]::ReadAllText((Resolve-Path -LiteralPath $Bound['InstallTokenFile']).ProviderPath)
    }
    foreach ($m in @('MinCpu', 'MinRamGB', 'MinDiskGB')) {
        if ($Bound.ContainsKey($m) -and $Bound[$m] -lt 0) { Stop-NoderrUsage -Message "-$m must be a whole number (got: $($Bound[$m]))" }
    }
    $folders = @{ ProgramFiles = $env:ProgramFiles; ProgramData = $env:ProgramData; Windows = $env:windir; SystemDrive = $env:SystemDrive }
    $resolved = Resolve-NoderrOption -Bound $Bound -Environment $environment -TokenFileContent $tokenFile -DefaultApiUrl $NoderrDefaultApiUrl -Folders $folders
    if (-not $resolved.Ok) { Stop-NoderrUsage -Message $resolved.Error }
    $script:Opt = $resolved.Options
    if ($Bound.ContainsKey('InstallToken') -and $script:Opt.InstallToken -and [Environment]::CommandLine.Contains($script:Opt.InstallToken)) {
        Write-NoderrWarning 'The install token is on this PowerShell process command line, visible to other users of this machine while it runs; prefer -InstallTokenFile or $env:NODERR_INSTALL_TOKEN.'
    }
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    $script:NodeExe = ''
    $script:DockerExe = ''
    $script:TpmInfo = $null
    Start-NoderrLog
    try {
        if ($script:Opt.Uninstall) {
            Uninstall-NoderrNode
        }
        else {
            Invoke-NoderrInstall
        }
    }
    catch {
        $where = $_.InvocationInfo.ScriptLineNumber
        Write-Host ('  ' + [char]0x2717 + " Unexpected failure at line $($where): $($_.Exception.Message)") -ForegroundColor Red
        if ($script:LogFile) { Write-Host "    Log: $script:LogFile" }
        if ($script:RollbackArmed) { Undo-NoderrInstall }
        Stop-NoderrLog
        exit $NoderrExit.Failure
    }
    Stop-NoderrLog
    exit $NoderrExit.Ok
}

Invoke-NoderrMain -Bound $PSBoundParameters

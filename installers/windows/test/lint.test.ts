import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { APPROVED_VERB_SET } from '../lint/approved-verbs.ts';
import { lintPowerShell, RULES, type RuleId } from '../lint/ps-lint.ts';
import { grammarWasmPath, parsePowerShell } from '../lint/ps-parse.ts';

const here = dirname(fileURLToPath(import.meta.url));
const script = readFileSync(join(here, '..', 'install.ps1'), 'utf8');

/** A header that satisfies script-header and default-api-url-line, so snippets trip one rule only. */
const HEADER = `#Requires -RunAsAdministrator
#Requires -Version 5.1
[CmdletBinding()]
param([string]$InstallToken)
$ErrorActionPreference = 'Stop'
$NoderrDefaultApiUrl = 'https://api.noderr.xyz'  # replaced when served by the API
`;

async function rulesOf(body: string, header = HEADER): Promise<RuleId[]> {
  return [...new Set((await lintPowerShell(header + body)).map((f) => f.rule))].sort();
}

describe('tree-sitter-powershell', () => {
  it('ships its wasm in the package and loads it offline with web-tree-sitter', async () => {
    const wasm = grammarWasmPath();
    expect(wasm).toMatch(/node_modules[\\/]tree-sitter-powershell[\\/]tree-sitter-powershell\.wasm$/);
    expect(existsSync(wasm)).toBe(true);
    const root = await parsePowerShell('Get-Date | Out-Null\n');
    expect(root.type).toBe('program');
    expect(root.hasError).toBe(false);
  });

  it('parses install.ps1 without a single ERROR or MISSING node', async () => {
    const root = await parsePowerShell(script);
    expect(root.hasError).toBe(false);
    expect((await lintPowerShell(script)).filter((f) => f.rule === 'parse-error')).toEqual([]);
  });
});

describe('install.ps1', () => {
  it('has no lint finding', async () => {
    expect(await lintPowerShell(script)).toEqual([]);
  });

  it('the clean header alone has no finding', async () => {
    expect(await rulesOf('')).toEqual([]);
  });
});

describe('each lint rule reports its violation', () => {
  const cases: Array<[RuleId, string, string?]> = [
    ['parse-error', 'if ($x {\n'],
    ['ascii-only', "Write-Host 'done \u2713'\n"],
    ['script-header', '', HEADER.replace('#Requires -RunAsAdministrator\n', '')],
    ['script-header', '', HEADER.replace('#Requires -Version 5.1\n', '#Requires -Version 7.0\n')],
    ['script-header', '', HEADER.replace('[CmdletBinding()]\n', '')],
    ['script-header', '', HEADER.replace("$ErrorActionPreference = 'Stop'\n", '')],
    ['default-api-url-line', '', HEADER.replace('  # replaced when served by the API', '')],
    ['default-api-url-line', "$NoderrDefaultApiUrl = 'https://other.example'\n"],
    ['approved-verb', 'function Fetch-Thing {\n    1\n}\n'],
    ['approved-verb', 'function DoStuff {\n    1\n}\n'],
    ['approved-verb', 'function get-Thing {\n    1\n}\n'],
    ['no-invoke-expression', 'Invoke-Expression $code\n'],
    ['no-invoke-expression', 'iex $code\n'],
    ['no-invoke-expression', '& ([scriptblock]::Create($code))\n'],
    ['ps51-syntax', 'Get-Thing && Get-Other\n'],
    ['secret-on-command-line', '& $node agent.mjs register $InstallToken\n$ok = $LASTEXITCODE\n'],
    [
      'secret-on-command-line',
      'node.exe agent.mjs register "--token=$($script:Opt.InstallToken)"\n$ok = $LASTEXITCODE\n',
    ],
    [
      'secret-on-command-line',
      "$argv = @('register', $InstallToken)\n$r = Invoke-NoderrNative -FilePath node.exe -ArgumentList $argv\nif ($r.ExitCode -ne 0) { exit 1 }\n",
    ],
    ['secret-on-command-line', "Start-Process -FilePath node.exe -ArgumentList 'register', $apiKey\n"],
    [
      'secret-on-command-line',
      '$a = New-ScheduledTaskAction -Execute node.exe -Argument "run $sessionJwt"\n',
    ],
    ['secret-in-output', 'Write-Host "token: $InstallToken"\n'],
    ['secret-in-output', 'Write-Verbose $script:Opt.InstallToken\n'],
    ['secret-in-output', 'Add-Content -Path log.txt -Value $apiKey\n'],
    ['native-exit-code', "& $node --version\nWrite-Host 'done'\n"],
    ['native-exit-code', 'docker pull image\n'],
    ['native-exit-code', "icacls.exe C:\\x /grant 'SYSTEM:F'\n"],
    ['native-result-checked', "Invoke-NoderrNative -FilePath docker.exe -ArgumentList @('ps')\n"],
    [
      'native-result-checked',
      "$r = Invoke-NoderrNative -FilePath docker.exe -ArgumentList @('ps')\nWrite-Host 'ok'\n",
    ],
    ['native-result-checked', "$r = Invoke-NoderrAgent -Arguments @('status')\nif ($other.ExitCode) { 1 }\n"],
    ['web-call-in-try', 'Invoke-WebRequest -UseBasicParsing -Uri $u\n'],
    ['web-call-in-try', 'try { 1 } catch { Invoke-RestMethod -Uri $u }\n'],
  ];

  it.each(cases)('%s: %j', async (rule, body, header) => {
    expect(await rulesOf(body, header)).toEqual([rule]);
  });

  it('covers every rule', () => {
    expect([...new Set(cases.map(([r]) => r))].sort()).toEqual(Object.keys(RULES).sort());
  });
});

describe('compliant code passes', () => {
  const ok: Array<[string, string]> = [
    // A bare `-` argument is valid PowerShell but trips the grammar: the script quotes it ('-').
    [
      'the token piped to stdin',
      "$InstallToken | & $node agent.mjs register '-'\nif ($LASTEXITCODE -ne 0) { exit 5 }\n",
    ],
    [
      'the token as InputText of the runner',
      "$r = Invoke-NoderrNative -FilePath node.exe -ArgumentList @('register', '-') -InputText $InstallToken\nif ($r.ExitCode -ne 0) { exit 5 }\n",
    ],
    [
      'a token *file* path on a command line',
      '& $node agent.mjs --token-file $InstallTokenFile\n$rc = $LASTEXITCODE\n',
    ],
    [
      '$LASTEXITCODE after a block that ends with the call',
      'if ($x) {\n    & $node -v\n}\n$code = $LASTEXITCODE\n',
    ],
    [
      'a [scriptblock] parameter called with &',
      'function Invoke-Thing {\n    param([scriptblock]$Action)\n    & $Action\n}\n',
    ],
    [
      'web call in try',
      'try {\n    $r = Invoke-WebRequest -UseBasicParsing -Uri $u\n}\ncatch {\n    exit 4\n}\n',
    ],
    ['approved verbs', 'function ConvertTo-Thing {\n    1\n}\nfunction Unregister-Thing {\n    1\n}\n'],
    [
      'a response of a call made with the token is not a secret',
      '$a = Get-Config -Body @{ t = $InstallToken }\nWrite-Host $a.tier\n',
    ],
  ];
  it.each(ok)('%s', async (_name, body) => {
    expect(await lintPowerShell(HEADER + body)).toEqual([]);
  });
});

describe('approved verbs', () => {
  it('embeds the Get-Verb list', () => {
    expect(APPROVED_VERB_SET.size).toBe(100);
    for (const v of ['Get', 'ConvertTo', 'Register', 'Protect', 'Use', 'Build', 'Deploy']) {
      expect(APPROVED_VERB_SET.get(v.toLowerCase())).toBe(v);
    }
    for (const v of ['Fetch', 'Create', 'Delete', 'Make', 'Check']) {
      expect(APPROVED_VERB_SET.has(v.toLowerCase())).toBe(false);
    }
  });
});

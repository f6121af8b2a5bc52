import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import { AGENT_ERROR_CODES } from '../../../clients/node/src/errors.ts';
import { ERROR_STATUS } from '../../../shared/api/error-codes.ts';
import { TPM_REASONS } from '../../../shared/tpm2/errors.ts';
import {
  descendants,
  functionNamed,
  type PsValue,
  parsePowerShell,
  scriptAssignment,
  stringValue,
  unwrap,
} from '../lint/ps-parse.ts';

/**
 * The installer's Windows-independent decisions, read from install.ps1's parse tree and compared with
 * the API's and the agent's codes and with the README's tables, so none of them can drift.
 */

const here = dirname(fileURLToPath(import.meta.url));
const script = readFileSync(join(here, '..', 'install.ps1'), 'utf8');
const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');

interface Entry {
  Exit: number;
  Message: string;
  Hint: string;
}

let root: Node;
beforeAll(async () => {
  root = await parsePowerShell(script);
});

function table(name: string): Record<string, Entry> {
  const { value } = scriptAssignment(root, `$${name}`);
  expect(value, `$${name} must be a literal hashtable`).toBeTypeOf('object');
  return value as unknown as Record<string, Entry>;
}

/** Rows (cells, trimmed, backticks removed) of the README table between `<!-- id:start -->` and `:end`. */
function readmeRows(id: string): string[][] {
  const m = readme.match(new RegExp(`<!-- ${id}:start -->([\\s\\S]*?)<!-- ${id}:end -->`));
  expect(m, `README section ${id}`).toBeTruthy();
  return (m?.[1] ?? '')
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(2)
    .map((l) =>
      l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim().replaceAll('`', '')),
    );
}

const EXIT_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 8]);

function expectWellFormed(t: Record<string, Entry>): void {
  for (const [code, e] of Object.entries(t)) {
    expect(EXIT_CODES.has(e.Exit), `${code}: exit ${e.Exit}`).toBe(true);
    expect(e.Message, code).toMatch(/^[A-Z].*\.$/);
    expect(e.Hint, code).toMatch(/^\S.*\S$/);
    expect(`${e.Message} ${e.Hint}`, `${code}: no pipes (README table)`).not.toContain('|');
  }
}

function expectReadmeMatches(id: string, t: Record<string, Entry>): void {
  const rows = readmeRows(id);
  expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(t).sort());
  for (const [code, exit, message, hint] of rows) {
    const e = t[code ?? ''];
    expect({ code, exit: Number(exit), message, hint }).toEqual({
      code,
      exit: e?.Exit,
      message: e?.Message,
      hint: e?.Hint,
    });
  }
}

/**
 * API codes the installer cannot meet: the endpoints that return them (administrator hardware keys and
 * the approval quorum) are never called by the installer or the agent. A new API code fails the test
 * below until it is mapped in install.ps1 or consciously added here (and to the README).
 */
const NOT_FOR_INSTALLER = [
  'WEBAUTHN_REGISTRATION_FAILED',
  'ACTION_NOT_FOUND',
  'ACTION_EXPIRED',
  'ACTION_NOT_PENDING',
  'APPROVAL_INVALID',
  'AUDIT_LOG_UNAVAILABLE',
];

describe('API error codes → messages', () => {
  it('maps every installer-relevant code of shared/api/error-codes.ts, and no unknown code', () => {
    const mapped = Object.keys(table('NoderrApiErrors')).sort();
    const relevant = Object.keys(ERROR_STATUS)
      .filter((c) => !NOT_FOR_INSTALLER.includes(c))
      .sort();
    expect(mapped).toEqual(relevant);
    for (const c of NOT_FOR_INSTALLER) expect(Object.keys(ERROR_STATUS)).toContain(c);
  });

  it('the README lists the codes left out', () => {
    const m = readme.match(
      /<!-- api-errors-not-mapped:start -->([\s\S]*?)<!-- api-errors-not-mapped:end -->/,
    );
    const listed = [...(m?.[1] ?? '').matchAll(/`([A-Z_]+)`/g)].map((x) => x[1]).sort();
    expect(listed).toEqual([...NOT_FOR_INSTALLER].sort());
  });

  it('each entry has an installer exit code, a message and a next step', () => {
    expectWellFormed(table('NoderrApiErrors'));
  });

  it('the token codes exit 7, as on Linux', () => {
    const t = table('NoderrApiErrors');
    for (const c of [
      'INSTALL_TOKEN_INVALID',
      'INSTALL_TOKEN_USED',
      'INSTALL_TOKEN_EXPIRED',
      'INSTALL_TOKEN_REVOKED',
    ])
      expect(t[c]?.Exit).toBe(7);
    for (const c of ['ATTESTATION_INVALID', 'EK_ALREADY_REGISTERED']) expect(t[c]?.Exit).toBe(8);
    expect(t.RATE_LIMITED?.Exit).toBe(4);
  });

  it('the README table is the script table', () => {
    expectReadmeMatches('api-errors', table('NoderrApiErrors'));
  });

  it('attestation reasons are API verifier reasons, and in the README', () => {
    const t = table('NoderrAttestationReasons');
    for (const r of Object.keys(t)) expect(TPM_REASONS as readonly string[]).toContain(r);
    expectWellFormed(t);
    expectReadmeMatches('attestation-reasons', t);
  });
});

describe('agent error codes → messages', () => {
  it('maps exactly the codes of clients/node/src/errors.ts plus INTERNAL', () => {
    expect(Object.keys(table('NoderrAgentErrors')).sort()).toEqual([...AGENT_ERROR_CODES, 'INTERNAL'].sort());
  });

  it('each entry is well formed and the README table is the script table', () => {
    expectWellFormed(table('NoderrAgentErrors'));
    expectReadmeMatches('agent-errors', table('NoderrAgentErrors'));
  });

  it('TPM failures exit 5 (hardware), as on Linux', () => {
    const t = table('NoderrAgentErrors');
    for (const c of AGENT_ERROR_CODES.filter((c) => c.startsWith('TPM_') && c !== 'TPM_SPEC_INVALID'))
      expect(t[c]?.Exit, c).toBe(5);
    expect(t.TBS_FAILED?.Exit).toBe(5);
  });
});

describe('the step plan', () => {
  type Step = { N: number; Title: string; Skip: string; DoneAt: string; Does: string };
  const steps = (): Step[] => scriptAssignment(root, '$NoderrSteps').value as unknown as Step[];

  it('has steps 1..8 and only known skip rules', () => {
    const s = steps();
    expect(s.map((x) => x.N)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const total = scriptAssignment(root, '$NoderrTotalSteps').value;
    expect(total).toBe(s.length);
    for (const x of s) {
      expect(['', 'NoDocker']).toContain(x.Skip);
      expect(['', 'registered', 'services', 'done']).toContain(x.DoneAt);
    }
  });

  it('is what the install flow announces (Write-NoderrStep calls, in order)', () => {
    const flow = functionNamed(root, 'Invoke-NoderrInstall');
    expect(flow).toBeTruthy();
    const calls = descendants(flow as Node, 'command')
      .filter((c) => c.namedChildren[0]?.text === 'Write-NoderrStep')
      .map((c) => {
        const els = (c.namedChildren.find((x) => x.type === 'command_elements')?.namedChildren ?? []).filter(
          (e) => e.type !== 'command_argument_sep',
        );
        const n = els.findIndex((e) => e.text === '-N');
        const t = els.findIndex((e) => e.text === '-Title');
        return { N: Number(els[n + 1]?.text), Title: stringValue(unwrap(els[t + 1] as Node)) };
      });
    expect(calls).toEqual(steps().map((s) => ({ N: s.N, Title: s.Title })));
  });

  it('the README table is the script table', () => {
    const rows = readmeRows('steps');
    expect(rows.map(([n, title, does, skipped]) => ({ n: Number(n), title, does, skipped }))).toEqual(
      steps().map((s) => ({
        n: s.N,
        title: s.Title,
        does: s.Does,
        skipped:
          [s.Skip ? `with -${s.Skip}` : '', s.DoneAt ? `from stage ${s.DoneAt}` : '']
            .filter(Boolean)
            .join('; ') || 'never',
      })),
    );
  });
});

describe('argument handling', () => {
  function scriptParameters(): string[] {
    const block = root.namedChildren.find((c) => c.type === 'param_block');
    return descendants(block as Node, 'script_parameter').map(
      (p) => p.namedChildren.find((c) => c.type === 'variable')?.text.slice(1) ?? '',
    );
  }

  it('the README documents exactly the script parameters', () => {
    const documented = new Set(
      [...readme.matchAll(/^\| `(-[A-Za-z]+)[^|]*\|/gm)].flatMap((m) =>
        [...(m[0].matchAll(/`-([A-Za-z]+)/g) ?? [])].map((x) => x[1]),
      ),
    );
    documented.delete('Verbose'); // a common parameter from [CmdletBinding()]
    expect([...documented].sort()).toEqual(scriptParameters().sort());
  });

  it('the token check is the agent format, case-sensitive', () => {
    const fn = functionNamed(root, 'Test-NoderrInstallToken');
    const op = descendants(fn as Node, 'comparison_operator').map((o) => o.text);
    expect(op).toEqual(['-cmatch']);
    const pattern = stringValue(descendants(fn as Node, 'string_literal')[0] as Node) ?? '';
    expect(pattern).toBe('^ndr_install_[0-9a-f]{64}$');
    const re = new RegExp(pattern);
    const hex = 'ab'.repeat(32);
    expect(re.test(`ndr_install_${hex}`)).toBe(true);
    expect(re.test(`ndr_install_${hex.toUpperCase()}`)).toBe(false);
    expect(re.test(`ndr_install_${hex}0`)).toBe(false);
    expect(re.test(` ndr_install_${hex}`)).toBe(false);
    // The agent's own check (clients/node/src/cli/main.ts) is the same pattern.
    const agentCli = readFileSync(join(here, '../../../clients/node/src/cli/main.ts'), 'utf8');
    expect(agentCli).toContain('/^ndr_install_[0-9a-f]{64}$/');
  });

  it('defaults of the hardware minimums are the Linux ones (4 / 8 / 100)', () => {
    const fn = functionNamed(root, 'Resolve-NoderrOption') as Node;
    const minimums = descendants(fn, 'assignment_expression').find((a) => a.text.startsWith('$minimums'));
    const value = unwrap(minimums?.namedChildren.at(-1) as Node);
    const rows = descendants(value, 'array_expression')
      .slice(1)
      .map((a) => a.text);
    expect(rows).toEqual([
      "@('MinCpu', 'NODERR_MIN_CPU', 4)",
      "@('MinRamGB', 'NODERR_MIN_RAM_GB', 8)",
      "@('MinDiskGB', 'NODERR_MIN_DISK_GB', 100)",
    ]);
  });

  it('keeps the one-line default API URL the Worker rewrites', () => {
    const lines = script.split('\n').filter((l) => l.includes('$NoderrDefaultApiUrl ='));
    expect(lines).toEqual([
      "$NoderrDefaultApiUrl = 'https://api.noderr.xyz'  # replaced when served by the API",
    ]);
    const value: PsValue | undefined = scriptAssignment(root, '$NoderrDefaultApiUrl').value;
    expect(value).toBe('https://api.noderr.xyz');
  });
});

import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { main } from '../src/cli/main.ts';
import type { CliIo } from '../src/cli/output.ts';

/** The CLI in-process (main()) against a real swtpm, and the bundle on plain Node with no node_modules. */

const run = promisify(execFile);

function io(env: Record<string, string> = {}, stdin = '') {
  let stdout = '';
  let stderr = '';
  const cli: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readStdin: async () => stdin,
    env,
  };
  return {
    cli,
    out: () => stdout,
    err: () => stderr,
    json: () => JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>,
  };
}

let sw: Swtpm;
let dir: string;
beforeAll(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-cli-'));
}, 60_000);
afterAll(async () => {
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('noderr-agent tpm info', () => {
  it('--json: manufacturer, firmware, banks and both EK certificates', async () => {
    const t = io();
    expect(await main(['tpm', 'info', '--tpm', sw.tcti, '--json'], t.cli)).toBe(0);
    expect(t.json()).toMatchObject({
      ok: true,
      manufacturer: 'IBM',
      family: '2.0',
      pcrBanks: [{ bank: 'sha1' }, { bank: 'sha256' }],
      ekCertificates: { rsa: { nvIndex: '0x1c00002' }, ecc: { nvIndex: '0x1c0000a' } },
    });
  });

  it('human output, TPM from NODERR_TPM', async () => {
    const t = io({ NODERR_TPM: sw.tcti });
    expect(await main(['tpm', 'info'], t.cli)).toBe(0);
    expect(t.out()).toMatch(/Manufacturer {2}IBM/);
    expect(t.out()).toMatch(/EK certs {6}RSA \d+ bytes at 0x1c00002, ECC \d+ bytes at 0x1c0000a/);
  });

  it('an unreachable TPM exits 4 with TPM_UNAVAILABLE', async () => {
    const t = io();
    expect(await main(['tpm', 'info', '--tpm', 'swtpm:host=127.0.0.1,port=1', '--json'], t.cli)).toBe(4);
    expect(t.json()).toMatchObject({ ok: false, error: { code: 'TPM_UNAVAILABLE' }, exitCode: 4 });
  });
});

describe('wrong calls exit 2 (USAGE, TPM_SPEC_INVALID) before touching the TPM or the API', () => {
  const cases: [string, string[], Record<string, string>, string][] = [
    ['unknown command', ['frobnicate'], {}, 'USAGE'],
    ['unknown option', ['status', '--frob'], {}, 'USAGE'],
    ['bad --tpm', ['tpm', 'info', '--tpm', 'mssim:port=1'], {}, 'TPM_SPEC_INVALID'],
    [
      'register without --api-url',
      ['register', '-'],
      { NODERR_INSTALL_TOKEN: `ndr_install_${'a'.repeat(64)}` },
      'USAGE',
    ],
    [
      'register with a malformed token',
      ['register', '--api-url', 'http://x'],
      { NODERR_INSTALL_TOKEN: 'nope' },
      'USAGE',
    ],
    ['register without a token', ['register', '--api-url', 'http://x'], {}, 'USAGE'],
    ['register --ek dsa', ['register', '--api-url', 'http://x', '--ek', 'dsa'], {}, 'USAGE'],
  ];
  for (const [name, argv, env, expected] of cases) {
    it(`${name}: ${expected}`, async () => {
      const t = io(env);
      expect(await main([...argv, '--json'], t.cli)).toBe(2);
      expect(t.json()).toMatchObject({ ok: false, error: { code: expected }, exitCode: 2 });
    });
  }

  it('reads the install token from stdin with -, and warns when it is on the command line', async () => {
    const token = `ndr_install_${'b'.repeat(64)}`;
    const viaStdin = io({}, `${token}\n`);
    // The API URL is unreachable on purpose: the token was accepted if the failure is API_UNREACHABLE.
    const args = [
      '--api-url',
      'http://127.0.0.1:1',
      '--state-dir',
      join(dir, 's1'),
      '--tpm',
      sw.tcti,
      '--json',
    ];
    expect(await main(['register', '-', ...args], viaStdin.cli)).toBe(6);
    expect(viaStdin.json()).toMatchObject({ error: { code: 'API_UNREACHABLE' } });
    expect(viaStdin.err()).toBe('');
    const viaArgv = io();
    expect(await main(['register', token, ...args], viaArgv.cli)).toBe(6);
    expect(viaArgv.err()).toMatch(/visible to other users/);
    expect(viaArgv.out()).not.toContain(token);
  });
});

describe('not registered', () => {
  for (const cmd of ['status', 'heartbeat', 'run']) {
    it(`${cmd}: exit 3 NOT_REGISTERED`, async () => {
      const t = io();
      expect(await main([cmd, '--state-dir', join(dir, 'none'), '--json'], t.cli)).toBe(3);
      expect(t.json()).toMatchObject({ ok: false, error: { code: 'NOT_REGISTERED' } });
    });
  }
});

describe('npm run build:agent', () => {
  it('bundles one ESM file that runs on plain Node with no node_modules, with its SHA-256 beside it', async () => {
    const { stdout } = await run(process.execPath, [join(import.meta.dirname, '..', 'build-agent.mjs')]);
    const built = JSON.parse(stdout) as { outfile: string; sha256: string; bytes: number };
    expect(readFileSync(`${built.outfile}.sha256`, 'utf8')).toBe(`${built.sha256}  noderr-agent.mjs\n`);
    const alone = join(dir, 'alone');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(alone);
    copyFileSync(built.outfile, join(alone, 'noderr-agent.mjs'));
    const r = await run(
      process.execPath,
      [join(alone, 'noderr-agent.mjs'), 'tpm', 'info', '--json', '--tpm', sw.tcti],
      {
        cwd: alone,
        env: { PATH: process.env.PATH ?? '', NODE_PATH: '' },
      },
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, manufacturer: 'IBM' });
  }, 60_000);
});

import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
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

describe('key handles held by another program (register refuses: exit 7 HANDLE_OCCUPIED)', () => {
  it('checks before the API is asked anything; --force gets past the check, and nothing is evicted before the API answered', async () => {
    // Another program's key at the agent's AK handle, made by an independent TPM stack (tpm2-tools).
    await tpm2(sw.tcti, 'tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'other.ctx'], { cwd: dir });
    await tpm2(sw.tcti, 'tpm2_evictcontrol', ['-C', 'o', '-c', 'other.ctx', '0x81008001'], { cwd: dir });
    const nameOfOther = async () => {
      await tpm2(sw.tcti, 'tpm2_readpublic', ['-c', '0x81008001', '-n', 'other.name'], { cwd: dir });
      return readFileSync(join(dir, 'other.name')).toString('hex');
    };
    try {
      const name = await nameOfOther();
      const env = { NODERR_INSTALL_TOKEN: `ndr_install_${'c'.repeat(64)}` };
      // The API URL is unreachable on purpose: exit 7 (not 6) shows the TPM was checked first.
      const args = ['--api-url', 'http://127.0.0.1:1', '--state-dir', join(dir, 's-occ'), '--tpm', sw.tcti];
      const t = io(env);
      expect(await main(['register', ...args, '--json'], t.cli)).toBe(7);
      expect(t.json()).toEqual({
        ok: false,
        error: {
          code: 'HANDLE_OCCUPIED',
          message: expect.stringMatching(/0x81008001 holds an object this agent did not create.*--force/),
          details: { handles: [{ handle: '0x81008001', name }] },
        },
        exitCode: 7,
      });
      const human = io(env);
      expect(await main(['register', ...args], human.cli)).toBe(7);
      expect(human.err()).toMatch(/^noderr-agent: HANDLE_OCCUPIED: persistent handle 0x81008001/);

      const forced = io(env);
      expect(await main(['register', ...args, '--force', '--json'], forced.cli)).toBe(6);
      expect(forced.json()).toMatchObject({ error: { code: 'API_UNREACHABLE' } });
      expect(await nameOfOther()).toBe(name);
    } finally {
      await tpm2(sw.tcti, 'tpm2_evictcontrol', ['-C', 'o', '-c', '0x81008001'], { cwd: dir });
    }
  });

  it('unregister with nothing to remove: exit 3 NOT_REGISTERED, details name the directory', async () => {
    const t = io();
    const none = join(dir, 'none');
    expect(await main(['unregister', '--state-dir', none, '--tpm', sw.tcti, '--json'], t.cli)).toBe(3);
    expect(t.json()).toMatchObject({
      ok: false,
      error: { code: 'NOT_REGISTERED', details: { stateDir: none } },
      exitCode: 3,
    });
  });
});

describe('unregister', () => {
  it('reports recorded keys that are gone as absent, removes only its own files and keeps a non-empty directory', async () => {
    const d = join(dir, 's-unreg');
    mkdirSync(d, { mode: 0o700 });
    const name = `000b${'ab'.repeat(32)}`;
    writeFileSync(
      join(d, 'keys.json'),
      JSON.stringify({
        version: 1,
        tpm: sw.tcti,
        createdAt: new Date().toISOString(),
        keys: [
          { role: 'ak', handle: 0x81008001, name },
          { role: 'nodeKey', handle: 0x81008002, name },
        ],
      }),
    );
    writeFileSync(join(d, 'state.json.4242.tmp'), '{}');
    writeFileSync(join(d, 'operator-notes.txt'), 'written by someone else');
    const t = io();
    // No --tpm: the TPM comes from the key record.
    expect(await main(['unregister', '--state-dir', d, '--json'], t.cli)).toBe(0);
    expect(t.json()).toMatchObject({
      ok: true,
      nodeId: null,
      evicted: [],
      absent: [
        { role: 'ak', handle: '0x81008001' },
        { role: 'nodeKey', handle: '0x81008002' },
      ],
      kept: [],
      removedFiles: ['keys.json', 'state.json.4242.tmp'],
      stateDirRemoved: false,
      apiRegistration: 'no node was activated from this state; nothing is registered at the API for it',
    });
    expect(readdirSync(d)).toEqual(['operator-notes.txt']);
  });
});

describe('npm run build:agent', () => {
  it('bundles one ESM file that runs on plain Node with no node_modules, with its SHA-256 beside it', async () => {
    const { stdout } = await run(process.execPath, [join(import.meta.dirname, '..', 'build-agent.mjs')]);
    const built = JSON.parse(stdout) as { outfile: string; sha256: string; bytes: number };
    expect(readFileSync(`${built.outfile}.sha256`, 'utf8')).toBe(`${built.sha256}  noderr-agent.mjs\n`);
    const alone = join(dir, 'alone');
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

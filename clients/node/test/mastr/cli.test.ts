import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { captureIo } from './helpers.ts';

/** `noderr-agent mastr …` commands that need no TPM: debug, golden-hash, emulate-token, usage errors. */

const dir = mkdtempSync(join(tmpdir(), 'noderr-mastr-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], signal?: AbortSignal) {
  const c = captureIo();
  const code = await main(['mastr', ...args], c.io, signal);
  return { code, ...c };
}

describe('debug commands (hex in, hex out)', () => {
  it('frame: the ping request on the wire', async () => {
    const r = await run(['debug', 'frame', '--type', '0x22', '--payload', '70696e67']);
    expect(r.code).toBe(0);
    expect(r.out().trim()).toBe('7f22000470696e67d47e');
  });
  it('frame --key --iv: the known encrypted frame, stuffed (0x7D in the tag → 7D 5D)', async () => {
    const r = await run([
      'debug',
      'frame',
      '--type',
      '0x41',
      '--key',
      'ab9ffd182397720aefb711c97f849d6b',
      '--iv',
      '000102030405060708090a0b',
    ]);
    expect(r.out().trim()).toBe('7f000102030405060708090a0bbb9c7d5dc2e4c547a666b83d29530595b4f23ca0d37e');
  });
  it('unframe: every frame of a capture, with errors named', async () => {
    const r = await run([
      'debug',
      'unframe',
      '00 7f320000327e 7f 01 7d ff 7e 7f22000470696e67d57e',
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.last().frames).toEqual([
      { body: '32000032', type: '0x32', name: 'T2H_BOOT_OK (0x32)', payload: '' },
      { error: 'FRAME_BAD_ESCAPE', message: 'invalid escape 7d ff: frame dropped' },
      { body: '22000470696e67d5', error: 'FRAME_CHECKSUM', message: 'checksum 0xd5 does not match 0xd4' },
    ]);
  });
  it('session-key: HKDF of the secret', async () => {
    const r = await run([
      'debug',
      'session-key',
      '--secret',
      '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    ]);
    expect(r.out().trim()).toBe('ab9ffd182397720aefb711c97f849d6b');
  });
  it('decrypt: the inner frame of an encrypted wire frame (unstuffing 7D 5E first)', async () => {
    const r = await run([
      'debug',
      'decrypt',
      '--key',
      'ab9ffd182397720aefb711c97f849d6b',
      '--frame',
      '7f000102030405060708090a0bd89c79f31884908851d7b42b7d5e0f14ff0be30c7155266e617e',
    ]);
    expect(r.code).toBe(0);
    expect(r.out().trim()).toBe('T2H_CHANNEL_VERIFY_REQUEST (0x22) payload=70696e67');
  });
  it('decrypt with the wrong key: FRAME_DECRYPT_FAILED, exit 1', async () => {
    const r = await run([
      'debug',
      'decrypt',
      '--key',
      '00'.repeat(16),
      '--frame',
      '000102030405060708090a0bd89c79f31884908851d7b42b7e0f14ff0be30c7155266e61',
    ]);
    expect(r.code).toBe(1);
    expect(r.err()).toBe(
      'noderr-agent mastr: FRAME_DECRYPT_FAILED: GCM authentication failed (wrong key or altered frame)\n',
    );
  });
});

describe('golden-hash', () => {
  it('prints SHA-256 of the file as 64 hex (the seed’s default "h\\0" → 9617c7ca…)', async () => {
    const f = join(dir, 'h0');
    writeFileSync(f, Buffer.of(0x68, 0x00));
    const r = await run(['golden-hash', '--file', f]);
    expect(r.code).toBe(0);
    expect(r.out().trim()).toBe('9617c7ca1b32da77dfd71daf35e6077ecb6b29c2a286ac9845ebcc10621c3108');
  });
  it('a missing file is INTEGRITY_FILE_UNREADABLE', async () => {
    const r = await run(['golden-hash', '--file', join(dir, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.err()).toMatch(
      /^noderr-agent mastr: INTEGRITY_FILE_UNREADABLE: cannot read the integrity file .*nope: ENOENT/,
    );
  });
});

describe('usage', () => {
  it('unknown command and unknown option are usage errors (exit 2)', async () => {
    expect((await run(['nope'])).err()).toBe(
      "noderr-agent mastr: USAGE: unknown mastr command 'nope' (see noderr-agent mastr --help)\n",
    );
    const r = await run(['golden-hash', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err()).toContain("Unknown option '--bogus'");
  });
  it('bootstrap without --port halts (exit 1) with the reason', async () => {
    const r = await run([
      'bootstrap',
      '--integrity-file',
      '/dev/null',
      '--tpm',
      'swtpm:host=127.0.0.1,port=1',
    ]);
    expect(r.code).toBe(1);
    expect(r.err()).toMatch(/^noderr-agent mastr: TPM_UNAVAILABLE: /);
  });
  it('--help lists every command', async () => {
    const r = await run(['--help']);
    for (const c of [
      'provision',
      'golden-hash',
      'token-provision',
      'bootstrap',
      'guard',
      'emulate-token',
      'debug frame',
    ])
      expect(r.out()).toContain(`noderr-agent mastr ${c}`);
  });
});

describe('emulate-token', () => {
  it('listens, reports its key and boot state, and stops on abort', async () => {
    const ac = new AbortController();
    const state = join(dir, 'token.json');
    const c = captureIo();
    const done = main(
      [
        'mastr',
        'emulate-token',
        '--listen',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
        '--state',
        state,
        '--json',
      ],
      c.io,
      ac.signal,
    );
    const start = Date.now();
    while (!c.out().includes('emulator-listening') && Date.now() - start < 5000)
      await new Promise((r) => setTimeout(r, 20));
    const ev = c.lines().find((l) => l.event === 'emulator-listening');
    expect(ev).toMatchObject({ provisioned: false, bootState: 'S1' });
    expect(String(ev?.tokenPubkey)).toMatch(/^[0-9a-f]{128}$/);
    ac.abort();
    expect(await done).toBe(0);
  });
});

import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../cli/output.ts';
import { runProvaraCommand } from './cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'provara-cli-'));
const keys = join(tmp, 'keys');

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readStdin: async () => '',
    env: { NODERR_PROVARA_KEY_DIR: keys, ...env },
  };
  const code = await runProvaraCommand(args, io);
  return { code, stdout, stderr };
}

describe('noderr-agent provara (software keys)', () => {
  const dir = join(tmp, 'vault');

  it('init → append → append --batch → verify exits 0; the private key stays outside the vault (0600)', async () => {
    expect((await run(['init', dir, '--uid', 'cli-vault'])).code).toBe(0);
    const a = await run([
      'append',
      dir,
      '--type',
      'OBSERVATION',
      '--actor',
      'sensor',
      '--data',
      '{"subject":"door","predicate":"state","value":"open","confidence":1.0,"n":9007199254740993}',
      '--json',
    ]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout).eventId).toMatch(/^evt_[0-9a-f]{24}$/);
    expect(readFileSync(join(dir, 'events/events.ndjson'), 'utf8')).toContain(
      '"confidence":1.0,"n":9007199254740993',
    );
    const batch = join(tmp, 'batch.ndjson');
    writeFileSync(
      batch,
      Array.from({ length: 50 }, (_, i) =>
        JSON.stringify({
          type: 'OBSERVATION',
          actor: 'sensor',
          data: { subject: `s${i}`, predicate: 'v', value: i },
        }),
      ).join('\n'),
    );
    const b = await run(['append', dir, '--batch', batch, '--json']);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout).appended).toBe(50);
    const v = await run(['verify', dir, '--json']);
    expect(v.code).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.ok).toBe(true);
    expect(report.signatures.session).toBe(50);
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [n]));
    expect(walk(dir).some((n) => n.includes('private'))).toBe(false);
    const keyFile = readdirSync(keys)[0] as string;
    expect(statSync(join(keys, keyFile)).mode & 0o777).toBe(0o600);
  });

  it('state prints the reducer state with its hash', async () => {
    const s = await run(['state', dir]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/"state_hash":"[0-9a-f]{64}"/);
    expect(s.stdout).toContain('"door:state"');
  });

  it('keys export prints the root key id and public key', async () => {
    const e = await run(['keys', 'export', dir, '--json']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({
      ok: true,
      algorithm: 'Ed25519',
      keyId: expect.stringMatching(/^bp1_/),
    });
  });

  it('verify exits 1 on a tampered vault and lists the reasons', async () => {
    appendFileSync(join(dir, 'events/events.ndjson'), '{"not":"an event"}\n');
    const v = await run(['verify', dir, '--json']);
    expect(v.code).toBe(1);
    const codes = JSON.parse(v.stdout).errors.map((e: { code: string }) => e.code);
    expect(codes).toContain('REQUIRED_FIELD_MISSING');
    expect(codes).toContain('MANIFEST_HASH_MISMATCH');
  });

  it('usage errors exit 2 with a stable code', async () => {
    const r = await run(['append', dir, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('USAGE');
  });

  it('--data that is not JSON exits 3 with JSON_SYNTAX', async () => {
    const r = await run(['append', join(tmp, 'vault'), '--type', 'OBSERVATION', '--data', '{bad', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).error.code).toBe('JSON_SYNTAX');
  });
});

describe('noderr-agent provara --hardware-sign (SoftHSM2)', () => {
  const env: Record<string, string> = {
    NODERR_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
    NODERR_PKCS11_PIN: '1111',
  };
  beforeAll(() => {
    const d = mkdtempSync(join(tmpdir(), 'provara-cli-hsm-'));
    writeFileSync(
      join(d, 'softhsm2.conf'),
      `directories.tokendir = ${d}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    process.env.SOFTHSM2_CONF = join(d, 'softhsm2.conf');
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', 'cli-token', '--pin', '1111', '--so-pin', '2222'],
      { stdio: 'ignore' },
    );
  });

  it('init creates the key on the token, append signs with it, verify passes, keys detect/export show it', async () => {
    const dir = join(tmp, 'hsm-vault');
    const i = await run(
      ['init', dir, '--hardware-sign', '--token', 'cli-token', '--key-label', 'root', '--json'],
      env,
    );
    expect(i.code, i.stdout + i.stderr).toBe(0);
    const rootKeyId = JSON.parse(i.stdout).rootKeyId;
    expect(
      (
        await run(
          [
            'append',
            dir,
            '--hardware-sign',
            '--token',
            'cli-token',
            '--key-label',
            'root',
            '--type',
            'OBSERVATION',
            '--data',
            '{"subject":"a","predicate":"b","value":1}',
          ],
          env,
        )
      ).code,
    ).toBe(0);
    expect((await run(['verify', dir, '--expect-root', rootKeyId], env)).code).toBe(0);
    const d = JSON.parse((await run(['keys', 'detect', '--json'], env)).stdout);
    expect(d.pkcs11.find((t: { token?: string }) => t.token === 'cli-token').keys[0].keyId).toBe(rootKeyId);
    const e = JSON.parse(
      (
        await run(
          ['keys', 'export', '--hardware-sign', '--token', 'cli-token', '--key-label', 'root', '--json'],
          env,
        )
      ).stdout,
    );
    expect(e.keyId).toBe(rootKeyId);
  });
});

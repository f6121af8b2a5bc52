import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../testing.ts';

const VECTORS = fileURLToPath(new URL('../../../../shared/vectors/tpm/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'noderr-cli-eventlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LOG = join(VECTORS, 'tpm2-tools/event-gce-ubuntu-2104-log.bin');
/** The expected sha256 PCRs of that log (its YAML), as verify-quote would print them. */
const PCRS = {
  sha256: {
    '0': '24af52a4f429b71a3184a6d64cddad17e54ea030e2aa6576bf3a5a3d8bd3328f',
    '7': 'ca37324eeffabd318d30a20f15bf27ce25dc33e2c9856279ff6c2ced58b02efa',
    '8': '2f2559cae74bb441d75afea5edb78d9a645db9f4bf8dea84bab0861ce6032e18',
    '9': '9f27883322aaaf043662c27542d9685790c687ea554e4e2ae30f0e099a2e4889',
    '10': '0000000000000000000000000000000000000000000000000000000000000000',
  },
};

/** The parts of the command's JSON the tests read. */
interface EventlogOutput {
  ok: boolean;
  format: string;
  events: { sequence: number; pcr: number; type: string }[];
  replayed: Record<string, Record<string, string>>;
  anchored: boolean;
  explained: Record<string, number[]>;
  facts: { secureBoot: { enabled: boolean }; grub: { kernels: { digests: Record<string, string> }[] } };
}

function writeJson(name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

describe('tpm2 eventlog', () => {
  it('prints events, replayed PCRs and facts, and with --pcrs which PCRs the log explains', async () => {
    const r = await runCli(['eventlog', LOG, '--pcrs', writeJson('pcrs.json', PCRS)]);
    expect(r.status).toBe(0);
    const j = r.json as unknown as EventlogOutput;
    expect(j.ok).toBe(true);
    expect(j.format).toBe('crypto-agile');
    expect(j.events).toHaveLength(112);
    expect(j.events[1]).toMatchObject({ sequence: 1, pcr: 0, type: 'EV_S_CRTM_VERSION' });
    expect(j.replayed.sha256?.['9']).toBe(PCRS.sha256['9']);
    expect(j.anchored).toBe(true);
    expect(j.explained).toEqual({ sha256: [0, 7, 8, 9, 10] });
    expect(j.facts.secureBoot.enabled).toBe(false);
    expect(j.facts.grub.kernels[0]?.digests.sha256).toBe(
      '38c6396eb70b84aef13f06384a37b7e7bfa77a14e3bde632a76c90acb65c1d97',
    );
  });

  it('without --pcrs the output is unanchored and has no explained set', async () => {
    const r = await runCli(['eventlog', LOG]);
    expect(r.status).toBe(0);
    expect(r.json?.anchored).toBe(false);
    expect(r.json?.explained).toBeUndefined();
  });

  it('a quoted PCR the log does not replay to exits 1 with EVENT_LOG_MISMATCH', async () => {
    const wrong = { sha256: { ...PCRS.sha256, '7': '00'.repeat(32) } };
    const r = await runCli(['eventlog', LOG, '--pcrs', writeJson('wrong.json', wrong)]);
    expect(r.status).toBe(1);
    expect(r.json).toMatchObject({ ok: false, reason: 'EVENT_LOG_MISMATCH' });
    expect(String(r.json?.message)).toMatch(/^sha256 PCR 7:/);
  });

  it('a file that is not an event log exits 1 with EVENT_LOG_INVALID', async () => {
    const r = await runCli(['eventlog', writeJson('not-a-log.json', { hello: 'world' })]);
    expect(r.status).toBe(1);
    expect(r.json?.reason).toBe('EVENT_LOG_INVALID');
  });

  it('usage errors exit 2: no FILE, two FILEs, unreadable FILE, bad --pcrs', async () => {
    for (const argv of [
      ['eventlog'],
      ['eventlog', LOG, LOG],
      ['eventlog', join(dir, 'missing.bin')],
      ['eventlog', LOG, '--pcrs', writeJson('bad.json', { sha256: { '0': 'zz' } })],
      ['eventlog', LOG, '--pcrs', writeJson('array.json', [])],
    ]) {
      const r = await runCli(argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.json?.reason).toBe('USAGE');
    }
  });

  it('runs as the documented command line (npm run --silent tpm2 -- eventlog FILE)', async () => {
    const r = await spawnCli(['eventlog', join(VECTORS, 'go-attestation/crypto_agile_eventlog')]);
    expect(r.status).toBe(0);
    expect(r.json?.banks).toEqual(['sha256']);
    const help = await spawnCli(['eventlog', '--help'], 'tsx');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tpm2 eventlog FILE \[--pcrs FILE\]/);
  }, 60_000);
});

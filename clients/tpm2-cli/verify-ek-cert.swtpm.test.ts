import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../scripts/lib/swtpm.ts';
import { createEk, type Ek } from '../../scripts/lib/tpm-fixture.ts';
import { runCli, spawnCli } from './testing.ts';

/**
 * verify-ek-cert on the EK certificates of a swtpm manufactured during the test by a private
 * swtpm_localca: RSA-2048 (NV 0x01c00002) and P-256 (NV 0x01c0000a).
 */

let tpm: Swtpm;
let dir: string;
let ekRsa: Ek;
let ekEcc: Ek;
let anchors: string;

beforeAll(async () => {
  tpm = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-verify-ek-cert-'));
  [ekRsa, ekEcc] = await Promise.all([createEk(tpm, dir, 'rsa'), createEk(tpm, dir, 'ecc')]);
  // The local CA: its root and the issuer certificate that signs the EK certificates.
  anchors = join(dir, 'localca.pem');
  writeFileSync(anchors, `${tpm.caRootPem}\n${tpm.caIssuerPem}`);
}, 60_000);

afterAll(async () => {
  await tpm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const file = (name: string, content: Uint8Array | string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('verify-ek-cert on swtpm EK certificates', () => {
  for (const kind of ['rsa', 'ecc'] as const) {
    const label = kind === 'rsa' ? 'RSA-2048' : 'P-256';

    it(`accepts the ${label} EK certificate with the local CA as anchor, bound to its EK`, async () => {
      const ek = kind === 'rsa' ? ekRsa : ekEcc;
      const out = await runCli([
        'verify-ek-cert',
        '--cert',
        ek.certPath,
        '--ek',
        ek.publicPath,
        '--anchors',
        anchors,
      ]);
      expect(out.status, out.stderr).toBe(0);
      expect(out.json).toMatchObject({
        ok: true,
        issuer: 'CN=swtpm-localca',
        ekChecked: true,
        sha1Signature: false,
      });
      expect(out.json?.chainFingerprints).toHaveLength(2);
    });

    it(`rejects the ${label} EK certificate without the local CA with EK_CERT_UNTRUSTED`, async () => {
      const ek = kind === 'rsa' ? ekRsa : ekEcc;
      const out = await runCli(['verify-ek-cert', '--cert', ek.certPath, '--ek', ek.publicPath]);
      expect(out.status, out.stderr).toBe(1);
      expect(out.json).toMatchObject({ ok: false, reason: 'EK_CERT_UNTRUSTED' });
    });

    it(`rejects the ${label} EK certificate with the other EK as --ek with EK_MISMATCH`, async () => {
      const ek = kind === 'rsa' ? ekRsa : ekEcc;
      const other = kind === 'rsa' ? ekEcc : ekRsa;
      const out = await runCli([
        'verify-ek-cert',
        '--cert',
        ek.certPath,
        '--ek',
        other.publicPath,
        '--anchors',
        anchors,
      ]);
      expect(out.status, out.stderr).toBe(1);
      expect(out.json).toMatchObject({ ok: false, reason: 'EK_MISMATCH' });
    });
  }

  it('tolerates a TCG NV header and 0xFF padding around the certificate', async () => {
    const der = ekEcc.cert;
    const header = Buffer.from([0x10, 0x01, 0x00, der.length >> 8, der.length & 0xff]);
    const padded = file('ek-ecc-nv.bin', Buffer.concat([header, der, Buffer.alloc(64, 0xff)]));
    const out = await runCli([
      'verify-ek-cert',
      '--cert',
      padded,
      '--ek',
      ekEcc.publicPath,
      '--anchors',
      anchors,
    ]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true });
  });

  it('rejects a certificate file that is not a certificate with MALFORMED_STRUCTURE', async () => {
    const out = await runCli(['verify-ek-cert', '--cert', ekEcc.publicPath, '--anchors', anchors]);
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'MALFORMED_STRUCTURE' });
  });
});

describe('verify-ek-cert on the command line', () => {
  it('exits 0 with --anchors and 1 without (npm run --silent tpm2)', async () => {
    const [trusted, untrusted] = await Promise.all([
      spawnCli(['verify-ek-cert', '--cert', ekRsa.certPath, '--anchors', anchors]),
      spawnCli(['verify-ek-cert', '--cert', ekRsa.certPath], 'tsx'),
    ]);
    expect(trusted.status, trusted.stderr).toBe(0);
    expect(trusted.json).toMatchObject({ ok: true, ekChecked: false });
    expect(untrusted.status, untrusted.stderr).toBe(1);
    expect(untrusted.json).toMatchObject({ ok: false, reason: 'EK_CERT_UNTRUSTED' });
  });

  it('exits 2 with reason USAGE for wrong calls', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['verify-ek-cert'], /--cert is required/],
      [['verify-ek-cert', '--cert', join(dir, 'absent.der')], /--cert: cannot read/],
      [
        ['verify-ek-cert', '--cert', ekRsa.certPath, '--anchors', join(dir, 'absent.pem')],
        /--anchors: cannot read/,
      ],
      [
        ['verify-ek-cert', '--cert', ekRsa.certPath, '--anchors', file('empty.pem', 'no pem here\n')],
        /holds no PEM/,
      ],
      [['verify-ek-cert', '--cert', ekRsa.certPath, '--anchor', anchors], /anchor/],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.json).toMatchObject({ ok: false, reason: 'USAGE' });
      expect(String(r.json?.message)).toMatch(message);
    }
  });

  it('--help names the default store and --anchors and exits 0', async () => {
    const out = await runCli(['verify-ek-cert', '--help']);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^Usage: tpm2 verify-ek-cert --cert FILE \[--ek FILE\] \[--anchors PEMFILE\]/);
    expect(out.stdout).toMatch(/added to the default store/);
  });
});

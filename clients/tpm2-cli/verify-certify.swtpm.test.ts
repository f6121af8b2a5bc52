import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../scripts/lib/swtpm.ts';
import {
  type Ak,
  type Attestation,
  certify,
  certifyWithQualifyingData,
  createAk,
  createEk,
  createNodeKey,
  quote,
  type TpmKey,
} from '../../scripts/lib/tpm-fixture.ts';
import { runCli, spawnCli } from './testing.ts';

/** verify-certify on TPM2_Certify attestations a real TPM (swtpm) makes during the test. */

let tpm: Swtpm;
let dir: string;
let ak: Ak;
let rsaAk: Ak;
let otherAk: Ak;
let nodeKey: TpmKey;
let plain: Attestation;
let byOtherAk: Attestation;
let byRsaAk: Attestation;
let qualified: Attestation;
const nonce = new Uint8Array(randomBytes(32));

beforeAll(async () => {
  tpm = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-verify-certify-'));
  const ek = await createEk(tpm, dir, 'ecc');
  ak = await createAk(tpm, dir, ek, 'ecc-ecdsa', 'ak');
  otherAk = await createAk(tpm, dir, ek, 'ecc-ecdsa', 'ak-other');
  rsaAk = await createAk(tpm, dir, ek, 'rsa-rsassa', 'ak-rsa');
  nodeKey = await createNodeKey(tpm, dir);
  plain = await certify(tpm, dir, nodeKey, ak, 'certify-plain');
  byOtherAk = await certify(tpm, dir, nodeKey, otherAk, 'certify-other');
  byRsaAk = await certify(tpm, dir, nodeKey, rsaAk, 'certify-rsa');
  qualified = await certifyWithQualifyingData(tpm, dir, nodeKey, ak, nonce, 'certify-nonce');
}, 60_000);

afterAll(async () => {
  await tpm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function args(a: Attestation, signer: Ak, overrides: Record<string, string> = {}): string[] {
  const o: Record<string, string> = {
    ak: signer.publicPath,
    attest: a.attestPath,
    signature: a.signaturePath,
    key: nodeKey.publicPath,
    ...overrides,
  };
  return ['verify-certify', ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v])];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** tpm2_certify (tpm2-tools 5.4) has no option for qualifying data and always sends this constant. */
const TPM2_CERTIFY_QUALIFYING_DATA = '00ff55aa';

describe('verify-certify', () => {
  it('accepts tpm2_certify output without --nonce and reports the node key attributes', async () => {
    const out = await runCli(args(plain, ak));
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({
      ok: true,
      certifiedName: hex(nodeKey.name),
      extraData: TPM2_CERTIFY_QUALIFYING_DATA,
      signature: { sigAlg: 'ECDSA', hashAlg: 'SHA256' },
    });
    const attributes = out.json?.attributes;
    expect(attributes).toEqual(
      expect.arrayContaining(['fixedTPM', 'fixedParent', 'sensitiveDataOrigin', 'sign']),
    );
    expect(attributes).not.toContain('restricted');
    expect(attributes).not.toContain('decrypt');
  });

  it('accepts a certification by an RSASSA AK', async () => {
    const out = await runCli(args(byRsaAk, rsaAk));
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true, signature: { sigAlg: 'RSASSA', hashAlg: 'SHA256' } });
  });

  it('accepts a certification with qualifying data when --nonce matches it', async () => {
    const out = await runCli(args(qualified, ak, { nonce: hex(nonce) }));
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true, extraData: hex(nonce), certifiedName: hex(nodeKey.name) });
  });

  it('rejects a wrong --nonce with NONCE_MISMATCH', async () => {
    const out = await runCli(args(qualified, ak, { nonce: hex(randomBytes(32)) }));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'NONCE_MISMATCH' });
  });

  it('checks tpm2_certify output against --nonce 00ff55aa, the constant tpm2-tools 5.4 sends', async () => {
    const ok = await runCli(args(plain, ak, { nonce: TPM2_CERTIFY_QUALIFYING_DATA }));
    expect(ok.status, ok.stderr).toBe(0);
    const empty = await runCli(args(plain, ak, { nonce: '' }));
    expect(empty.status, empty.stderr).toBe(1);
    expect(empty.json).toMatchObject({ ok: false, reason: 'NONCE_MISMATCH' });
  });

  it('without --nonce reports the qualifying data instead of checking it', async () => {
    const out = await runCli(args(qualified, ak));
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true, extraData: hex(nonce) });
  });

  it('rejects a certification made by a different AK with SIGNATURE_INVALID', async () => {
    const out = await runCli(args(byOtherAk, ak));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  it('rejects a --key that is not the certified key with NODE_KEY_NOT_CERTIFIED', async () => {
    const out = await runCli(args(plain, ak, { key: otherAk.publicPath }));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'NODE_KEY_NOT_CERTIFIED' });
  });

  it('rejects a quote presented as a certification with WRONG_ATTEST_TYPE', async () => {
    const q = await quote(tpm, dir, ak, new Uint8Array(0), 'sha256:0', 'quote-as-certify');
    const out = await runCli(args(plain, ak, { attest: q.messagePath, signature: q.signaturePath }));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'WRONG_ATTEST_TYPE' });
  });
});

describe('verify-certify on the command line', () => {
  it('exits 0 for a valid certification and 1 for another AK (npm run --silent tpm2)', async () => {
    const [good, bad] = await Promise.all([
      spawnCli(args(qualified, ak, { nonce: hex(nonce) })),
      spawnCli(args(byOtherAk, ak)),
    ]);
    expect(good.status, good.stderr).toBe(0);
    expect(good.json).toMatchObject({ ok: true });
    expect(bad.status, bad.stderr).toBe(1);
    expect(bad.json).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  it('exits 2 with reason USAGE for wrong calls', async () => {
    const cases: Array<[string[], RegExp]> = [
      [args(plain, ak).slice(0, -2), /--key is required/],
      [args(plain, ak, { nonce: '0x12g4' }), /--nonce: '0x12g4' is not hex/],
      [args(plain, ak, { attest: join(dir, 'absent.attest') }), /--attest: cannot read/],
      [[...args(plain, ak), '--qualifying-data', '00'], /qualifying-data/],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv);
      expect(r.status, argv.join(' ')).toBe(2);
      expect(r.json).toMatchObject({ ok: false, reason: 'USAGE' });
      expect(String(r.json?.message)).toMatch(message);
    }
  });

  it('--help documents the optional --nonce for tpm2-tools 5.4 output and exits 0', async () => {
    const out = await runCli(['verify-certify', '--help']);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(
      /^Usage: tpm2 verify-certify --ak FILE --attest FILE --signature FILE --key FILE \[--nonce HEX\]/,
    );
    expect(out.stdout).toMatch(
      /tpm2-tools 5\.4 cannot\s+take qualifying data \(it always sends the constant 00ff55aa\)/,
    );
  });
});

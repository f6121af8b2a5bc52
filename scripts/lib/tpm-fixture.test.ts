import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from './swtpm.ts';
import {
  type Ak,
  certifyWithQualifyingData,
  createAk,
  createEk,
  createNodeKey,
  parsePcrYaml,
  pcrExtend,
  readPcrs,
  sign,
  type TpmKey,
} from './tpm-fixture.ts';
import { tpm2 } from './tpm2-tools.ts';

let tpm: Swtpm;
let dir: string;
let ak: Ak;
let nodeKey: TpmKey;

beforeAll(async () => {
  tpm = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-tpm-fixture-'));
  ak = await createAk(tpm, dir, await createEk(tpm, dir, 'ecc'), 'ecc-ecdsa');
  nodeKey = await createNodeKey(tpm, dir);
}, 60_000);

afterAll(async () => {
  await tpm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tpm-fixture', () => {
  it('pcrExtend extends each bank with that bank’s hash of the measurement', async () => {
    await pcrExtend(tpm, 9, 'kernel');
    const pcrs = await readPcrs(tpm, 'sha1:9+sha256:9');
    const expected = (alg: string, size: number) =>
      createHash(alg)
        .update(Buffer.concat([Buffer.alloc(size), createHash(alg).update('kernel').digest()]))
        .digest('hex');
    expect(pcrs).toEqual({ sha1: { '9': expected('sha1', 20) }, sha256: { '9': expected('sha256', 32) } });
  });

  it('sign makes a node-key ECDSA-SHA256 signature that node:crypto verifies (DER) and a TPMT_SIGNATURE', async () => {
    const message = new TextEncoder().encode('noderr-verify-v1:node:nonce');
    const der = await sign(tpm, dir, nodeKey, message, 'der', 'sign-der');
    expect(verify('sha256', message, createPublicKey(nodeKey.pem), der.signature)).toBe(true);
    const tss = await sign(tpm, dir, nodeKey, message, 'tss', 'sign-tss');
    // TPMT_SIGNATURE: sigAlg TPM_ALG_ECDSA (0x0018), hash TPM_ALG_SHA256 (0x000b), then r and s.
    expect(Buffer.from(tss.signature.subarray(0, 4)).toString('hex')).toBe('0018000b');
  });

  it('certifyWithQualifyingData binds the nonce and leaves no persistent handle behind', async () => {
    const before = (await tpm2(tpm.tcti, 'tpm2_getcap', ['handles-persistent'])).stdout;
    const nonce = new Uint8Array(32).fill(0xa5);
    const c = await certifyWithQualifyingData(tpm, dir, nodeKey, ak, nonce);
    // TPMS_ATTEST: magic, type TPM_ST_ATTEST_CERTIFY, qualifiedSigner (TPM2B_NAME), extraData (TPM2B_DATA).
    const view = Buffer.from(c.attest);
    expect(view.readUInt32BE(0)).toBe(0xff544347);
    expect(view.readUInt16BE(4)).toBe(0x8017);
    const signerSize = view.readUInt16BE(6);
    const extraSize = view.readUInt16BE(8 + signerSize);
    expect(view.subarray(10 + signerSize, 10 + signerSize + extraSize)).toEqual(Buffer.from(nonce));
    expect((await tpm2(tpm.tcti, 'tpm2_getcap', ['handles-persistent'])).stdout).toBe(before);
  });

  it('parsePcrYaml reads tpm2_quote output (banks under pcrs:, other keys after) and tpm2_pcrread output', () => {
    const quoteYaml = [
      'quoted: ff5443',
      'pcrs:',
      '  sha1:',
      '    0 : 0xAA',
      '  sha256:',
      '    7 : 0xbb',
      'calcDigest: 1234',
      '',
    ].join('\n');
    expect(parsePcrYaml(quoteYaml)).toEqual({ sha1: { '0': 'aa' }, sha256: { '7': 'bb' } });
    expect(parsePcrYaml('  sha256:\n    0 : 0x00\n    10: 0x01\n')).toEqual({
      sha256: { '0': '00', '10': '01' },
    });
  });
});

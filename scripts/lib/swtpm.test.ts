import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EK_CERT_NV_INDEX, type Swtpm, startSwtpm } from './swtpm.ts';
import { tpm2 } from './tpm2-tools.ts';

describe('startSwtpm', () => {
  let tpm: Swtpm;
  let out: string;

  beforeAll(async () => {
    tpm = await startSwtpm();
    out = mkdtempSync(join(tmpdir(), 'noderr-swtpm-test-'));
  }, 60_000);

  afterAll(async () => {
    await tpm?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  async function readEkCert(index: number): Promise<X509Certificate> {
    const file = join(out, `${index.toString(16)}.der`);
    await tpm2(tpm.tcti, 'tpm2_nvread', [`0x${index.toString(16)}`, '-C', 'o', '-o', file]);
    return new X509Certificate(readFileSync(file));
  }

  it('answers tpm2-tools on its TCTI with sha1 and sha256 PCR banks', async () => {
    const { stdout } = await tpm2(tpm.tcti, 'tpm2_pcrread', ['sha1:0+sha256:0']);
    expect(stdout).toMatch(/sha1:\n\s+0 : 0x0{40}/);
    expect(stdout).toMatch(/sha256:\n\s+0 : 0x0{64}/);
    expect(tpm.env).toEqual({ TPM2TOOLS_TCTI: tpm.tcti });
    expect(tpm.ctrlPort).toBe(tpm.port + 1);
  });

  it('holds an RSA-2048 EK certificate at 0x01c00002 issued by the local CA', async () => {
    const cert = await readEkCert(EK_CERT_NV_INDEX.rsa2048);
    const issuer = new X509Certificate(tpm.caIssuerPem);
    const root = new X509Certificate(tpm.caRootPem);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.verify(issuer.publicKey)).toBe(true);
    expect(issuer.verify(root.publicKey)).toBe(true);
  });

  it('holds a P-256 EK certificate at 0x01c0000a for the default ECC EK, issued by the local CA', async () => {
    const cert = await readEkCert(EK_CERT_NV_INDEX.eccP256);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.verify(new X509Certificate(tpm.caIssuerPem).publicKey)).toBe(true);
    const ekPem = join(out, 'ek-ecc.pem');
    await tpm2(tpm.tcti, 'tpm2_createek', ['-G', 'ecc', '-c', join(out, 'ek.ctx'), '-u', ekPem, '-f', 'pem']);
    expect(readFileSync(ekPem, 'utf8')).toBe(cert.publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('stop() shuts swtpm down and removes its state directory', async () => {
    const other = await startSwtpm({ ekCerts: false, pcrBanks: 'sha256' });
    expect(existsSync(join(other.stateDir, 'tpm'))).toBe(true);
    const { stdout } = await tpm2(other.tcti, 'tpm2_getcap', ['pcrs']);
    expect(stdout).toMatch(/sha256: \[ 0, 1, 2/);
    expect(stdout).toMatch(/sha1: \[ \]/);
    await other.stop();
    expect(existsSync(other.stateDir)).toBe(false);
    await expect(tpm2(other.tcti, 'tpm2_pcrread', ['sha256:0'])).rejects.toThrow(/tcti|connect/i);
    await other.stop();
  }, 60_000);
});

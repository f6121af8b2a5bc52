import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TPM_ALG } from './constants.ts';
import {
  publicKeyMatchesSpki,
  publicKeyToSpki,
  requirePublicKeyMatchesPem,
  spkiFromPem,
} from './public-key-spki.ts';
import { parsePublicAny } from './structures/public.ts';
import { rsaPublicFromSpki, softwareEccSigner } from './testing/software-signer.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

const vec = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../shared/vectors/${p}`, import.meta.url)));
const text = (p: string) => new TextDecoder().decode(vec(p));

describe('public key ↔ SPKI', () => {
  it('matches the swtpm AK public area with the PEM tpm2_readpublic wrote, and exports the same DER', async () => {
    const ak = parsePublicAny(vec('swtpm-sample/ak.tpm2b_public'));
    const spki = spkiFromPem(text('swtpm-sample/ak.pem'));
    expect(await publicKeyMatchesSpki(ak, spki)).toBe(true);
    expect(await publicKeyToSpki(ak)).toEqual(spki);
    await expect(requirePublicKeyMatchesPem(ak, text('swtpm-sample/ak.pem'))).resolves.toBeUndefined();
  });

  it('matches an RSA public area built from the keylime PEM', async () => {
    const pem = JSON.parse(text('tpm/keylime/checkquote_vector.json')).aik_pem as string;
    const ak = await rsaPublicFromSpki(spkiFromPem(pem), { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    expect(await publicKeyMatchesSpki(ak, spkiFromPem(pem))).toBe(true);
    expect(await publicKeyToSpki(ak)).toEqual(spkiFromPem(pem));
  });

  it('rejects another P-256 key with NODE_KEY_MISMATCH', async () => {
    const other = await softwareEccSigner();
    expect(await publicKeyMatchesSpki(other.pub, spkiFromPem(text('swtpm-sample/ak.pem')))).toBe(false);
    await expect(requirePublicKeyMatchesPem(other.pub, text('swtpm-sample/ak.pem'))).rejects.toMatchObject({
      reason: 'NODE_KEY_MISMATCH',
    });
  });

  it('does not match an ECC area against an RSA SPKI or a P-384 SPKI', async () => {
    const ak = parsePublicAny(vec('swtpm-sample/ak.tpm2b_public'));
    expect(await publicKeyMatchesSpki(ak, spkiFromPem(text('swtpm-sample/ek_rsa.pem')))).toBe(false);
    const p384 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
    ])) as { publicKey: WebCryptoKey };
    expect(
      await publicKeyMatchesSpki(ak, new Uint8Array(await crypto.subtle.exportKey('spki', p384.publicKey))),
    ).toBe(false);
  });

  it('rejects text that is not a PUBLIC KEY PEM', () => {
    expect(() => spkiFromPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow(
      expect.objectContaining({ reason: 'MALFORMED_STRUCTURE' }),
    );
    expect(() => spkiFromPem('-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----')).toThrow(
      expect.objectContaining({ reason: 'MALFORMED_STRUCTURE' }),
    );
  });
});

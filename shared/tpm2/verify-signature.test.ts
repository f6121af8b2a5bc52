import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TPM_ALG } from './constants.ts';
import { TpmError, type TpmReason } from './errors.ts';
import { spkiFromPem } from './public-key-spki.ts';
import { parsePublicAny } from './structures/public.ts';
import { parseSignature, type TpmtSignature } from './structures/signature.ts';
import { softwareEccSigner, softwareRsaSigner } from './testing/software-signer.ts';
import { verifyAttestSignature } from './verify-signature.ts';

const message = new TextEncoder().encode('a TPMS_ATTEST stand-in');
const vec = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../shared/vectors/swtpm-sample/${p}`, import.meta.url)));

async function reason(p: Promise<unknown>): Promise<TpmReason | 'ok'> {
  return p.then(
    () => 'ok' as const,
    (e: unknown) => {
      if (e instanceof TpmError) return e.reason;
      throw e;
    },
  );
}

describe('verifyAttestSignature', () => {
  it('verifies RSASSA with the hash the key pins, including SHA-1', async () => {
    for (const hashAlg of [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512]) {
      const s = await softwareRsaSigner({ scheme: TPM_ALG.RSASSA, hashAlg });
      expect(await verifyAttestSignature(s.pub, message, await s.sign(message))).toEqual({
        sigAlg: TPM_ALG.RSASSA,
        hashAlg,
      });
    }
  });

  it('verifies RSAPSS with salt = hash length (current reference TPM)', async () => {
    const s = await softwareRsaSigner({ scheme: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA256, saltLength: 32 });
    expect(await reason(verifyAttestSignature(s.pub, message, await s.sign(message)))).toBe('ok');
  });

  it('verifies RSAPSS with the maximum salt (older TPMs): 256 - 32 - 2 = 222 bytes for RSA-2048/SHA-256', async () => {
    const s = await softwareRsaSigner({ scheme: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA256, saltLength: 222 });
    expect(await reason(verifyAttestSignature(s.pub, message, await s.sign(message)))).toBe('ok');
  });

  it('rejects RSAPSS with any other salt length', async () => {
    const s = await softwareRsaSigner({ scheme: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA256, saltLength: 20 });
    expect(await reason(verifyAttestSignature(s.pub, message, await s.sign(message)))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('verifies ECDSA with r and s shorter than the field (left-padded)', async () => {
    // Find a signature whose r or s starts with a zero byte, then strip it as some TPMs do.
    const s = await softwareEccSigner();
    for (let i = 0; i < 2000; i++) {
      const sig = await s.sign(message);
      if (sig.sigAlg !== TPM_ALG.ECDSA || sig.r[0] !== 0) continue;
      const short: TpmtSignature = { ...sig, r: sig.r.subarray(1) };
      expect(await reason(verifyAttestSignature(s.pub, message, short))).toBe('ok');
      return;
    }
    throw new Error('no signature with a leading zero in 2000 tries');
  });

  it('rejects ECDSA r or s longer than the field, even with a leading zero', async () => {
    const s = await softwareEccSigner();
    const sig = await s.sign(message);
    if (sig.sigAlg !== TPM_ALG.ECDSA) throw new Error('ECDSA');
    expect(
      await reason(verifyAttestSignature(s.pub, message, { ...sig, r: new Uint8Array([0, ...sig.r]) })),
    ).toBe('SIGNATURE_INVALID');
    expect(
      await reason(verifyAttestSignature(s.pub, message, { ...sig, s: new Uint8Array([0, ...sig.s]) })),
    ).toBe('SIGNATURE_INVALID');
  });

  it('allows SHA-256/384/512 for a key with a NULL scheme', async () => {
    const s = await softwareEccSigner({ scheme: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL } });
    for (const h of [TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512]) {
      expect(await reason(verifyAttestSignature(s.pub, message, await s.sign(message, h)))).toBe('ok');
    }
  });

  it('rejects SHA-1 for a key with a NULL scheme', async () => {
    const s = await softwareEccSigner({ scheme: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL } });
    expect(await reason(verifyAttestSignature(s.pub, message, await s.sign(message, TPM_ALG.SHA1)))).toBe(
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('accepts RSASSA and RSAPSS for an RSA key with a NULL scheme', async () => {
    const a = await softwareRsaSigner({ scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256, nullScheme: true });
    const b = await softwareRsaSigner({ scheme: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA384, nullScheme: true });
    expect(await reason(verifyAttestSignature(a.pub, message, await a.sign(message)))).toBe('ok');
    expect(await reason(verifyAttestSignature(b.pub, message, await b.sign(message)))).toBe('ok');
  });

  it('rejects a valid RSASSA signature when the key pins RSAPSS', async () => {
    const s = await softwareRsaSigner({ scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    const pssKey = { ...s.pub, scheme: { scheme: TPM_ALG.RSAPSS, hashAlg: TPM_ALG.SHA256 } };
    expect(await reason(verifyAttestSignature(pssKey, message, await s.sign(message)))).toBe(
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects an ECDSA signature for an RSA key, and HMAC or NULL signatures for any key', async () => {
    const rsa = await softwareRsaSigner({
      scheme: TPM_ALG.RSASSA,
      hashAlg: TPM_ALG.SHA256,
      nullScheme: true,
    });
    const ecc = await softwareEccSigner();
    expect(await reason(verifyAttestSignature(rsa.pub, message, await ecc.sign(message)))).toBe(
      'SIGNATURE_SCHEME_MISMATCH',
    );
    const hmac: TpmtSignature = { sigAlg: TPM_ALG.HMAC, hash: TPM_ALG.SHA256, digest: new Uint8Array(32) };
    expect(await reason(verifyAttestSignature(ecc.pub, message, hmac))).toBe('SIGNATURE_SCHEME_MISMATCH');
    expect(await reason(verifyAttestSignature(ecc.pub, message, { sigAlg: TPM_ALG.NULL }))).toBe(
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects an RSA signature of the wrong length as invalid, not as a crash', async () => {
    const s = await softwareRsaSigner({ scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    const sig = await s.sign(message);
    if (sig.sigAlg !== TPM_ALG.RSASSA) throw new Error('RSASSA');
    expect(await reason(verifyAttestSignature(s.pub, message, { ...sig, sig: sig.sig.subarray(1) }))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('verifies with a WebCrypto key (an AK known by its certificate or PEM)', async () => {
    const key = await crypto.subtle.importKey(
      'spki',
      spkiFromPem(new TextDecoder().decode(vec('ak.pem'))) as Uint8Array<ArrayBuffer>,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    expect(await reason(verifyAttestSignature(key, vec('quote.msg'), parseSignature(vec('quote.sig'))))).toBe(
      'ok',
    );
    expect(
      await reason(
        verifyAttestSignature(
          parsePublicAny(vec('ak.tpm2b_public')),
          vec('quote.msg'),
          parseSignature(vec('quote.sig')),
        ),
      ),
    ).toBe('ok');
  });

  it('rejects a hash other than the one a WebCrypto RSA key was imported with', async () => {
    const s = await softwareRsaSigner({ scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    const sig = await s.sign(message);
    if (sig.sigAlg !== TPM_ALG.RSASSA) throw new Error('RSASSA');
    const pub = await crypto.subtle.importKey(
      'jwk',
      {
        kty: 'RSA',
        n: btoa(String.fromCharCode(...s.pub.modulus))
          .replaceAll('+', '-')
          .replaceAll('/', '_')
          .replace(/=+$/, ''),
        e: 'AQAB',
      },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' },
      false,
      ['verify'],
    );
    expect(await reason(verifyAttestSignature(pub, message, sig))).toBe('SIGNATURE_SCHEME_MISMATCH');
  });
});

import { fromBase64 } from '../../encoding/bytes.ts';
import { TPM_ALG, TPM_ECC } from '../constants.ts';
import { addAnchors, defaultTrustStore, trustStoreFromPem, verifyEkCertificate } from '../ek-certificate.ts';
import { EK_INTERMEDIATES, EK_ROOTS } from '../ek-roots/bundle.ts';
import { makeCredential } from '../make-credential.ts';
import type { TpmtPublic } from '../structures/public.ts';
import type { WebCryptoKey } from '../webcrypto-types.ts';
import { SWTPM_CA_ISSUER_PEM, SWTPM_CA_ROOT_PEM, SWTPM_EK_RSA_CERT_B64 } from './swtpm-sample-certs.ts';

/** Mean milliseconds per call of `f` over `n` calls, after `warm` unmeasured calls. */
async function meanMs(f: () => Promise<unknown>, n: number, warm = Math.ceil(n / 5)): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

const pems = (certs: readonly { pem: string }[]): string => certs.map((c) => c.pem).join('\n');

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

function b64url(s: string | undefined): Uint8Array {
  const b = fromBase64(
    (s ?? '')
      .replaceAll('-', '+')
      .replaceAll('_', '/')
      .padEnd(Math.ceil((s ?? '').length / 4) * 4, '='),
  );
  if (!b) throw new Error('bad base64url');
  return b;
}

/** Default-template EK public areas (TCG EK Credential Profile, template L-1 / L-2) around fresh keys. */
async function benchEks(): Promise<{ rsa: TpmtPublic; ecc: TpmtPublic }> {
  const common = {
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: 0x000300b2,
    authPolicy: new Uint8Array(32),
    symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB },
    scheme: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
  };
  const rsaKey = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' },
    true,
    ['encrypt', 'decrypt'],
  );
  const eccKey = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  // Casts: the Workers declarations type generateKey/exportKey results as unions.
  type Pair = { publicKey: WebCryptoKey };
  type Jwk = { n?: string; x?: string; y?: string };
  const rsaJwk = (await crypto.subtle.exportKey('jwk', (rsaKey as Pair).publicKey)) as Jwk;
  const eccJwk = (await crypto.subtle.exportKey('jwk', (eccKey as Pair).publicKey)) as Jwk;
  return {
    rsa: { ...common, type: TPM_ALG.RSA, keyBits: 2048, exponent: 0, modulus: b64url(rsaJwk.n) },
    ecc: {
      ...common,
      type: TPM_ALG.ECC,
      curveId: TPM_ECC.NIST_P256,
      kdf: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
      x: b64url(eccJwk.x),
      y: b64url(eccJwk.y),
    },
  };
}

/**
 * makeCredential per call (mean ms) for an RSA-2048 and an ECC P-256 default-template EK: secret sharing
 * (OAEP, or ephemeral ECDH + KDFe), two KDFa, AES-128-CFB and the outer HMAC.
 */
export async function benchMakeCredential(): Promise<Record<string, number>> {
  const eks = await benchEks();
  const objectName = new Uint8Array(34);
  objectName.set([0x00, 0x0b]);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  return {
    makeCredentialRsa2048Ms: round(
      await meanMs(() => makeCredential({ ekPublic: eks.rsa, objectName, secret }), 500),
    ),
    makeCredentialEccP256Ms: round(
      await meanMs(() => makeCredential({ ekPublic: eks.ecc, objectName, secret }), 500),
    ),
  };
}

/**
 * verifyEkCertificate per call (mean ms) for the swtpm sample RSA EK certificate: with only its local
 * CA as store, and with the full default manufacturer bundle (28 anchors, 146 intermediates) plus that
 * CA; and the rejection of that certificate by the default bundle alone.
 */
export async function benchVerifyEkCertificate(): Promise<Record<string, number>> {
  const certificate = fromBase64(SWTPM_EK_RSA_CERT_B64);
  if (!certificate) throw new Error('bad sample certificate');
  const swtpmOnly = trustStoreFromPem(SWTPM_CA_ROOT_PEM, SWTPM_CA_ISSUER_PEM);
  const bundlePlusSwtpm = addAnchors(defaultTrustStore(), SWTPM_CA_ROOT_PEM, SWTPM_CA_ISSUER_PEM);
  const bundleOnly = defaultTrustStore();
  const rejected = async () => {
    try {
      await verifyEkCertificate({ certificate, trustAnchors: bundleOnly });
    } catch {
      return;
    }
    throw new Error('the default bundle must not trust the swtpm CA');
  };
  return {
    verifyEkCertificateSwtpmCaMs: round(
      await meanMs(() => verifyEkCertificate({ certificate, trustAnchors: swtpmOnly }), 300),
    ),
    verifyEkCertificateDefaultBundleMs: round(
      await meanMs(() => verifyEkCertificate({ certificate, trustAnchors: bundlePlusSwtpm }), 300),
    ),
    rejectEkCertificateDefaultBundleOnlyMs: round(await meanMs(rejected, 300)),
    // What parsing every bundled certificate would cost; the default store avoids it by parsing lazily.
    parseWholeDefaultBundleMs: round(
      await meanMs(async () => trustStoreFromPem(pems(EK_ROOTS), pems(EK_INTERMEDIATES)), 5, 1),
    ),
  };
}

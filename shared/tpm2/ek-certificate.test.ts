import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromBase64 } from '../encoding/bytes.ts';
import { TPM_ALG, TPM_ECC } from './constants.ts';
import type { TrustStore } from './ek-certificate.ts';
import {
  addAnchors,
  defaultTrustStore,
  extractCertificateDer,
  trustStoreFromPem,
  verifyEkCertificate,
} from './ek-certificate.ts';
import { EK_ROOTS_BUNDLE_DATE } from './ek-roots/bundle.ts';
import { TpmError } from './errors.ts';
import type { EccPublic, RsaPublic, TpmtPublic } from './structures/public.ts';

const SAMPLE = new URL('../../../shared/vectors/swtpm-sample/', import.meta.url);
const read = (f: string) => new Uint8Array(readFileSync(new URL(f, SAMPLE)));
const readText = (f: string) => readFileSync(new URL(f, SAMPLE), 'utf8');

const rsaCert = read('ek_rsa_cert.der');
const eccCert = read('ek_ecc256_cert.der');
const caRoot = readText('ca_root.pem');
const caIssuer = readText('ca_issuer.pem');
/** A moment inside every swtpm sample certificate's validity (they start 2026-11-22 17:31:35Z). */
const NOW = new Date('2027-01-01T00:00:00Z');

const EK_POLICY = Uint8Array.from(
  Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex'),
);
const base = {
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: 0x000300b2,
  authPolicy: EK_POLICY,
  symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB },
  scheme: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
};
const b64u = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64url'));
function pemDer(pem: string): Uint8Array<ArrayBuffer> {
  const b = fromBase64(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
  if (!b) throw new Error('bad PEM');
  return new Uint8Array(b);
}

/** The EK public areas as tpm2_createek made them (default templates), from the sample's PEM exports. */
async function rsaEkFromPem(pem: string): Promise<RsaPublic> {
  const k = await crypto.subtle.importKey('spki', pemDer(pem), { name: 'RSA-OAEP', hash: 'SHA-256' }, true, [
    'encrypt',
  ]);
  const modulus = b64u((await crypto.subtle.exportKey('jwk', k)).n);
  return { ...base, type: TPM_ALG.RSA, keyBits: 2048, exponent: 0, modulus };
}
async function eccEkFromPem(pem: string): Promise<EccPublic> {
  const k = await crypto.subtle.importKey(
    'spki',
    pemDer(pem),
    { name: 'ECDH', namedCurve: 'P-256' },
    true,
    [],
  );
  const jwk = await crypto.subtle.exportKey('jwk', k);
  return {
    ...base,
    type: TPM_ALG.ECC,
    curveId: TPM_ECC.NIST_P256,
    kdf: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
    x: b64u(jwk.x),
    y: b64u(jwk.y),
  };
}

let ekRsa: RsaPublic;
let ekEcc: EccPublic;
let swtpmCa: TrustStore;

beforeAll(async () => {
  ekRsa = await rsaEkFromPem(readText('ek_rsa.pem'));
  ekEcc = await eccEkFromPem(readText('ek_ecc256.pem'));
  swtpmCa = trustStoreFromPem(caRoot, caIssuer);
});

describe('verifyEkCertificate with swtpm sample certificates', () => {
  it('accepts the RSA EK certificate with the swtpm local CA as anchor and binds it to the RSA EK', async () => {
    const info = await verifyEkCertificate({
      certificate: rsaCert,
      ekPublic: ekRsa,
      trustAnchors: swtpmCa,
      now: NOW,
    });
    expect(info.issuer).toBe('CN=swtpm-localca');
    expect(info.anchorSubject).toBe('CN=swtpm-localca-rootca');
    expect(info.chainFingerprints).toHaveLength(3);
    expect(info.chainFingerprints[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(info.sha1Signature).toBe(false);
  });

  it('accepts the ECC P-256 EK certificate with the swtpm local CA as anchor and binds it to the ECC EK', async () => {
    const info = await verifyEkCertificate({
      certificate: eccCert,
      ekPublic: ekEcc,
      trustAnchors: swtpmCa,
      now: NOW,
    });
    expect(info.chainFingerprints).toHaveLength(3);
  });

  it('uses the current time when `now` is omitted', async () => {
    const info = await verifyEkCertificate({ certificate: rsaCert, trustAnchors: swtpmCa });
    expect(info.subject).toBe('CN=unknown');
  });

  it('rejects the swtpm certificate against the default manufacturer bundle alone with EK_CERT_UNTRUSTED', async () => {
    await expect(
      verifyEkCertificate({
        certificate: rsaCert,
        ekPublic: ekRsa,
        trustAnchors: defaultTrustStore(),
        now: NOW,
      }),
    ).rejects.toMatchObject({ reason: 'EK_CERT_UNTRUSTED' });
  });

  it('accepts it once the swtpm CA is added to the default bundle with addAnchors', async () => {
    const store = addAnchors(defaultTrustStore(), caRoot, caIssuer);
    const info = await verifyEkCertificate({
      certificate: rsaCert,
      ekPublic: ekRsa,
      trustAnchors: store,
      now: NOW,
    });
    expect(info.anchorSubject).toBe('CN=swtpm-localca-rootca');
  });

  it('accepts a non-self-signed anchor as the end of the path (partial chain)', async () => {
    const info = await verifyEkCertificate({
      certificate: rsaCert,
      trustAnchors: trustStoreFromPem(caIssuer),
      now: NOW,
    });
    expect(info.anchorSubject).toBe('CN=swtpm-localca');
    expect(info.chainFingerprints).toHaveLength(2);
  });

  it('rejects with EK_CERT_UNTRUSTED when the intermediate is missing from the store', async () => {
    await expect(
      verifyEkCertificate({ certificate: rsaCert, trustAnchors: trustStoreFromPem(caRoot), now: NOW }),
    ).rejects.toMatchObject({ reason: 'EK_CERT_UNTRUSTED' });
  });

  it('rejects with EK_CERT_UNTRUSTED when the issuer is only an intermediate and no anchor is reachable', async () => {
    await expect(
      verifyEkCertificate({ certificate: rsaCert, trustAnchors: trustStoreFromPem('', caIssuer), now: NOW }),
    ).rejects.toMatchObject({ reason: 'EK_CERT_UNTRUSTED' });
  });

  it('rejects the RSA certificate presented with the ECC EK with EK_MISMATCH', async () => {
    await expect(
      verifyEkCertificate({ certificate: rsaCert, ekPublic: ekEcc, trustAnchors: swtpmCa, now: NOW }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects the ECC certificate presented with the RSA EK with EK_MISMATCH', async () => {
    await expect(
      verifyEkCertificate({ certificate: eccCert, ekPublic: ekRsa, trustAnchors: swtpmCa, now: NOW }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects an RSA EK whose modulus differs in one bit with EK_MISMATCH', async () => {
    const modulus = ekRsa.modulus.slice();
    modulus[100] = (modulus[100] ?? 0) ^ 1;
    await expect(
      verifyEkCertificate({
        certificate: rsaCert,
        ekPublic: { ...ekRsa, modulus },
        trustAnchors: swtpmCa,
        now: NOW,
      }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects an RSA EK with another exponent with EK_MISMATCH', async () => {
    await expect(
      verifyEkCertificate({
        certificate: rsaCert,
        ekPublic: { ...ekRsa, exponent: 3 },
        trustAnchors: swtpmCa,
        now: NOW,
      }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects an ECC EK with another y coordinate with EK_MISMATCH', async () => {
    const y = ekEcc.y.slice();
    y[0] = (y[0] ?? 0) ^ 0x80;
    await expect(
      verifyEkCertificate({
        certificate: eccCert,
        ekPublic: { ...ekEcc, y },
        trustAnchors: swtpmCa,
        now: NOW,
      }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects an ECC EK on another curve with EK_MISMATCH', async () => {
    const p384: TpmtPublic = {
      ...ekEcc,
      curveId: TPM_ECC.NIST_P384,
      x: new Uint8Array(48),
      y: new Uint8Array(48),
    };
    await expect(
      verifyEkCertificate({ certificate: eccCert, ekPublic: p384, trustAnchors: swtpmCa, now: NOW }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects a public area that is not a restricted decryption key (e.g. a signing key) with EK_MISMATCH', async () => {
    await expect(
      verifyEkCertificate({
        certificate: rsaCert,
        ekPublic: { ...ekRsa, objectAttributes: 0x00050072 },
        trustAnchors: swtpmCa,
        now: NOW,
      }),
    ).rejects.toMatchObject({ reason: 'EK_MISMATCH' });
  });

  it('rejects a certificate after its notAfter with EK_CERT_UNTRUSTED', async () => {
    await expect(
      verifyEkCertificate({
        certificate: rsaCert,
        trustAnchors: swtpmCa,
        now: new Date('+010000-01-01T00:00:00Z'),
      }),
    ).rejects.toMatchObject({ reason: 'EK_CERT_UNTRUSTED', message: expect.stringContaining('not at') });
  });

  it('rejects a certificate before its notBefore with EK_CERT_UNTRUSTED', async () => {
    await expect(
      verifyEkCertificate({
        certificate: rsaCert,
        trustAnchors: swtpmCa,
        now: new Date('2020-01-01T00:00:00Z'),
      }),
    ).rejects.toMatchObject({ reason: 'EK_CERT_UNTRUSTED' });
  });

  it('accepts a DER certificate followed by 0xFF and 0x00 NV padding', async () => {
    const padded = concatBytes(rsaCert, new Uint8Array(64).fill(0xff), new Uint8Array(32));
    const info = await verifyEkCertificate({
      certificate: padded,
      ekPublic: ekRsa,
      trustAnchors: swtpmCa,
      now: NOW,
    });
    expect(info.der).toEqual(rsaCert);
  });

  it('accepts a certificate behind the TCG NV header 0x10 0x01 0x00 ‖ u16 length, padding included', async () => {
    const header = Uint8Array.of(0x10, 0x01, 0x00, rsaCert.length >> 8, rsaCert.length & 0xff);
    const blob = concatBytes(header, rsaCert, new Uint8Array(20).fill(0xff));
    const info = await verifyEkCertificate({
      certificate: blob,
      ekPublic: ekRsa,
      trustAnchors: swtpmCa,
      now: NOW,
    });
    expect(info.der).toEqual(rsaCert);
  });

  it('rejects random bytes with MALFORMED_STRUCTURE', async () => {
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    await expect(verifyEkCertificate({ certificate: garbage, trustAnchors: swtpmCa })).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('rejects an empty input with MALFORMED_STRUCTURE', async () => {
    await expect(
      verifyEkCertificate({ certificate: new Uint8Array(), trustAnchors: swtpmCa }),
    ).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('rejects a truncated certificate with MALFORMED_STRUCTURE', async () => {
    await expect(
      verifyEkCertificate({ certificate: rsaCert.subarray(0, rsaCert.length - 1), trustAnchors: swtpmCa }),
    ).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
  });

  it('rejects bytes after the DER that are not 0x00/0xFF fill with MALFORMED_STRUCTURE', async () => {
    await expect(
      verifyEkCertificate({
        certificate: concatBytes(rsaCert, Uint8Array.of(0xff, 0x41)),
        trustAnchors: swtpmCa,
      }),
    ).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
  });

  it('rejects an NV header whose length runs past the data with MALFORMED_STRUCTURE', async () => {
    expect(() =>
      extractCertificateDer(concatBytes(Uint8Array.of(0x10, 0x01, 0x00, 0xff, 0xff), rsaCert)),
    ).toThrow(expect.objectContaining({ reason: 'MALFORMED_STRUCTURE' }));
  });

  it('rejects a well-formed DER SEQUENCE that is not a certificate with MALFORMED_STRUCTURE', async () => {
    await expect(
      verifyEkCertificate({
        certificate: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x05),
        trustAnchors: swtpmCa,
      }),
    ).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
  });

  it('never accepts a certificate with a mutated TBS and fails only with typed errors (property, 400 mutations)', async () => {
    // The signed part: outer SEQUENCE header (4 bytes) + tbsCertificate (its own 4-byte header + content).
    // Bytes outside it (e.g. the outer AlgorithmIdentifier's NULL parameters) are not covered by the signature.
    expect(Array.from(rsaCert.subarray(0, 2))).toEqual([0x30, 0x82]);
    expect(Array.from(rsaCert.subarray(4, 6))).toEqual([0x30, 0x82]);
    const tbsEnd = 4 + 4 + (((rsaCert[6] ?? 0) << 8) | (rsaCert[7] ?? 0));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(tbsEnd - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (flips) => {
          const bad = rsaCert.slice();
          for (const [i, x] of flips) bad[i] = (bad[i] ?? 0) ^ x;
          try {
            await verifyEkCertificate({ certificate: bad, ekPublic: ekRsa, trustAnchors: swtpmCa, now: NOW });
          } catch (e) {
            expect(e).toBeInstanceOf(TpmError);
            return;
          }
          throw new Error(`a mutated certificate was accepted: ${JSON.stringify(flips)}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('rejects a certificate whose signature was altered with EK_CERT_UNTRUSTED', async () => {
    const bad = rsaCert.slice();
    bad[bad.length - 10] = (bad[bad.length - 10] ?? 0) ^ 0x01;
    await expect(
      verifyEkCertificate({ certificate: bad, trustAnchors: swtpmCa, now: NOW }),
    ).rejects.toMatchObject({
      reason: 'EK_CERT_UNTRUSTED',
    });
  });
});

describe('trust stores', () => {
  it(`the default bundle (tpm-ca-certificates ${EK_ROOTS_BUNDLE_DATE} + Google Cloud EK CAs) parses completely`, () => {
    const store = defaultTrustStore();
    expect(store.anchors).toHaveLength(26 + 2);
    expect(store.intermediates).toHaveLength(143 + 3);
    for (const entry of [...store.anchors, ...store.intermediates]) {
      // The subject index precomputed by the generator must be what the parser says, or paths break.
      expect(new X509Certificate(entry.der as Uint8Array<ArrayBuffer>).subject).toBe(entry.subject);
    }
  });

  it('three default anchors are not self-signed (partial-chain anchors), the others are', async () => {
    const notSelfSigned: string[] = [];
    for (const entry of defaultTrustStore().anchors) {
      const a = new X509Certificate(entry.der as Uint8Array<ArrayBuffer>);
      const self = a.subject === a.issuer && (await a.verify({ signatureOnly: true }).catch(() => false));
      if (!self) notSelfSigned.push(a.subject);
    }
    expect(notSelfSigned.sort()).toEqual([
      'C=CH, O=STMicroelectronics NV, CN=STM TPM ECC Root CA 01',
      'C=CH, O=STMicroelectronics NV, CN=STM TPM EK Root CA',
      'C=US, ST=California, L=Santa Clara, O=Advanced Micro Devices Inc., OU=IT, CN=AMD Pluton Global Factory ICA',
    ]);
  });

  it('every intermediate of the default bundle chains to a default anchor within its validity period', async () => {
    const store = defaultTrustStore();
    const failures: string[] = [];
    for (const entry of store.intermediates) {
      const c = new X509Certificate(entry.der as Uint8Array<ArrayBuffer>);
      const mid = new Date((c.notBefore.getTime() + Math.min(c.notAfter.getTime(), Date.now())) / 2);
      try {
        await verifyEkCertificate({ certificate: entry.der, trustAnchors: store, now: mid });
      } catch (e) {
        failures.push(`${c.subject}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('verifies against the default bundle without parsing the certificates no path reaches', async () => {
    // A fresh store from the same lazily-decoded entries: decoding happens only through `der`.
    let decoded = 0;
    const count = (e: { subject: string; der: Uint8Array }) => ({
      subject: e.subject,
      get der() {
        decoded++;
        return e.der;
      },
    });
    const base = defaultTrustStore();
    const store = {
      anchors: [...base.anchors.map(count), ...trustStoreFromPem(caRoot).anchors],
      intermediates: [...base.intermediates.map(count), ...trustStoreFromPem('', caIssuer).intermediates],
    };
    await verifyEkCertificate({ certificate: rsaCert, trustAnchors: store, now: NOW });
    expect(decoded).toBe(0);
  });

  it('rejects a PEM bundle with an unparsable certificate with MALFORMED_STRUCTURE', () => {
    expect(() => trustStoreFromPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow(
      expect.objectContaining({ reason: 'MALFORMED_STRUCTURE' }),
    );
  });

  it('rejects a PEM bundle with invalid base64 with MALFORMED_STRUCTURE', () => {
    expect(() => trustStoreFromPem('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----')).toThrow(
      expect.objectContaining({ reason: 'MALFORMED_STRUCTURE' }),
    );
  });
});

/** Path-validation rules, exercised with certificates generated on the spot by @peculiar/x509. */
describe('path validation rules', () => {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const from = new Date('2025-01-01T00:00:00Z');
  const until = new Date('2035-01-01T00:00:00Z');
  const at = new Date('2030-01-01T00:00:00Z');
  type Keys = CryptoKeyPair;
  const keys = () => crypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<Keys>;
  const pem = (c: X509Certificate) => c.toString('pem');

  let rootKeys: Keys;
  let root: X509Certificate;
  let ekKeys: Keys;

  async function issue(
    subject: string,
    issuer: { name: string; keys: Keys },
    publicKey: CryptoKey,
    extensions: (BasicConstraintsExtension | KeyUsagesExtension | ExtendedKeyUsageExtension)[],
    options: { notAfter?: Date; hash?: string } = {},
  ): Promise<X509Certificate> {
    return X509CertificateGenerator.create({
      serialNumber: '0a',
      subject,
      issuer: issuer.name,
      notBefore: from,
      notAfter: options.notAfter ?? until,
      publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: { ...alg, hash: options.hash ?? 'SHA-256' },
      extensions,
    });
  }
  const ekEku = () => new ExtendedKeyUsageExtension(['2.23.133.8.1']);
  const caExt = (pathLength?: number) => [
    new BasicConstraintsExtension(true, pathLength, true),
    new KeyUsagesExtension(KeyUsageFlags.keyCertSign, true),
  ];

  beforeAll(async () => {
    rootKeys = await keys();
    root = await X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Test EK Root',
      notBefore: from,
      notAfter: until,
      keys: rootKeys,
      signingAlgorithm: alg,
      extensions: caExt(),
    });
    ekKeys = await keys();
  });

  async function chainVia(
    intermediateExt: (BasicConstraintsExtension | KeyUsagesExtension)[],
    notAfter?: Date,
  ) {
    const midKeys = await keys();
    const mid = await issue(
      'CN=Test EK Intermediate',
      { name: 'CN=Test EK Root', keys: rootKeys },
      midKeys.publicKey,
      intermediateExt,
      {
        ...(notAfter ? { notAfter } : {}),
      },
    );
    const leaf = await issue('CN=ek', { name: 'CN=Test EK Intermediate', keys: midKeys }, ekKeys.publicKey, [
      ekEku(),
    ]);
    return { store: trustStoreFromPem(pem(root), pem(mid)), leaf: new Uint8Array(leaf.rawData) };
  }

  it('accepts a chain through a proper CA intermediate', async () => {
    const { store, leaf } = await chainVia(caExt(0));
    const info = await verifyEkCertificate({ certificate: leaf, trustAnchors: store, now: at });
    expect(info.chainFingerprints).toHaveLength(3);
  });

  it('rejects an intermediate without basicConstraints cA with EK_CERT_UNTRUSTED', async () => {
    const { store, leaf } = await chainVia([new BasicConstraintsExtension(false, undefined, true)]);
    await expect(
      verifyEkCertificate({ certificate: leaf, trustAnchors: store, now: at }),
    ).rejects.toMatchObject({
      reason: 'EK_CERT_UNTRUSTED',
      message: expect.stringContaining('not a CA'),
    });
  });

  it('rejects an intermediate whose keyUsage lacks keyCertSign with EK_CERT_UNTRUSTED', async () => {
    const { store, leaf } = await chainVia([
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
    ]);
    await expect(
      verifyEkCertificate({ certificate: leaf, trustAnchors: store, now: at }),
    ).rejects.toMatchObject({
      reason: 'EK_CERT_UNTRUSTED',
      message: expect.stringContaining('keyUsage'),
    });
  });

  it('rejects an intermediate that expired before `now` with EK_CERT_UNTRUSTED', async () => {
    const { store, leaf } = await chainVia(caExt(), new Date('2029-01-01T00:00:00Z'));
    await expect(
      verifyEkCertificate({ certificate: leaf, trustAnchors: store, now: at }),
    ).rejects.toMatchObject({
      reason: 'EK_CERT_UNTRUSTED',
      message: expect.stringContaining('not valid at'),
    });
  });

  it('rejects a path that exceeds an anchor pathLen constraint with EK_CERT_UNTRUSTED', async () => {
    const k = await keys();
    const strictRoot = await X509CertificateGenerator.createSelfSigned({
      serialNumber: '02',
      name: 'CN=Strict Root',
      notBefore: from,
      notAfter: until,
      keys: k,
      signingAlgorithm: alg,
      extensions: caExt(0),
    });
    const midKeys = await keys();
    const mid = await issue('CN=Strict Mid', { name: 'CN=Strict Root', keys: k }, midKeys.publicKey, caExt());
    const leaf = await issue('CN=ek', { name: 'CN=Strict Mid', keys: midKeys }, ekKeys.publicKey, [ekEku()]);
    await expect(
      verifyEkCertificate({
        certificate: new Uint8Array(leaf.rawData),
        trustAnchors: trustStoreFromPem(pem(strictRoot), pem(mid)),
        now: at,
      }),
    ).rejects.toMatchObject({ reason: 'EK_CERT_UNTRUSTED', message: expect.stringContaining('allows 0') });
  });

  it('rejects a leaf whose extendedKeyUsage is not tcg-kp-EKCertificate with EK_CERT_UNTRUSTED', async () => {
    const leaf = await issue('CN=web', { name: 'CN=Test EK Root', keys: rootKeys }, ekKeys.publicKey, [
      new ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1']),
    ]);
    await expect(
      verifyEkCertificate({
        certificate: new Uint8Array(leaf.rawData),
        trustAnchors: trustStoreFromPem(pem(root)),
        now: at,
      }),
    ).rejects.toMatchObject({
      reason: 'EK_CERT_UNTRUSTED',
      message: expect.stringContaining('2.23.133.8.1'),
    });
  });

  it('accepts a SHA-1-signed EK certificate and reports it in sha1Signature', async () => {
    const leaf = await issue(
      'CN=old ek',
      { name: 'CN=Test EK Root', keys: rootKeys },
      ekKeys.publicKey,
      [ekEku()],
      {
        hash: 'SHA-1',
      },
    );
    const info = await verifyEkCertificate({
      certificate: new Uint8Array(leaf.rawData),
      trustAnchors: trustStoreFromPem(pem(root)),
      now: at,
    });
    expect(info.sha1Signature).toBe(true);
  });

  it('rejects a certificate signed by a key other than its named issuer with EK_CERT_UNTRUSTED', async () => {
    const impostor = await keys();
    const leaf = await issue('CN=ek', { name: 'CN=Test EK Root', keys: impostor }, ekKeys.publicKey, [
      ekEku(),
    ]);
    await expect(
      verifyEkCertificate({
        certificate: new Uint8Array(leaf.rawData),
        trustAnchors: trustStoreFromPem(pem(root)),
        now: at,
      }),
    ).rejects.toMatchObject({
      reason: 'EK_CERT_UNTRUSTED',
      message: expect.stringContaining('does not verify'),
    });
  });
});

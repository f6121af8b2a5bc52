import { readFileSync } from 'node:fs';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { TPM_ALG, TPM_ST, TPMA_OBJECT } from './constants.ts';
import { TpmError, type TpmReason } from './errors.ts';
import { requireNodeKeyAttributes } from './node-key.ts';
import { parseAttest } from './structures/attest.ts';
import { computeName, marshalPublic2b, parsePublicAny } from './structures/public.ts';
import type { TpmtSignature } from './structures/signature.ts';
import {
  AK_ATTRIBUTES,
  forgeAttest,
  NODE_KEY_ATTRIBUTES,
  softwareEccSigner,
} from './testing/software-signer.ts';
import { loadVectors, type Vectors, type WebAuthnTpmVector } from './testing/vectors.ts';
import { verifyCertify } from './verify-certify.ts';
import type { WebCryptoKey } from './webcrypto-types.ts';

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../shared/vectors/${p}`, import.meta.url)));

let v: Vectors;
beforeAll(async () => {
  v = await loadVectors(read);
});

async function rejects(p: Promise<unknown>, reason: TpmReason): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a TpmError ${reason}`).toBeInstanceOf(TpmError);
  expect((err as TpmError).reason).toBe(reason);
}

/** The AIK certificate's key, imported for the COSE alg of the attestation (RS1 or RS256). */
async function aikKey(w: WebAuthnTpmVector): Promise<WebCryptoKey> {
  const cert = AsnConvert.parse(w.aikCert, Certificate);
  const spki = new Uint8Array(AsnConvert.serialize(cert.tbsCertificate.subjectPublicKeyInfo));
  const hash = w.alg === -65535 ? 'SHA-1' : 'SHA-256';
  return crypto.subtle.importKey('spki', spki, { name: 'RSASSA-PKCS1-v1_5', hash }, false, ['verify']);
}

function rsassa(w: WebAuthnTpmVector): TpmtSignature {
  return { sigAlg: TPM_ALG.RSASSA, hash: w.alg === -65535 ? TPM_ALG.SHA1 : TPM_ALG.SHA256, sig: w.sig };
}

describe('verifyCertify on Windows Hello TPM attestations (WebAuthn `tpm` format)', () => {
  it('accepts all six, with the certified Name and the WebAuthn extraData', async () => {
    expect(v.webauthn).toHaveLength(6);
    for (const w of v.webauthn) {
      const r = await verifyCertify({
        akPublic: await aikKey(w),
        certifyInfo: w.certInfo,
        signature: rsassa(w),
        certifiedPublic: w.pubArea,
        nonce: w.expectedExtraData,
      });
      expect(r.attest.type).toBe(TPM_ST.ATTEST_CERTIFY);
      expect(r.certifiedName).toEqual(r.attest.attested.name);
      expect(r.attributes).toContain('fixedTPM');
    }
  });

  it('covers both RSA and ECC certified keys', () => {
    const types = v.webauthn.map((w) => parsePublicAny(w.pubArea).type);
    expect(types).toContain(TPM_ALG.RSA);
    expect(types).toContain(TPM_ALG.ECC);
  });

  it('rejects another public area than the certified one', async () => {
    const [a, b] = v.webauthn;
    if (!a || !b) throw new Error('vectors');
    await rejects(
      verifyCertify({
        akPublic: await aikKey(a),
        certifyInfo: a.certInfo,
        signature: rsassa(a),
        certifiedPublic: b.pubArea,
      }),
      'NODE_KEY_NOT_CERTIFIED',
    );
  });

  it('rejects a wrong qualifying data when a nonce is expected', async () => {
    const [a] = v.webauthn;
    if (!a) throw new Error('vectors');
    const nonce = a.expectedExtraData.slice();
    nonce[0] = (nonce[0] ?? 0) ^ 1;
    await rejects(
      verifyCertify({
        akPublic: await aikKey(a),
        certifyInfo: a.certInfo,
        signature: rsassa(a),
        certifiedPublic: a.pubArea,
        nonce,
      }),
      'NONCE_MISMATCH',
    );
  });

  it('accepts any qualifying data when no nonce is expected (tpm2-tools ≤ 5.4 cannot set it)', async () => {
    const [a] = v.webauthn;
    if (!a) throw new Error('vectors');
    const r = await verifyCertify({
      akPublic: await aikKey(a),
      certifyInfo: a.certInfo,
      signature: rsassa(a),
      certifiedPublic: a.pubArea,
    });
    expect(r.extraData).toEqual(a.expectedExtraData);
  });

  it('rejects a flipped bit in any byte of certInfo', async () => {
    const [a] = v.webauthn;
    if (!a) throw new Error('vectors');
    const key = await aikKey(a);
    for (let i = 0; i < a.certInfo.length; i++) {
      const certifyInfo = a.certInfo.slice();
      certifyInfo[i] = (certifyInfo[i] ?? 0) ^ 0x80;
      await rejects(
        verifyCertify({ akPublic: key, certifyInfo, signature: rsassa(a), certifiedPublic: a.pubArea }),
        'SIGNATURE_INVALID',
      );
    }
  });

  it('rejects an RS256 signature claimed for an RS1 key', async () => {
    const w = v.webauthn.find((x) => x.alg === -65535);
    if (!w) throw new Error('RS1 vector');
    await rejects(
      verifyCertify({
        akPublic: await aikKey(w),
        certifyInfo: w.certInfo,
        signature: { sigAlg: TPM_ALG.RSASSA, hash: TPM_ALG.SHA256, sig: w.sig },
        certifiedPublic: w.pubArea,
      }),
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects the Windows Hello RSA keys as node keys because they also decrypt, and accepts the ECC one', () => {
    for (const w of v.webauthn) {
      const key = parsePublicAny(w.pubArea);
      if (key.type === TPM_ALG.ECC) {
        expect(() => requireNodeKeyAttributes(key)).not.toThrow();
      } else {
        expect(key.objectAttributes & TPMA_OBJECT.decrypt).toBe(TPMA_OBJECT.decrypt);
        expect(() => requireNodeKeyAttributes(key)).toThrow(
          expect.objectContaining({ reason: 'NODE_KEY_ATTRIBUTES_INVALID' }),
        );
      }
    }
  });
});

describe('verifyCertify with a TPM AK', () => {
  async function certified(attributes = NODE_KEY_ATTRIBUTES) {
    const ak = await softwareEccSigner();
    const node = await softwareEccSigner({ attributes });
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const certifyInfo = forgeAttest(
      { type: TPM_ST.ATTEST_CERTIFY, name: await computeName(node.pub), qualifiedName: new Uint8Array(34) },
      { extraData: nonce },
    );
    return { ak, node, nonce, certifyInfo, signature: await ak.sign(certifyInfo) };
  }

  it('accepts a certified node key and reports its attributes', async () => {
    const c = await certified();
    const r = await verifyCertify({
      akPublic: marshalPublic2b(c.ak.pub),
      certifyInfo: c.certifyInfo,
      signature: c.signature,
      certifiedPublic: marshalPublic2b(c.node.pub),
      nonce: c.nonce,
    });
    expect(r.objectAttributes).toBe(NODE_KEY_ATTRIBUTES);
    expect(r.attributes).toEqual(['fixedTPM', 'fixedParent', 'sensitiveDataOrigin', 'userWithAuth', 'sign']);
    expect(() => requireNodeKeyAttributes(r.certifiedPublic)).not.toThrow();
  });

  it('rejects a certification signed by a non-restricted key', async () => {
    const c = await certified();
    const ak = { ...c.ak.pub, objectAttributes: AK_ATTRIBUTES & ~TPMA_OBJECT.restricted };
    await rejects(
      verifyCertify({
        akPublic: ak,
        certifyInfo: c.certifyInfo,
        signature: c.signature,
        certifiedPublic: c.node.pub,
      }),
      'AK_ATTRIBUTES_INVALID',
    );
  });

  it('rejects a quote presented as a certification', async () => {
    const c = await certified();
    const quote = forgeAttest({ type: TPM_ST.ATTEST_QUOTE, pcrSelect: [], pcrDigest: new Uint8Array(32) });
    await rejects(
      verifyCertify({
        akPublic: c.ak.pub,
        certifyInfo: quote,
        signature: await c.ak.sign(quote),
        certifiedPublic: c.node.pub,
      }),
      'WRONG_ATTEST_TYPE',
    );
  });

  it('rejects a certification by another AK', async () => {
    const c = await certified();
    const other = await softwareEccSigner();
    await rejects(
      verifyCertify({
        akPublic: other.pub,
        certifyInfo: c.certifyInfo,
        signature: c.signature,
        certifiedPublic: c.node.pub,
      }),
      'SIGNATURE_INVALID',
    );
  });

  it('rejects a public area whose attributes were changed after certification', async () => {
    const c = await certified();
    const claimed = {
      ...c.node.pub,
      objectAttributes: c.node.pub.objectAttributes | TPMA_OBJECT.fixedTPM | TPMA_OBJECT.stClear,
    };
    await rejects(
      verifyCertify({
        akPublic: c.ak.pub,
        certifyInfo: c.certifyInfo,
        signature: c.signature,
        certifiedPublic: claimed,
      }),
      'NODE_KEY_NOT_CERTIFIED',
    );
  });

  it('rejects a padded certified public area', async () => {
    const c = await certified();
    await rejects(
      verifyCertify({
        akPublic: c.ak.pub,
        certifyInfo: c.certifyInfo,
        signature: c.signature,
        certifiedPublic: new Uint8Array([...marshalPublic2b(c.node.pub), 0]),
      }),
      'MALFORMED_STRUCTURE',
    );
  });

  it('parses the certify structure it verified', async () => {
    const c = await certified();
    expect(parseAttest(c.certifyInfo).extraData).toEqual(c.nonce);
  });
});

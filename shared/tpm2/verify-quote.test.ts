import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../encoding/bytes.ts';
import { TPM_ALG, TPM_ST, TPMA_OBJECT } from './constants.ts';
import { TpmError, type TpmReason } from './errors.ts';
import { spkiFromPem } from './public-key-spki.ts';
import { parseAttest } from './structures/attest.ts';
import { marshalPublic, marshalPublic2b, parsePublicAny } from './structures/public.ts';
import { marshalSignature, parseSignature } from './structures/signature.ts';
import {
  AK_ATTRIBUTES,
  forgeAttest,
  forgeQuote,
  rsaPublicFromSpki,
  softwareEccSigner,
} from './testing/software-signer.ts';
import { loadVectors, type QuoteVector, type Vectors } from './testing/vectors.ts';
import { type VerifyQuoteInput, verifyQuote } from './verify-quote.ts';

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

const input = (q: QuoteVector): VerifyQuoteInput => ({
  akPublic: q.akPublic,
  quote: q.quote,
  signature: q.signature,
  pcrValues: q.pcrValues,
  nonce: q.nonce,
});

describe('verifyQuote on real TPM quotes', () => {
  it('accepts the swtpm ECC P-256 quote over sha256 PCRs 0, 1, 7', async () => {
    const r = await verifyQuote(input(v.swtpm));
    expect(r.pcrSelection).toEqual({ sha256: [0, 1, 7] });
    expect(r.signature).toEqual({ sigAlg: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 });
    expect(toHex(r.pcrs.sha256?.['7'] ?? new Uint8Array())).toBe(v.swtpm.pcrValues.sha256?.['7']);
    expect(r.clockInfo.safe).toBe(true);
  });

  it('accepts all three GCE quotes, whose pcrDigest uses SHA-256 even for the sha1 and sha384 banks', async () => {
    const banks: string[] = [];
    for (const q of v.gce) {
      const r = await verifyQuote(input(q));
      banks.push(...Object.keys(r.pcrSelection));
      expect(r.signature.hashAlg).toBe(TPM_ALG.SHA256);
      expect(Object.values(r.pcrSelection)[0]).toHaveLength(24);
      // GCE's AK lives in the endorsement hierarchy, so its counters are not obfuscated.
      expect(r.clockInfo.resetCount).toBe(10);
      expect(r.clockInfo.restartCount).toBe(0);
    }
    expect(banks).toEqual(['sha1', 'sha256', 'sha384']);
  });

  it('accepts the Windows quote whose AK scheme pins RSASSA-SHA1, with a SHA-1 pcrDigest', async () => {
    const r = await verifyQuote(input(v.windows));
    expect(r.signature).toEqual({ sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA1 });
    expect(r.pcrSelection.sha1).toHaveLength(24);
  });

  it('accepts the keylime quote with an AK built from its PEM', async () => {
    const ak = await rsaPublicFromSpki(spkiFromPem(v.keylime.akPem), {
      scheme: TPM_ALG.RSASSA,
      hashAlg: TPM_ALG.SHA256,
    });
    const r = await verifyQuote({ ...v.keylime, akPublic: ak });
    expect(r.pcrSelection).toEqual({ sha256: [16] });
  });

  it('accepts the AK as TPMT_PUBLIC bytes, TPM2B_PUBLIC bytes or parsed, and the signature parsed', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    for (const akPublic of [ak, marshalPublic(ak), marshalPublic2b(ak)]) {
      await expect(
        verifyQuote({ ...input(v.swtpm), akPublic, signature: parseSignature(v.swtpm.signature) }),
      ).resolves.toBeDefined();
    }
  });

  it('accepts PCR values given as bytes instead of hex', async () => {
    const sha256 = Object.fromEntries(
      Object.entries(v.swtpm.pcrValues.sha256 ?? {}).map(([k, h]) => [k, fromHex(h) ?? new Uint8Array()]),
    );
    await expect(verifyQuote({ ...input(v.swtpm), pcrValues: { sha256 } })).resolves.toBeDefined();
  });
});

describe('verifyQuote rejections', () => {
  it('rejects a wrong nonce', async () => {
    const nonce = v.swtpm.nonce.slice();
    nonce[0] = (nonce[0] ?? 0) ^ 1;
    await rejects(verifyQuote({ ...input(v.swtpm), nonce }), 'NONCE_MISMATCH');
  });

  it('rejects a nonce that is a prefix of the quoted extraData', async () => {
    await rejects(verifyQuote({ ...input(v.swtpm), nonce: v.swtpm.nonce.subarray(0, 31) }), 'NONCE_MISMATCH');
  });

  it('rejects an altered PCR value', async () => {
    const sha256 = { ...v.swtpm.pcrValues.sha256, '1': '00'.repeat(32) };
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues: { sha256 } }), 'PCR_DIGEST_MISMATCH');
  });

  it('rejects a missing PCR value', async () => {
    const { '7': _, ...sha256 } = v.swtpm.pcrValues.sha256 ?? {};
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues: { sha256 } }), 'PCR_SELECTION_MISMATCH');
  });

  it('rejects an extra PCR value in a quoted bank', async () => {
    const sha256 = { ...v.swtpm.pcrValues.sha256, '2': '00'.repeat(32) };
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues: { sha256 } }), 'PCR_SELECTION_MISMATCH');
  });

  it('rejects a PCR value swapped to an unquoted index', async () => {
    const { '7': seven = '', ...rest } = v.swtpm.pcrValues.sha256 ?? {};
    await rejects(
      verifyQuote({ ...input(v.swtpm), pcrValues: { sha256: { ...rest, '8': seven } } }),
      'PCR_SELECTION_MISMATCH',
    );
  });

  it('rejects values for a bank the quote did not select', async () => {
    const pcrValues = { ...v.swtpm.pcrValues, sha1: { '0': '00'.repeat(20) } };
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues }), 'PCR_SELECTION_MISMATCH');
  });

  it('rejects a missing bank', async () => {
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues: {} }), 'PCR_SELECTION_MISMATCH');
  });

  it('rejects a PCR value of the wrong length for its bank', async () => {
    const sha256 = { ...v.swtpm.pcrValues.sha256, '0': '00'.repeat(20) };
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues: { sha256 } }), 'MALFORMED_STRUCTURE');
  });

  it('rejects a PCR index written with a leading zero', async () => {
    const { '7': seven = '', ...rest } = v.swtpm.pcrValues.sha256 ?? {};
    await rejects(
      verifyQuote({ ...input(v.swtpm), pcrValues: { sha256: { ...rest, '07': seven } } }),
      'MALFORMED_STRUCTURE',
    );
  });

  it('rejects PCR values that are not hex', async () => {
    const sha256 = { ...v.swtpm.pcrValues.sha256, '0': 'zz'.repeat(32) };
    await rejects(verifyQuote({ ...input(v.swtpm), pcrValues: { sha256 } }), 'MALFORMED_STRUCTURE');
  });

  it('rejects a quote signed by another AK', async () => {
    const other = await softwareEccSigner();
    await rejects(verifyQuote({ ...input(v.swtpm), akPublic: other.pub }), 'SIGNATURE_INVALID');
  });

  it('rejects the GCE sha1-bank quote verified with the sha256-bank signature', async () => {
    const [a, b] = v.gce;
    if (!a || !b) throw new Error('GCE vector');
    await rejects(verifyQuote({ ...input(a), signature: b.signature }), 'SIGNATURE_INVALID');
  });

  it('rejects a flipped bit in any byte of the quote', async () => {
    for (let i = 0; i < v.swtpm.quote.length; i++) {
      const quote = v.swtpm.quote.slice();
      quote[i] = (quote[i] ?? 0) ^ 0x01;
      await rejects(verifyQuote({ ...input(v.swtpm), quote }), 'SIGNATURE_INVALID');
    }
  });

  it('rejects a flipped bit in any byte of the signature', async () => {
    for (let i = 0; i < v.swtpm.signature.length; i++) {
      const signature = v.swtpm.signature.slice();
      signature[i] = (signature[i] ?? 0) ^ 0x01;
      const err = await verifyQuote({ ...input(v.swtpm), signature }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TpmError);
      // Header bytes change the algorithm or a size; the rest changes r or s.
      const reason = (err as TpmError).reason;
      if (i >= 6 && i !== 38 && i !== 39) expect(reason, `byte ${i}`).toBe('SIGNATURE_INVALID');
      else
        expect([
          'MALFORMED_STRUCTURE',
          'UNSUPPORTED_ALGORITHM',
          'SIGNATURE_SCHEME_MISMATCH',
          'SIGNATURE_INVALID',
        ]).toContain(reason);
    }
  });

  it('rejects a valid signature from a non-restricted key over a forged TPMS_ATTEST', async () => {
    const signer = await softwareEccSigner({ attributes: AK_ATTRIBUTES & ~TPMA_OBJECT.restricted });
    const quote = await forgeQuote({ sha256: { '0': new Uint8Array(32) } }, v.swtpm.nonce);
    const signature = await signer.sign(quote);
    await rejects(
      verifyQuote({
        akPublic: signer.pub,
        quote,
        signature,
        pcrValues: { sha256: { '0': '00'.repeat(32) } },
        nonce: v.swtpm.nonce,
      }),
      'AK_ATTRIBUTES_INVALID',
    );
  });

  it('accepts the same forged quote when the software key claims to be restricted, proving the rejection above is the attribute check', async () => {
    const signer = await softwareEccSigner();
    const quote = await forgeQuote({ sha256: { '0': new Uint8Array(32) } }, v.swtpm.nonce);
    const signature = await signer.sign(quote);
    await expect(
      verifyQuote({
        akPublic: signer.pub,
        quote,
        signature,
        pcrValues: { sha256: { '0': '00'.repeat(32) } },
        nonce: v.swtpm.nonce,
      }),
    ).resolves.toBeDefined();
  });

  it('rejects an AK that is a decryption key', async () => {
    const ak = { ...parsePublicAny(v.swtpm.akPublic) };
    ak.objectAttributes |= TPMA_OBJECT.decrypt;
    await rejects(verifyQuote({ ...input(v.swtpm), akPublic: ak }), 'AK_ATTRIBUTES_INVALID');
  });

  it('rejects an AK without fixedTPM', async () => {
    const ak = { ...parsePublicAny(v.swtpm.akPublic) };
    ak.objectAttributes &= ~TPMA_OBJECT.fixedTPM;
    await rejects(verifyQuote({ ...input(v.swtpm), akPublic: ak }), 'AK_ATTRIBUTES_INVALID');
  });

  it('rejects a certify structure presented as a quote', async () => {
    const signer = await softwareEccSigner();
    const certify = forgeAttest(
      { type: TPM_ST.ATTEST_CERTIFY, name: new Uint8Array(34), qualifiedName: new Uint8Array(34) },
      { extraData: v.swtpm.nonce },
    );
    await rejects(
      verifyQuote({
        akPublic: signer.pub,
        quote: certify,
        signature: await signer.sign(certify),
        pcrValues: {},
        nonce: v.swtpm.nonce,
      }),
      'WRONG_ATTEST_TYPE',
    );
  });

  it('rejects the Windows creation attestation presented as a quote', async () => {
    expect(parseAttest(v.windows.createAttestation).type).toBe(TPM_ST.ATTEST_CREATION);
    await rejects(
      verifyQuote({
        ...input(v.windows),
        quote: v.windows.createAttestation,
        signature: v.windows.createSignature,
        pcrValues: {},
      }),
      'WRONG_ATTEST_TYPE',
    );
  });

  it('rejects a signed structure without the TPM_GENERATED_VALUE magic', async () => {
    const signer = await softwareEccSigner();
    const quote = forgeAttest(
      { type: TPM_ST.ATTEST_QUOTE, pcrSelect: [], pcrDigest: new Uint8Array(32) },
      { magic: 0xff544348 },
    );
    await rejects(
      verifyQuote({
        akPublic: signer.pub,
        quote,
        signature: await signer.sign(quote),
        pcrValues: {},
        nonce: new Uint8Array(),
      }),
      'BAD_MAGIC',
    );
  });

  it('rejects a signed quote with trailing bytes', async () => {
    const signer = await softwareEccSigner();
    const base = await forgeQuote({ sha256: { '0': new Uint8Array(32) } }, v.swtpm.nonce);
    const quote = new Uint8Array([...base, 0]);
    await rejects(
      verifyQuote({
        akPublic: signer.pub,
        quote,
        signature: await signer.sign(quote),
        pcrValues: { sha256: { '0': '00'.repeat(32) } },
        nonce: v.swtpm.nonce,
      }),
      'MALFORMED_STRUCTURE',
    );
  });

  it('rejects a truncated signed quote', async () => {
    const signer = await softwareEccSigner();
    const quote = (await forgeQuote({ sha256: { '0': new Uint8Array(32) } }, v.swtpm.nonce)).slice(0, -1);
    await rejects(
      verifyQuote({
        akPublic: signer.pub,
        quote,
        signature: await signer.sign(quote),
        pcrValues: { sha256: { '0': '00'.repeat(32) } },
        nonce: v.swtpm.nonce,
      }),
      'MALFORMED_STRUCTURE',
    );
  });

  it('rejects a truncated or padded TPMT_SIGNATURE', async () => {
    await rejects(
      verifyQuote({ ...input(v.swtpm), signature: v.swtpm.signature.slice(0, -1) }),
      'MALFORMED_STRUCTURE',
    );
    await rejects(
      verifyQuote({ ...input(v.swtpm), signature: new Uint8Array([...v.swtpm.signature, 0]) }),
      'MALFORMED_STRUCTURE',
    );
  });

  it('rejects a truncated or padded AK public area', async () => {
    await rejects(
      verifyQuote({ ...input(v.swtpm), akPublic: v.swtpm.akPublic.slice(0, -1) }),
      'MALFORMED_STRUCTURE',
    );
    await rejects(
      verifyQuote({ ...input(v.swtpm), akPublic: new Uint8Array([...v.swtpm.akPublic, 0]) }),
      'MALFORMED_STRUCTURE',
    );
  });

  it('rejects a signature whose hash is not the one the AK scheme pins', async () => {
    const sig = parseSignature(v.swtpm.signature);
    if (sig.sigAlg !== TPM_ALG.ECDSA) throw new Error('ECDSA vector');
    await rejects(
      verifyQuote({ ...input(v.swtpm), signature: marshalSignature({ ...sig, hash: TPM_ALG.SHA384 }) }),
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects an RSASSA signature presented for an ECDSA AK', async () => {
    await rejects(
      verifyQuote({ ...input(v.swtpm), signature: v.windows.signature }),
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects a SHA-1 signature when the AK scheme pins SHA-256', async () => {
    const sig = parseSignature(v.gce[0]?.signature ?? new Uint8Array());
    if (sig.sigAlg !== TPM_ALG.RSASSA) throw new Error('RSASSA vector');
    await rejects(
      verifyQuote({ ...input(v.gce[0] as QuoteVector), signature: { ...sig, hash: TPM_ALG.SHA1 } }),
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects an RSAPSS signature when the AK scheme pins RSASSA', async () => {
    const sig = parseSignature(v.windows.signature);
    if (sig.sigAlg !== TPM_ALG.RSASSA) throw new Error('RSASSA vector');
    await rejects(
      verifyQuote({ ...input(v.windows), signature: { ...sig, sigAlg: TPM_ALG.RSAPSS } }),
      'SIGNATURE_SCHEME_MISMATCH',
    );
  });

  it('rejects a quote of a bank selected twice', async () => {
    const signer = await softwareEccSigner();
    const once = parseAttest(await forgeQuote({ sha256: { '0': new Uint8Array(32) } }, new Uint8Array()));
    if (once.attested.type !== TPM_ST.ATTEST_QUOTE) throw new Error('quote');
    const sel = once.attested.pcrSelect[0];
    if (!sel) throw new Error('selection');
    const quote = forgeAttest({ ...once.attested, pcrSelect: [sel, sel] });
    await rejects(
      verifyQuote({
        akPublic: signer.pub,
        quote,
        signature: await signer.sign(quote),
        pcrValues: { sha256: { '0': '00'.repeat(32) } },
        nonce: new Uint8Array(),
      }),
      'PCR_SELECTION_MISMATCH',
    );
  });
});

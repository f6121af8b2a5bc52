import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAkAttributes } from './ak.ts';
import { checkClockProgress } from './clock.ts';
import { TPM_ALG } from './constants.ts';
import { TpmError } from './errors.ts';
import { marshalAttest, parseAttest, parseAttest2b, parseAttestAny } from './structures/attest.ts';
import { parseEccPoint, parseEccPoint2b } from './structures/ecc-point.ts';
import { marshalPcrSelectionList, parsePcrSelectionList } from './structures/pcr-selection.ts';
import { marshalPublic, parsePublic, parsePublic2b, parsePublicAny } from './structures/public.ts';
import { marshalSignature, parseSignature } from './structures/signature.ts';
import { parseTpm2b } from './structures/tpm2b.ts';
import { loadVectors, type Vectors } from './testing/vectors.ts';
import { verifyCertify } from './verify-certify.ts';
import { verifyQuote } from './verify-quote.ts';

/**
 * Property tests over every parser and verifier of the codec: mutated real structures and random bytes
 * never raise anything but a TpmError, whatever parses round-trips byte for byte, and no mutation of a
 * signed input ever verifies. ≥ 100,000 cases in total (the CI budget, ATTESTATION issue 3).
 */

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../shared/vectors/${p}`, import.meta.url)));

let v: Vectors;
beforeAll(async () => {
  v = await loadVectors(read);
});

const SEED = 20261122;
let totalRuns = 0;
function runs(n: number): { numRuns: number; seed: number } {
  totalRuns += n;
  return { numRuns: n, seed: SEED };
}

/** A byte-level edit of a structure: flip, overwrite, truncate, insert, delete. */
const edit = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let b = bytes.slice();
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + (e.op === 'insert' ? 1 : 0));
    if (e.op === 'flip' && b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << e.bit);
    else if (e.op === 'set' && b.length > 0) b[at] = e.value;
    else if (e.op === 'truncate') b = b.slice(0, at);
    else if (e.op === 'insert') b = new Uint8Array([...b.subarray(0, at), e.value, ...b.subarray(at)]);
    else if (e.op === 'delete' && b.length > 0)
      b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1)]);
  }
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Runs a parser: a TpmError is a fine outcome; anything else thrown fails the property. */
function parsesOrTpmError<T>(parse: (b: Uint8Array) => T, bytes: Uint8Array): T | undefined {
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof TpmError) return undefined;
    throw e;
  }
}

async function rejectsWithTpmError(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (e) {
    if (e instanceof TpmError) return true;
    throw e;
  }
}

const corpus = () => ({
  publics: [v.swtpm.akPublic.subarray(2), v.windows.akPublic, ...v.webauthn.map((w) => w.pubArea)],
  attests: [
    v.swtpm.quote,
    v.windows.quote,
    v.windows.createAttestation,
    v.keylime.quote,
    ...v.webauthn.map((w) => w.certInfo),
    ...v.gce.map((q) => q.quote),
  ],
  signatures: [v.swtpm.signature, v.windows.signature, v.keylime.signature, ...v.gce.map((q) => q.signature)],
});

const randomBytes = fc.uint8Array({ maxLength: 400 });

describe('parsers under random and mutated input', () => {
  it('TPMT_PUBLIC: only TpmError escapes, and whatever parses round-trips', () => {
    const seeds = corpus().publics;
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (i, edits) => {
          const b = mutate(seeds[i] ?? new Uint8Array(), edits);
          const p = parsesOrTpmError(parsePublic, b);
          if (p) expect(same(marshalPublic(p), b)).toBe(true);
          parsesOrTpmError(parsePublicAny, b);
          parsesOrTpmError(parsePublic2b, b);
        },
      ),
      runs(15_000),
    );
    fc.assert(
      fc.property(randomBytes, (b) => {
        const p = parsesOrTpmError(parsePublic, b);
        if (p) expect(same(marshalPublic(p), b)).toBe(true);
        parsesOrTpmError(parsePublicAny, b);
      }),
      runs(10_000),
    );
  });

  it('TPMS_ATTEST: only TpmError escapes, and whatever parses round-trips', () => {
    const seeds = corpus().attests;
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (i, edits) => {
          const b = mutate(seeds[i] ?? new Uint8Array(), edits);
          const a = parsesOrTpmError(parseAttest, b);
          if (a) expect(same(marshalAttest(a), b)).toBe(true);
          parsesOrTpmError(parseAttestAny, b);
          parsesOrTpmError(parseAttest2b, b);
        },
      ),
      runs(20_000),
    );
    fc.assert(
      fc.property(randomBytes, (b) => {
        parsesOrTpmError(parseAttestAny, b);
      }),
      runs(10_000),
    );
  });

  it('TPMT_SIGNATURE: only TpmError escapes, and whatever parses round-trips', () => {
    const seeds = corpus().signatures;
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (i, edits) => {
          const b = mutate(seeds[i] ?? new Uint8Array(), edits);
          const s = parsesOrTpmError(parseSignature, b);
          if (s) expect(same(marshalSignature(s), b)).toBe(true);
        },
      ),
      runs(10_000),
    );
    fc.assert(
      fc.property(randomBytes, (b) => {
        parsesOrTpmError(parseSignature, b);
      }),
      runs(5_000),
    );
  });

  it('TPML_PCR_SELECTION, TPMS_ECC_POINT and TPM2B: only TpmError escapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const l = parsesOrTpmError(parsePcrSelectionList, b);
        if (l) expect(same(marshalPcrSelectionList(l), b)).toBe(true);
        parsesOrTpmError(parseEccPoint, b);
        parsesOrTpmError(parseEccPoint2b, b);
        parsesOrTpmError((x) => parseTpm2b('TPM2B_ID_OBJECT', x), b);
        parsesOrTpmError((x) => parseTpm2b('TPM2B_ENCRYPTED_SECRET', x), b);
      }),
      runs(20_000),
    );
  });

  it('checkClockProgress: only CLOCK_REGRESSION or a result, for any pair of clock infos', () => {
    const clock = fc.record({
      clock: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      resetCount: fc.nat({ max: 0xffffffff }),
      restartCount: fc.nat({ max: 0xffffffff }),
      safe: fc.boolean(),
    });
    fc.assert(
      fc.property(clock, clock, (a, b) => {
        try {
          checkClockProgress(a, b);
        } catch (e) {
          expect(e).toBeInstanceOf(TpmError);
          expect((e as TpmError).reason).toBe('CLOCK_REGRESSION');
        }
      }),
      runs(5_000),
    );
  });
});

describe('verifiers never accept a mutated signed input', () => {
  it('verifyQuote rejects every mutation of the swtpm quote, signature or nonce with a TpmError', async () => {
    const q = v.swtpm;
    const fields = ['quote', 'signature', 'nonce'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        async (field, edits) => {
          const mutated = mutate(q[field], edits);
          fc.pre(!same(mutated, q[field]));
          const input = {
            akPublic: q.akPublic,
            quote: q.quote,
            signature: q.signature,
            nonce: q.nonce,
            pcrValues: q.pcrValues,
            [field]: mutated,
          };
          expect(await rejectsWithTpmError(verifyQuote(input))).toBe(true);
        },
      ),
      runs(4_000),
    );
  });

  it('verifyQuote accepts a mutated AK public area only if it still holds the same key, scheme and AK attributes', async () => {
    // The AK public area is trusted input (pinned by Name at registration), not signed input: a mutation of
    // a field the signature does not depend on (e.g. userWithAuth, authPolicy) may verify. What must never
    // verify is a different key, scheme, or an area that is no longer a valid AK.
    const q = v.swtpm;
    const original = parsePublicAny(q.akPublic);
    if (original.type !== TPM_ALG.ECC) throw new Error('ECC vector');
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
        const akPublic = mutate(q.akPublic, edits);
        fc.pre(!same(akPublic, q.akPublic));
        const input = {
          akPublic,
          quote: q.quote,
          signature: q.signature,
          nonce: q.nonce,
          pcrValues: q.pcrValues,
        };
        if (await rejectsWithTpmError(verifyQuote(input))) return;
        const ak = parsePublicAny(akPublic);
        expect(ak.type).toBe(TPM_ALG.ECC);
        if (ak.type !== TPM_ALG.ECC) return;
        expect(same(ak.x, original.x) && same(ak.y, original.y) && ak.curveId === original.curveId).toBe(
          true,
        );
        expect(ak.scheme).toEqual(original.scheme);
        expect(() => checkAkAttributes(ak)).not.toThrow();
      }),
      runs(2_000),
    );
  });

  it('verifyQuote rejects every change to the reported PCR values', async () => {
    const q = v.swtpm;
    const base = q.pcrValues.sha256 ?? {};
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom('0', '1', '2', '7', '8', '23', '07', 'x'),
          fc.constantFrom(...Object.values(base), '00'.repeat(32), 'ff'.repeat(20)),
        ),
        fc.constantFrom('sha256', 'sha1', 'sha384'),
        async (sha, bank) => {
          const same256 =
            bank === 'sha256' &&
            Object.keys(sha).length === 3 &&
            Object.entries(base).every(([k, h]) => sha[k] === h);
          fc.pre(!same256);
          const input = {
            akPublic: q.akPublic,
            quote: q.quote,
            signature: q.signature,
            nonce: q.nonce,
            pcrValues: { [bank]: sha },
          };
          expect(await rejectsWithTpmError(verifyQuote(input))).toBe(true);
        },
      ),
      runs(2_000),
    );
  });

  it('verifyCertify rejects every mutation of a WebAuthn certInfo, signature or public area', async () => {
    const w = v.webauthn.find((x) => x.alg === -257);
    if (!w) throw new Error('RS256 vector');
    const { AsnConvert } = await import('@peculiar/asn1-schema');
    const { Certificate } = await import('@peculiar/asn1-x509');
    const cert = AsnConvert.parse(w.aikCert, Certificate);
    const key = await crypto.subtle.importKey(
      'spki',
      new Uint8Array(AsnConvert.serialize(cert.tbsCertificate.subjectPublicKeyInfo)),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    const signature = marshalSignature({ sigAlg: 0x0014, hash: 0x000b, sig: w.sig });
    const base = { certifyInfo: w.certInfo, signature, certifiedPublic: w.pubArea };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('certifyInfo', 'signature', 'certifiedPublic'),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        async (field, edits) => {
          const mutated = mutate(base[field], edits);
          fc.pre(!same(mutated, base[field]));
          const input = { akPublic: key, ...base, nonce: w.expectedExtraData, [field]: mutated };
          expect(await rejectsWithTpmError(verifyCertify(input))).toBe(true);
        },
      ),
      runs(4_000),
    );
  });

  it('ran at least 100,000 cases in total', () => {
    expect(totalRuns).toBeGreaterThanOrEqual(100_000);
  });
});

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../encoding/bytes.ts';
import { TPM_ALG, TPM_ECC, TPM_ST } from '../constants.ts';
import { ByteWriter } from '../cursor.ts';
import { TpmError, type TpmReason } from '../errors.ts';
import { loadVectors, type Vectors } from '../testing/vectors.ts';
import { marshalAttest, marshalAttest2b, parseAttest, parseAttest2b, parseAttestAny } from './attest.ts';
import { marshalEccPoint, marshalEccPoint2b, parseEccPoint, parseEccPoint2b } from './ecc-point.ts';
import {
  marshalPcrSelectionList,
  parsePcrSelectionList,
  pcrSelectionFromBanks,
  pcrSelectionToBanks,
  selectedPcrs,
} from './pcr-selection.ts';
import {
  computeName,
  marshalPublic,
  marshalPublic2b,
  parsePublic,
  parsePublic2b,
  parsePublicAny,
  publicKeyToCryptoKey,
  type RsaPublic,
} from './public.ts';
import { marshalSignature, parseSignature } from './signature.ts';
import {
  marshalIdObject,
  marshalTpm2b,
  parseEncryptedSecret,
  parseIdObject,
  parseTpm2b,
  TPM2B_MAX,
} from './tpm2b.ts';

const read = (p: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../shared/vectors/${p}`, import.meta.url)));

let v: Vectors;
beforeAll(async () => {
  v = await loadVectors(read);
});

function reason(f: () => unknown): TpmReason | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof TpmError) return e.reason;
    throw e;
  }
}

/** Every proper prefix of a structure is truncated; every structure plus a byte is padded. */
function expectTruncationAndPaddingRejected(bytes: Uint8Array, parse: (b: Uint8Array) => unknown): void {
  for (let n = 0; n < bytes.length; n++)
    expect(
      reason(() => parse(bytes.subarray(0, n))),
      `prefix ${n}`,
    ).toBe('MALFORMED_STRUCTURE');
  expect(reason(() => parse(new Uint8Array([...bytes, 0])))).toBe('MALFORMED_STRUCTURE');
}

const publics = () => [
  v.swtpm.akPublic.subarray(2),
  ...v.gce.slice(0, 1).map((q) => q.akPublic),
  v.windows.akPublic,
  ...v.webauthn.map((w) => w.pubArea),
];
const attests = () => [
  v.swtpm.quote,
  ...v.gce.map((q) => q.quote),
  v.windows.quote,
  v.windows.createAttestation,
  v.keylime.quote,
  ...v.webauthn.map((w) => w.certInfo),
];
const signatures = () => [
  v.swtpm.signature,
  ...v.gce.map((q) => q.signature),
  v.windows.signature,
  v.windows.createSignature,
  v.keylime.signature,
];

describe('TPMT_PUBLIC', () => {
  it('round-trips every vector public area byte for byte', () => {
    for (const b of publics()) expect(toHex(marshalPublic(parsePublic(b)))).toBe(toHex(b));
  });

  it('computes the swtpm AK Name exactly as tpm2_createak -n wrote it', async () => {
    expect(toHex(await computeName(parsePublicAny(v.swtpm.akPublic)))).toBe(toHex(v.swtpm.akName));
  });

  it('parses the observed AK attributes: GCE 0x00050072, Windows PCP 0x00050472 with RSASSA-SHA1', () => {
    expect(parsePublic(v.gce[0]?.akPublic ?? new Uint8Array()).objectAttributes).toBe(0x00050072);
    const w = parsePublic(v.windows.akPublic);
    expect(w.objectAttributes).toBe(0x00050472);
    expect(w.scheme).toEqual({ scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA1 });
  });

  it('reads TPM2B_PUBLIC and bare TPMT_PUBLIC through parsePublicAny', () => {
    const pub = parsePublic2b(v.swtpm.akPublic);
    expect(parsePublicAny(v.swtpm.akPublic)).toEqual(pub);
    expect(parsePublicAny(marshalPublic(pub))).toEqual(pub);
    expect(toHex(marshalPublic2b(pub))).toBe(toHex(v.swtpm.akPublic));
  });

  it('rejects every truncation and padding of a public area', () => {
    expectTruncationAndPaddingRejected(v.swtpm.akPublic.subarray(2), parsePublic);
    expectTruncationAndPaddingRejected(v.windows.akPublic, parsePublic);
  });

  it('rejects a TPM2B_PUBLIC whose size does not cover the area exactly', () => {
    const b = v.swtpm.akPublic.slice();
    b[1] = (b[1] ?? 0) - 1;
    expect(reason(() => parsePublic2b(b))).toBe('MALFORMED_STRUCTURE');
  });

  it('rejects KEYEDHASH and SYMCIPHER objects as unsupported', () => {
    const b = v.swtpm.akPublic.slice(2);
    b[1] = TPM_ALG.KEYEDHASH;
    expect(reason(() => parsePublic(b))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('rejects an authPolicy longer than the largest digest', () => {
    const w = new ByteWriter().u16(TPM_ALG.ECC).u16(TPM_ALG.SHA256).u32(0).tpm2b(new Uint8Array(65));
    expect(reason(() => parsePublic(w.finish()))).toBe('MALFORMED_STRUCTURE');
  });

  it('round-trips the default EK templates (AES-128-CFB, RSA exponent 0 and ECC P-256 with empty unique)', () => {
    const policy = new Uint8Array(32).fill(0x83);
    const rsaEk = new ByteWriter().u16(TPM_ALG.RSA).u16(TPM_ALG.SHA256).u32(0x000300b2).tpm2b(policy);
    rsaEk
      .u16(TPM_ALG.AES)
      .u16(128)
      .u16(TPM_ALG.CFB)
      .u16(TPM_ALG.NULL)
      .u16(2048)
      .u32(0)
      .tpm2b(new Uint8Array(256));
    const eccEk = new ByteWriter().u16(TPM_ALG.ECC).u16(TPM_ALG.SHA256).u32(0x000300b2).tpm2b(policy);
    eccEk
      .u16(TPM_ALG.AES)
      .u16(128)
      .u16(TPM_ALG.CFB)
      .u16(TPM_ALG.NULL)
      .u16(TPM_ECC.NIST_P256)
      .u16(TPM_ALG.NULL)
      .tpm2b(new Uint8Array(32))
      .tpm2b(new Uint8Array(32));
    for (const b of [rsaEk.finish(), eccEk.finish()]) {
      const p = parsePublic(b);
      expect(p.symmetric).toEqual({ algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB });
      expect(toHex(marshalPublic(p))).toBe(toHex(b));
    }
  });

  it('round-trips ECDAA (with count), OAEP and RSAES schemes and a KDF', () => {
    const ecdaa = new ByteWriter().u16(TPM_ALG.ECC).u16(TPM_ALG.SHA256).u32(0).tpm2b(new Uint8Array());
    ecdaa
      .u16(TPM_ALG.NULL)
      .u16(TPM_ALG.ECDAA)
      .u16(TPM_ALG.SHA256)
      .u16(7)
      .u16(TPM_ECC.BN_P256)
      .u16(TPM_ALG.KDF1_SP800_56A)
      .u16(TPM_ALG.SHA256);
    ecdaa.tpm2b(new Uint8Array(32)).tpm2b(new Uint8Array(32));
    const oaep = new ByteWriter().u16(TPM_ALG.RSA).u16(TPM_ALG.SHA256).u32(0).tpm2b(new Uint8Array());
    oaep.u16(TPM_ALG.NULL).u16(TPM_ALG.OAEP).u16(TPM_ALG.SHA384).u16(2048).u32(3).tpm2b(new Uint8Array(256));
    const rsaes = new ByteWriter().u16(TPM_ALG.RSA).u16(TPM_ALG.SHA256).u32(0).tpm2b(new Uint8Array());
    rsaes.u16(TPM_ALG.NULL).u16(TPM_ALG.RSAES).u16(2048).u32(0).tpm2b(new Uint8Array(256));
    const [a, b, c] = [ecdaa.finish(), oaep.finish(), rsaes.finish()];
    expect(parsePublic(a).scheme).toEqual({ scheme: TPM_ALG.ECDAA, hashAlg: TPM_ALG.SHA256, count: 7 });
    expect(parsePublic(c).scheme).toEqual({ scheme: TPM_ALG.RSAES, hashAlg: TPM_ALG.NULL });
    for (const x of [a, b, c]) expect(toHex(marshalPublic(parsePublic(x)))).toBe(toHex(x));
  });
});

describe('publicKeyToCryptoKey', () => {
  it('imports the swtpm ECC AK for ECDSA and for ECDH', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    expect((await publicKeyToCryptoKey(ak, 'verify')).algorithm).toEqual({
      name: 'ECDSA',
      namedCurve: 'P-256',
    });
    expect((await publicKeyToCryptoKey(ak, 'ecdh')).algorithm).toEqual({ name: 'ECDH', namedCurve: 'P-256' });
  });

  it('imports the Windows RSA AK with its pinned SHA-1 RSASSA scheme and for OAEP with nameAlg', async () => {
    const ak = parsePublic(v.windows.akPublic);
    expect((await publicKeyToCryptoKey(ak, 'verify')).algorithm).toMatchObject({
      name: 'RSASSA-PKCS1-v1_5',
      hash: { name: 'SHA-1' },
      modulusLength: 2048,
    });
    expect((await publicKeyToCryptoKey(ak, 'encrypt-oaep')).algorithm).toMatchObject({
      name: 'RSA-OAEP',
      hash: { name: 'SHA-256' },
    });
  });

  it('rejects ECDH on an RSA key and OAEP on an ECC key', async () => {
    await expect(publicKeyToCryptoKey(parsePublic(v.windows.akPublic), 'ecdh')).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
    await expect(
      publicKeyToCryptoKey(parsePublicAny(v.swtpm.akPublic), 'encrypt-oaep'),
    ).rejects.toMatchObject({ reason: 'UNSUPPORTED_ALGORITHM' });
  });

  it('rejects RSA keys under 2048 bits', async () => {
    const ak = parsePublic(v.windows.akPublic) as RsaPublic;
    const small = { ...ak, keyBits: 1024, modulus: ak.modulus.slice(0, 128) };
    await expect(publicKeyToCryptoKey(small, 'verify')).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });

  it('rejects a modulus whose length disagrees with keyBits', async () => {
    const ak = parsePublic(v.windows.akPublic) as RsaPublic;
    await expect(publicKeyToCryptoKey({ ...ak, keyBits: 3072 }, 'verify')).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('rejects BN_P256 and SM2 curves', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    for (const curveId of [TPM_ECC.BN_P256, TPM_ECC.SM2_P256]) {
      await expect(publicKeyToCryptoKey({ ...ak, curveId } as typeof ak, 'verify')).rejects.toMatchObject({
        reason: 'UNSUPPORTED_ALGORITHM',
      });
    }
  });

  it('rejects a point that is not on the curve as malformed', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    await expect(
      publicKeyToCryptoKey({ ...ak, y: new Uint8Array(32).fill(1) } as typeof ak, 'verify'),
    ).rejects.toMatchObject({
      reason: 'MALFORMED_STRUCTURE',
    });
  });

  it('left-pads short coordinates and accepts extra leading zeros', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    if (ak.type !== TPM_ALG.ECC) throw new Error('ECC');
    await expect(
      publicKeyToCryptoKey({ ...ak, x: new Uint8Array([0, 0, ...ak.x]) }, 'verify'),
    ).resolves.toBeDefined();
  });

  it('rejects a coordinate longer than the field', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    if (ak.type !== TPM_ALG.ECC) throw new Error('ECC');
    await expect(
      publicKeyToCryptoKey({ ...ak, x: new Uint8Array([1, ...ak.x]) }, 'verify'),
    ).rejects.toMatchObject({ reason: 'MALFORMED_STRUCTURE' });
  });

  it('rejects an unsupported nameAlg when computing a Name', async () => {
    const ak = parsePublicAny(v.swtpm.akPublic);
    await expect(computeName({ ...ak, nameAlg: TPM_ALG.SM3_256 })).rejects.toMatchObject({
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });
});

describe('TPMS_ATTEST', () => {
  it('round-trips every vector attestation (quote, certify, creation) byte for byte', () => {
    const types = new Set<number>();
    for (const b of attests()) {
      const a = parseAttest(b);
      types.add(a.type);
      expect(toHex(marshalAttest(a))).toBe(toHex(b));
      expect(a.raw).toBe(b);
    }
    expect([...types].sort()).toEqual(
      [TPM_ST.ATTEST_CERTIFY, TPM_ST.ATTEST_QUOTE, TPM_ST.ATTEST_CREATION].sort(),
    );
  });

  it('decodes the swtpm quote fields as tpm2_print shows them', () => {
    const a = parseAttest(v.swtpm.quote);
    expect(a.magic).toBe(0xff544347);
    expect(a.extraData).toEqual(v.swtpm.nonce);
    if (a.attested.type !== TPM_ST.ATTEST_QUOTE) throw new Error('quote');
    expect(pcrSelectionToBanks(a.attested.pcrSelect)).toEqual({ sha256: [0, 1, 7] });
    expect(a.attested.pcrDigest).toHaveLength(32);
  });

  it('reads TPM2B_ATTEST and bare TPMS_ATTEST through parseAttestAny, keeping the signed bytes', () => {
    const a = parseAttest(v.swtpm.quote);
    const wrapped = marshalAttest2b(a);
    expect(toHex(parseAttest2b(wrapped).raw)).toBe(toHex(v.swtpm.quote));
    expect(toHex(parseAttestAny(wrapped).raw)).toBe(toHex(v.swtpm.quote));
    expect(parseAttestAny(v.swtpm.quote).raw).toBe(v.swtpm.quote);
  });

  it('rejects every truncation and padding of a quote, a certify and a creation attestation', () => {
    expectTruncationAndPaddingRejected(v.swtpm.quote, parseAttest);
    expectTruncationAndPaddingRejected(v.webauthn[0]?.certInfo ?? new Uint8Array(), parseAttest);
    expectTruncationAndPaddingRejected(v.windows.createAttestation, parseAttest);
  });

  it('rejects a wrong magic with BAD_MAGIC', () => {
    const b = v.swtpm.quote.slice();
    b[3] = 0x48;
    expect(reason(() => parseAttest(b))).toBe('BAD_MAGIC');
  });

  it('rejects an unknown attestation type with WRONG_ATTEST_TYPE', () => {
    const b = v.swtpm.quote.slice();
    b[5] = 0x1b;
    expect(reason(() => parseAttest(b))).toBe('WRONG_ATTEST_TYPE');
  });

  it('rejects a safe flag that is neither YES nor NO', () => {
    const a = parseAttest(v.swtpm.quote);
    const b = v.swtpm.quote.slice();
    const safeOffset = 4 + 2 + 2 + a.qualifiedSigner.length + 2 + a.extraData.length + 16;
    expect(b[safeOffset]).toBe(1);
    b[safeOffset] = 2;
    expect(reason(() => parseAttest(b))).toBe('MALFORMED_STRUCTURE');
  });

  it('rejects a TPM2B_ATTEST whose size does not match', () => {
    const wrapped = marshalAttest2b(parseAttest(v.swtpm.quote));
    expect(reason(() => parseAttest2b(wrapped.subarray(0, -1)))).toBe('MALFORMED_STRUCTURE');
    expect(reason(() => parseAttest2b(new Uint8Array([...wrapped, 0])))).toBe('MALFORMED_STRUCTURE');
  });

  it('round-trips the TIME, NV, NV_DIGEST and audit attestation types', () => {
    const clockInfo = { clock: 1n, resetCount: 2, restartCount: 3, safe: false };
    const common = {
      magic: 0xff544347,
      qualifiedSigner: new Uint8Array(34),
      extraData: new Uint8Array(4),
      clockInfo,
      firmwareVersion: 5n,
    };
    const bodies = [
      { type: TPM_ST.ATTEST_TIME, time: 9n, clockInfo, firmwareVersion: 7n },
      { type: TPM_ST.ATTEST_NV, indexName: new Uint8Array(34), offset: 3, nvContents: new Uint8Array(100) },
      { type: TPM_ST.ATTEST_NV_DIGEST, indexName: new Uint8Array(34), nvDigest: new Uint8Array(32) },
      {
        type: TPM_ST.ATTEST_COMMAND_AUDIT,
        auditCounter: 4n,
        digestAlg: TPM_ALG.SHA256,
        auditDigest: new Uint8Array(32),
        commandDigest: new Uint8Array(32),
      },
      { type: TPM_ST.ATTEST_SESSION_AUDIT, exclusiveSession: true, sessionDigest: new Uint8Array(32) },
    ] as const;
    for (const attested of bodies) {
      const b = marshalAttest({ ...common, attested });
      const a = parseAttest(b);
      expect(a.attested).toEqual(attested);
      expect(toHex(marshalAttest(a))).toBe(toHex(b));
    }
  });
});

describe('TPMT_SIGNATURE', () => {
  it('round-trips every vector signature byte for byte', () => {
    for (const b of signatures()) expect(toHex(marshalSignature(parseSignature(b)))).toBe(toHex(b));
  });

  it('decodes the swtpm ECDSA-SHA256 signature with 32-byte r and s', () => {
    const s = parseSignature(v.swtpm.signature);
    expect(s).toMatchObject({ sigAlg: TPM_ALG.ECDSA, hash: TPM_ALG.SHA256 });
    if (s.sigAlg !== TPM_ALG.ECDSA) throw new Error('ECDSA');
    expect([s.r.length, s.s.length]).toEqual([32, 32]);
  });

  it('rejects every truncation and padding of a signature', () => {
    expectTruncationAndPaddingRejected(v.swtpm.signature, parseSignature);
    expectTruncationAndPaddingRejected(v.windows.signature, parseSignature);
  });

  it('round-trips RSAPSS, HMAC and NULL signatures', () => {
    for (const sig of [
      { sigAlg: TPM_ALG.RSAPSS, hash: TPM_ALG.SHA384, sig: new Uint8Array(256) },
      { sigAlg: TPM_ALG.HMAC, hash: TPM_ALG.SHA1, digest: new Uint8Array(20).fill(7) },
      { sigAlg: TPM_ALG.NULL },
    ] as const) {
      const b = marshalSignature(sig);
      expect(parseSignature(b)).toEqual(sig);
    }
  });

  it('rejects an unknown sigAlg and an HMAC with an unknown hash', () => {
    expect(reason(() => parseSignature(Uint8Array.of(0x00, 0x99)))).toBe('UNSUPPORTED_ALGORITHM');
    expect(reason(() => parseSignature(Uint8Array.of(0x00, 0x05, 0x00, 0x12)))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('rejects an RSA signature larger than RSA-4096', () => {
    const b = new ByteWriter().u16(TPM_ALG.RSASSA).u16(TPM_ALG.SHA256).tpm2b(new Uint8Array(513)).finish();
    expect(reason(() => parseSignature(b))).toBe('MALFORMED_STRUCTURE');
  });
});

describe('TPML_PCR_SELECTION', () => {
  it('builds { sha256: [0..7] } as one bank with sizeofSelect 3', () => {
    const sel = pcrSelectionFromBanks({ sha256: [0, 1, 2, 3, 4, 5, 6, 7] });
    expect(toHex(marshalPcrSelectionList(sel))).toBe('00000001000b03ff0000');
  });

  it('lists selected indices per bank in ascending order, across sizeofSelect 4', () => {
    const sel = pcrSelectionFromBanks({ sha1: [23, 0, 10], sha384: [31] });
    expect(pcrSelectionToBanks(sel)).toEqual({ sha1: [0, 10, 23], sha384: [31] });
    expect(sel[1]?.pcrSelect).toHaveLength(4);
    expect(selectedPcrs({ hash: TPM_ALG.SHA256, pcrSelect: Uint8Array.of(0x83, 0, 0x80) })).toEqual([
      0, 1, 7, 23,
    ]);
  });

  it('round-trips and rejects truncation and padding', () => {
    const b = marshalPcrSelectionList(pcrSelectionFromBanks({ sha1: [0], sha256: [1, 2] }));
    expect(toHex(marshalPcrSelectionList(parsePcrSelectionList(b)))).toBe(toHex(b));
    expectTruncationAndPaddingRejected(b, parsePcrSelectionList);
  });

  it('rejects more banks than a TPM has and oversize sizeofSelect', () => {
    expect(reason(() => parsePcrSelectionList(Uint8Array.of(0, 0, 0, 17)))).toBe('MALFORMED_STRUCTURE');
    expect(
      reason(() => parsePcrSelectionList(Uint8Array.of(0, 0, 0, 1, 0, 0x0b, 9, ...new Uint8Array(9)))),
    ).toBe('MALFORMED_STRUCTURE');
  });

  it('rejects unknown bank names and out-of-range indices when building', () => {
    expect(reason(() => pcrSelectionFromBanks({ md5: [0] }))).toBe('UNSUPPORTED_ALGORITHM');
    expect(reason(() => pcrSelectionFromBanks({ sha256: [64] }))).toBe('MALFORMED_STRUCTURE');
  });
});

describe('TPMS_ECC_POINT and TPM2B wrappers', () => {
  it('round-trips a P-256 point bare and size-prefixed', () => {
    const p = { x: new Uint8Array(32).fill(1), y: new Uint8Array(32).fill(2) };
    expect(parseEccPoint(marshalEccPoint(p))).toEqual(p);
    expect(parseEccPoint2b(marshalEccPoint2b(p))).toEqual(p);
    expect(toHex(marshalEccPoint2b(p)).slice(0, 8)).toBe('00440020');
    expectTruncationAndPaddingRejected(marshalEccPoint2b(p), parseEccPoint2b);
  });

  it('rejects a TPM2B_ECC_POINT whose inner point is shorter than its size', () => {
    const b = new ByteWriter()
      .tpm2b(new Uint8Array([...marshalEccPoint({ x: new Uint8Array(2), y: new Uint8Array(2) }), 0]))
      .finish();
    expect(reason(() => parseEccPoint2b(b))).toBe('MALFORMED_STRUCTURE');
  });

  it('wraps and unwraps TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET, TPM2B_DIGEST and TPM2B_DATA within their caps', () => {
    const blob = marshalIdObject(new Uint8Array(68).fill(9));
    expect(toHex(blob.subarray(0, 2))).toBe('0044');
    expect(parseIdObject(blob)).toEqual(new Uint8Array(68).fill(9));
    for (const kind of ['TPM2B_DIGEST', 'TPM2B_DATA', 'TPM2B_ENCRYPTED_SECRET', 'TPM2B_ID_OBJECT'] as const) {
      const max = TPM2B_MAX[kind];
      expect(parseTpm2b(kind, marshalTpm2b(kind, new Uint8Array(max)))).toHaveLength(max);
      const over = new ByteWriter().tpm2b(new Uint8Array(max + 1)).finish();
      expect(reason(() => parseTpm2b(kind, over))).toBe('MALFORMED_STRUCTURE');
      expect(() => marshalTpm2b(kind, new Uint8Array(max + 1))).toThrow(RangeError);
    }
    expectTruncationAndPaddingRejected(
      marshalTpm2b('TPM2B_ENCRYPTED_SECRET', new Uint8Array(256)),
      parseEncryptedSecret,
    );
  });
});

import { TPM_ALG, TPM_ECC, TPM_GENERATED_VALUE, TPM_ST, TPMA_OBJECT } from '../constants.ts';
import { marshalAttest, type TpmsClockInfo, type TpmuAttest } from '../structures/attest.ts';
import { pcrSelectionFromBanks, selectedPcrs } from '../structures/pcr-selection.ts';
import { type EccPublic, hashAlgorithm, type RsaPublic } from '../structures/public.ts';
import type { TpmtSignature } from '../structures/signature.ts';
import type { PublicJwk, WebCryptoKey } from '../webcrypto-types.ts';

/**
 * A software stand-in for a TPM signing key, for tests and benchmarks: a WebCrypto key pair wrapped in a
 * TPMT_PUBLIC whose attributes the test chooses. It is what an attacker without a TPM has — which is the
 * point of the "valid signature from a non-restricted key over a forged TPMS_ATTEST" tests.
 */

/** The attributes `tpm2_createak` gives an AK (0x00050072). */
export const AK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.sign;

/** A node key as `tpm2_create -G ecc -a fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign`. */
export const NODE_KEY_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.sign;

interface KeyPair {
  publicKey: WebCryptoKey;
  privateKey: WebCryptoKey;
}

export interface SoftwareSigner<P> {
  pub: P;
  privateKey: WebCryptoKey;
  /** Signs with the given hash (defaults to the key's scheme hash) and returns a TPMT_SIGNATURE. */
  sign(message: Uint8Array, hashAlg?: number): Promise<TpmtSignature>;
}

function fromBase64Url(s: string | undefined): Uint8Array {
  const b = atob((s ?? '').replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/** An ECC P-256 signer; `scheme` defaults to ECDSA-SHA256 (tpm2_createak -G ecc -s ecdsa -g sha256). */
export async function softwareEccSigner(
  opts: { attributes?: number; scheme?: { scheme: number; hashAlg: number } } = {},
): Promise<SoftwareSigner<EccPublic>> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as KeyPair;
  const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as PublicJwk;
  const scheme = opts.scheme ?? { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 };
  const pub: EccPublic = {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: opts.attributes ?? AK_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 },
    scheme,
    curveId: TPM_ECC.NIST_P256,
    kdf: { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL },
    x: fromBase64Url(jwk.x),
    y: fromBase64Url(jwk.y),
  };
  return {
    pub,
    privateKey: pair.privateKey,
    async sign(message, hashAlg = scheme.scheme === TPM_ALG.NULL ? TPM_ALG.SHA256 : scheme.hashAlg) {
      const hash = hashAlgorithm(hashAlg, 'test hash').webcrypto;
      const raw = new Uint8Array(
        await crypto.subtle.sign(
          { name: 'ECDSA', hash },
          pair.privateKey,
          message as Uint8Array<ArrayBuffer>,
        ),
      );
      return { sigAlg: TPM_ALG.ECDSA, hash: hashAlg, r: raw.slice(0, 32), s: raw.slice(32) };
    },
  };
}

/** An RSA-2048 signer for RSASSA or RSAPSS (PSS salt defaults to the hash length, as current TPMs use). */
export async function softwareRsaSigner(opts: {
  scheme: typeof TPM_ALG.RSASSA | typeof TPM_ALG.RSAPSS;
  hashAlg: number;
  attributes?: number;
  saltLength?: number;
  /** Marshal the key scheme as NULL (the signature still uses `scheme`/`hashAlg`). */
  nullScheme?: boolean;
}): Promise<SoftwareSigner<RsaPublic>> {
  const hash = hashAlgorithm(opts.hashAlg, 'test hash');
  const name = opts.scheme === TPM_ALG.RSASSA ? 'RSASSA-PKCS1-v1_5' : 'RSA-PSS';
  const pair = (await crypto.subtle.generateKey(
    { name, modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: hash.webcrypto },
    true,
    ['sign', 'verify'],
  )) as KeyPair;
  const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as PublicJwk;
  const pub: RsaPublic = {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: opts.attributes ?? AK_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 },
    scheme: opts.nullScheme
      ? { scheme: TPM_ALG.NULL, hashAlg: TPM_ALG.NULL }
      : { scheme: opts.scheme, hashAlg: opts.hashAlg },
    keyBits: 2048,
    exponent: 0,
    modulus: fromBase64Url(jwk.n),
  };
  return {
    pub,
    privateKey: pair.privateKey,
    async sign(message) {
      const params =
        opts.scheme === TPM_ALG.RSASSA ? { name } : { name, saltLength: opts.saltLength ?? hash.size };
      const sig = new Uint8Array(
        await crypto.subtle.sign(params, pair.privateKey, message as Uint8Array<ArrayBuffer>),
      );
      return { sigAlg: opts.scheme, hash: opts.hashAlg, sig };
    },
  };
}

export const DEFAULT_CLOCK: TpmsClockInfo = {
  clock: 1_000_000n,
  resetCount: 10,
  restartCount: 0,
  safe: true,
};

/** TPMS_ATTEST bytes with the TPM's magic around any attested body (what a forger would build). */
export function forgeAttest(
  attested: TpmuAttest,
  opts: { extraData?: Uint8Array; clockInfo?: TpmsClockInfo; magic?: number } = {},
): Uint8Array {
  return marshalAttest({
    magic: opts.magic ?? TPM_GENERATED_VALUE,
    qualifiedSigner: Uint8Array.of(0x00, 0x0b, ...new Uint8Array(32).fill(0x51)),
    extraData: opts.extraData ?? new Uint8Array(0),
    clockInfo: opts.clockInfo ?? DEFAULT_CLOCK,
    firmwareVersion: 0x2016052800160028n,
    attested,
  });
}

/**
 * A quote over `pcrs` (`{ sha256: { '0': bytes, … } }`): the selection from the keys, the pcrDigest with
 * `digestAlg` (the signing hash) over the values in selection order — exactly what a TPM computes.
 */
export async function forgeQuote(
  pcrs: Readonly<Record<string, Readonly<Record<string, Uint8Array>>>>,
  nonce: Uint8Array,
  digestAlg: number = TPM_ALG.SHA256,
  opts: { clockInfo?: TpmsClockInfo } = {},
): Promise<Uint8Array> {
  const pcrSelect = pcrSelectionFromBanks(
    Object.fromEntries(Object.entries(pcrs).map(([bank, v]) => [bank, Object.keys(v).map(Number)])),
  );
  const banks = Object.keys(pcrs);
  const parts: Uint8Array[] = [];
  pcrSelect.forEach((sel, i) => {
    const bank = pcrs[banks[i] ?? ''] ?? {};
    for (const idx of selectedPcrs(sel)) parts.push(bank[String(idx)] ?? new Uint8Array(0));
  });
  const total = parts.reduce((n, p) => n + p.length, 0);
  const concat = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    concat.set(p, o);
    o += p.length;
  }
  const pcrDigest = new Uint8Array(
    await crypto.subtle.digest(hashAlgorithm(digestAlg, 'test hash').webcrypto, concat),
  );
  return forgeAttest(
    { type: TPM_ST.ATTEST_QUOTE, pcrSelect, pcrDigest },
    { extraData: nonce, ...(opts.clockInfo ? { clockInfo: opts.clockInfo } : {}) },
  );
}

/**
 * A TPMT_PUBLIC for an RSA key known only as an SPKI (keylime's vector gives its AK as PEM): the modulus
 * from the key, the scheme and attributes as the caller asserts them.
 */
export async function rsaPublicFromSpki(
  spki: Uint8Array,
  scheme: { scheme: number; hashAlg: number },
  attributes = AK_ATTRIBUTES,
): Promise<RsaPublic> {
  const key = await crypto.subtle.importKey(
    'spki',
    spki as Uint8Array<ArrayBuffer>,
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    true,
    ['verify'],
  );
  const jwk = (await crypto.subtle.exportKey('jwk', key)) as PublicJwk;
  const modulus = fromBase64Url(jwk.n);
  const e = fromBase64Url(jwk.e).reduce((acc, b) => acc * 256 + b, 0);
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attributes,
    authPolicy: new Uint8Array(0),
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 },
    scheme,
    keyBits: modulus.length * 8,
    exponent: e === 65537 ? 0 : e,
    modulus,
  };
}

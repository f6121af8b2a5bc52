import { utf8 } from '../../../../../shared/encoding/bytes.ts';
import { ProvaraError } from '../../../../../shared/provara/errors.ts';
import type { CoseAlgorithm } from '../../../../../shared/provara/signature-proof.ts';
import { type CborMap, type CborValue, cborDecode, cborEncode } from './cbor.ts';
import { CTAPHID_CBOR, type CtapHidChannel } from './ctaphid.ts';

/** CTAP 2.1 §6 authenticator commands, over a CTAPHID channel. */
export const CMD_MAKE_CREDENTIAL = 0x01;
export const CMD_GET_ASSERTION = 0x02;
export const CMD_GET_INFO = 0x04;

export const CTAP2_OK = 0x00;
export const CTAP2_ERR_NO_CREDENTIALS = 0x2e;
export const CTAP2_ERR_OPERATION_DENIED = 0x27;
export const CTAP2_ERR_UNSUPPORTED_ALGORITHM = 0x26;
export const CTAP2_ERR_USER_ACTION_TIMEOUT = 0x2f;

/** A touch can take the user a while: CTAP allows 30 s before the device gives up. */
const USER_TIMEOUT_MS = 30_000;

export interface AuthenticatorInfo {
  versions: string[];
  aaguid: Uint8Array;
  algorithms: CoseAlgorithm[] | undefined;
}

export interface Credential {
  credentialId: Uint8Array;
  alg: CoseAlgorithm;
  /** Raw key: 32 bytes for Ed25519 (COSE OKP `x`), 65-byte uncompressed point for ES256. */
  publicKey: Uint8Array;
}

export interface Assertion {
  credentialId: Uint8Array;
  authenticatorData: Uint8Array;
  signature: Uint8Array;
}

async function command(
  ch: CtapHidChannel,
  cmd: number,
  params: CborMap | undefined,
  onKeepalive?: (s: number) => void,
): Promise<CborMap> {
  const body = params ? cborEncode(params) : new Uint8Array(0);
  const msg = new Uint8Array(1 + body.length);
  msg[0] = cmd;
  msg.set(body, 1);
  const r = await ch.transact(CTAPHID_CBOR, msg, USER_TIMEOUT_MS, onKeepalive);
  const status = r[0] ?? 0xff;
  if (status !== CTAP2_OK) {
    const code =
      status === CTAP2_ERR_OPERATION_DENIED || status === CTAP2_ERR_USER_ACTION_TIMEOUT
        ? 'USER_PRESENCE_REQUIRED'
        : 'CTAP_ERROR';
    throw new ProvaraError(code, `authenticator returned CTAP2 status 0x${status.toString(16)}`, {
      ctap2: status,
    });
  }
  const { value } = cborDecode(r.subarray(1));
  if (!(value instanceof Map)) throw new ProvaraError('CBOR_INVALID', 'the response is not a CBOR map');
  return value;
}

const bytesAt = (m: CborMap, k: number): Uint8Array => {
  const v = m.get(k);
  if (!(v instanceof Uint8Array))
    throw new ProvaraError('CBOR_INVALID', `response member ${k} is not a byte string`);
  return v;
};

export async function getInfo(ch: CtapHidChannel): Promise<AuthenticatorInfo> {
  const m = await command(ch, CMD_GET_INFO, undefined);
  const versions =
    (m.get(1) as CborValue[] | undefined)?.filter((v): v is string => typeof v === 'string') ?? [];
  const algs = m.get(0x0a);
  return {
    versions,
    aaguid: bytesAt(m, 3),
    algorithms: Array.isArray(algs)
      ? algs
          .map((a) => (a instanceof Map ? a.get('alg') : undefined))
          .filter((a): a is CoseAlgorithm => a === -8 || a === -7)
      : undefined,
  };
}

/** Parses a COSE_Key (RFC 9053): OKP/Ed25519 or EC2/P-256. */
export function coseKeyToRaw(key: CborValue): { alg: CoseAlgorithm; publicKey: Uint8Array } {
  if (!(key instanceof Map)) throw new ProvaraError('CBOR_INVALID', 'COSE key is not a map');
  const kty = key.get(1);
  const alg = key.get(3);
  const x = key.get(-2);
  if (kty === 1 && alg === -8 && key.get(-1) === 6 && x instanceof Uint8Array && x.length === 32)
    return { alg: -8, publicKey: x };
  const y = key.get(-3);
  if (
    kty === 2 &&
    alg === -7 &&
    key.get(-1) === 1 &&
    x instanceof Uint8Array &&
    y instanceof Uint8Array &&
    x.length === 32 &&
    y.length === 32
  ) {
    const raw = new Uint8Array(65);
    raw[0] = 4;
    raw.set(x, 1);
    raw.set(y, 33);
    return { alg: -7, publicKey: raw };
  }
  throw new ProvaraError('CBOR_INVALID', 'unsupported COSE key (want OKP Ed25519 or EC2 P-256)');
}

/**
 * authenticatorMakeCredential, asking for Ed25519 (COSE −8) first and ES256 (−7) as fallback: many keys
 * have no Ed25519, and an ES256 credential still works through the `webauthn.v1` envelope (not Profile A).
 */
export async function makeCredential(
  ch: CtapHidChannel,
  opts: {
    rpId: string;
    userName: string;
    /** pubKeyCredParams in preference order (default −8 then −7); the authenticator takes the first it supports. */
    algorithms?: CoseAlgorithm[];
    onKeepalive?: (s: number) => void;
  },
): Promise<Credential> {
  const clientDataHash = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-256',
      utf8.encode(`provara-enrol:${opts.rpId}:${opts.userName}`) as Uint8Array<ArrayBuffer>,
    ),
  );
  const params: CborMap = new Map<number | string, CborValue>([
    [1, clientDataHash],
    [
      2,
      new Map([
        ['id', opts.rpId],
        ['name', 'Provara vault'],
      ]),
    ],
    [
      3,
      new Map<number | string, CborValue>([
        ['id', crypto.getRandomValues(new Uint8Array(16))],
        ['name', opts.userName],
      ]),
    ],
    [
      4,
      (opts.algorithms ?? [-8, -7]).map(
        (alg) =>
          new Map<number | string, CborValue>([
            ['type', 'public-key'],
            ['alg', alg],
          ]),
      ),
    ],
  ]);
  const m = await command(ch, CMD_MAKE_CREDENTIAL, params, opts.onKeepalive);
  const authData = bytesAt(m, 2);
  // rpIdHash(32) flags(1) signCount(4) aaguid(16) credIdLen(2) credId COSE_Key
  if (authData.length < 55 || ((authData[32] ?? 0) & 0x40) === 0)
    throw new ProvaraError('CBOR_INVALID', 'makeCredential returned no attested credential data');
  const idLen = new DataView(authData.buffer, authData.byteOffset).getUint16(53);
  const credentialId = authData.slice(55, 55 + idLen);
  const { value } = cborDecode(authData.subarray(55 + idLen), true);
  return { credentialId, ...coseKeyToRaw(value) };
}

/**
 * What to ask makeCredential for, from getInfo: Ed25519 alone when the authenticator lists it (so an
 * Ed25519-capable key never falls back), ES256 alone when it lists only that; a CTAP 2.0 authenticator that
 * lists no algorithms gets both in preference order and picks the first it supports.
 */
export function credentialAlgorithms(info: AuthenticatorInfo): CoseAlgorithm[] {
  if (!info.algorithms) return [-8, -7];
  if (info.algorithms.includes(-8)) return [-8];
  if (info.algorithms.includes(-7)) return [-7];
  throw new ProvaraError(
    'CTAP_ERROR',
    'the authenticator supports neither Ed25519 (COSE -8) nor ES256 (COSE -7)',
    { ctap2: CTAP2_ERR_UNSUPPORTED_ALGORITHM },
  );
}

/** authenticatorGetAssertion with user presence required: the authenticator signs authData ‖ clientDataHash. */
export async function getAssertion(
  ch: CtapHidChannel,
  opts: {
    rpId: string;
    clientDataHash: Uint8Array;
    credentialId: Uint8Array;
    onKeepalive?: (s: number) => void;
  },
): Promise<Assertion> {
  const params: CborMap = new Map<number | string, CborValue>([
    [1, opts.rpId],
    [2, opts.clientDataHash],
    [
      3,
      [
        new Map<number | string, CborValue>([
          ['type', 'public-key'],
          ['id', opts.credentialId],
        ]),
      ],
    ],
    [5, new Map([['up', true]])],
  ]);
  const m = await command(ch, CMD_GET_ASSERTION, params, opts.onKeepalive);
  const cred = m.get(1);
  const id = cred instanceof Map ? cred.get('id') : opts.credentialId;
  return {
    credentialId: id instanceof Uint8Array ? id : opts.credentialId,
    authenticatorData: bytesAt(m, 2),
    signature: bytesAt(m, 3),
  };
}

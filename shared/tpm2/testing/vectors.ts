import { fromBase64, fromHex, toHex, utf8 } from '../../encoding/bytes.ts';
import { HASH_ALGS } from '../constants.ts';
import { type Cbor, decodeCbor } from './cbor.ts';

/**
 * The real test vectors of ../shared/vectors (see its READMEs), decoded once for all tests. Pure: the
 * caller supplies `read(path relative to the vectors folder)`, so this module stays runtime-neutral.
 */

export interface QuoteVector {
  name: string;
  akPublic: Uint8Array;
  quote: Uint8Array;
  signature: Uint8Array;
  pcrValues: Record<string, Record<string, string>>;
  nonce: Uint8Array;
}

export interface WebAuthnTpmVector {
  name: string;
  /** COSE alg of the attestation signature: -65535 (RS1) or -257 (RS256). */
  alg: number;
  certInfo: Uint8Array;
  pubArea: Uint8Array;
  /** attStmt.sig: a raw RSASSA signature (not a TPMT_SIGNATURE). */
  sig: Uint8Array;
  /** The AIK certificate (x5c[0]), whose key signed certInfo. */
  aikCert: Uint8Array;
  /** extraData the TPM must have signed: H_alg(authData ‖ SHA-256(clientDataJSON)). */
  expectedExtraData: Uint8Array;
}

function b64(s: string): Uint8Array {
  const b = fromBase64(s);
  if (!b) throw new Error(`bad base64 in vector: ${s.slice(0, 20)}…`);
  return b;
}

function b64url(s: string): Uint8Array {
  const std = s.replaceAll('-', '+').replaceAll('_', '/');
  return b64(std + '='.repeat((4 - (std.length % 4)) % 4));
}

function hex(s: string): Uint8Array {
  const b = fromHex(s.trim());
  if (!b) throw new Error('bad hex in vector');
  return b;
}

function get(m: Cbor, key: string): Cbor {
  if (!(m instanceof Map)) throw new Error('CBOR: not a map');
  const v = m.get(key);
  if (v === undefined) throw new Error(`CBOR: no ${key}`);
  return v;
}

function bytes(v: Cbor): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Error('CBOR: not bytes');
  return v;
}

interface GceJson {
  ak_pub_b64: string;
  nonce_hex: string;
  quotes: {
    quote_b64: string;
    raw_sig_b64: string;
    pcr_hash_alg: number | string;
    pcrs: Record<string, string>;
  }[];
}

interface WindowsJson {
  AK: { Public: string; CreateData: string; CreateAttestation: string; CreateSignature: string };
  Quote: { Nonce: string; Quote: string; Signature: string };
  Log: { PCRs: { Index: number; Digest: string }[] };
}

interface KeylimeJson {
  nonce_utf8: string;
  aik_pem: string;
  sigblob_b64_TPMT_SIGNATURE: string;
  quoteblob_b64_TPMS_ATTEST: string;
  pcrblob_b64_tpm2tools_legacy: string;
}

export async function loadVectors(read: (path: string) => Uint8Array) {
  const json = <T>(path: string): T => JSON.parse(utf8.decode(read(path))) as T;

  // swtpm 0.7.1 + tpm2-tools 5.4: ECC P-256 AK, sha256 PCRs 0,1,7.
  const values = read('swtpm-sample/quote.pcrs.values');
  const swtpm: QuoteVector & { akName: Uint8Array; akPem: string } = {
    name: 'swtpm ECC P-256 quote',
    akPublic: read('swtpm-sample/ak.tpm2b_public'),
    akName: read('swtpm-sample/ak.name'),
    akPem: utf8.decode(read('swtpm-sample/ak.pem')),
    quote: read('swtpm-sample/quote.msg'),
    signature: read('swtpm-sample/quote.sig'),
    pcrValues: {
      sha256: {
        '0': toHex(values.subarray(0, 32)),
        '1': toHex(values.subarray(32, 64)),
        '7': toHex(values.subarray(64, 96)),
      },
    },
    nonce: hex(utf8.decode(read('swtpm-sample/nonce.hex'))),
  };

  // GCE Shielded VM (go-tpm-tools): one AK, three quotes (sha1, sha256, sha384 banks), all RSASSA-SHA256.
  const g = json<GceJson>('tpm/go-tpm-tools/gce-cos-85-nonce9009.decoded.json');
  const gce: QuoteVector[] = g.quotes.map((q) => {
    const bank = HASH_ALGS[Number(q.pcr_hash_alg)]?.name ?? 'unknown';
    return {
      name: `GCE ${bank} quote`,
      akPublic: b64(g.ak_pub_b64),
      quote: b64(q.quote_b64),
      signature: b64(q.raw_sig_b64),
      pcrValues: { [bank]: q.pcrs },
      nonce: hex(g.nonce_hex),
    };
  });

  // Windows PCP AK on GCE (go-attestation): RSASSA-SHA1 AK, sha1 bank PCRs 0-23, empty nonce.
  const w = json<WindowsJson>('tpm/go-attestation/windows_gcp_shielded_vm.json');
  const windows: QuoteVector & {
    createAttestation: Uint8Array;
    createSignature: Uint8Array;
    createData: Uint8Array;
  } = {
    name: 'Windows RSASSA-SHA1 quote',
    akPublic: b64(w.AK.Public),
    quote: b64(w.Quote.Quote),
    signature: b64(w.Quote.Signature),
    pcrValues: { sha1: Object.fromEntries(w.Log.PCRs.map((p) => [String(p.Index), toHex(b64(p.Digest))])) },
    nonce: b64(w.Quote.Nonce),
    createAttestation: b64(w.AK.CreateAttestation),
    createSignature: b64(w.AK.CreateSignature),
    createData: b64(w.AK.CreateData),
  };

  // keylime: RSA AK given only as PEM; PCR 16 in tpm2-tools' legacy little-endian blob.
  const k = json<KeylimeJson>('tpm/keylime/checkquote_vector.json');
  const blob = b64(k.pcrblob_b64_tpm2tools_legacy);
  // 4 (count) + 16 × 8 (selections) = 132; then u32le n, u32le count, u16le size, digest.
  const pcr16 = blob.subarray(142, 142 + 32);
  const keylime = {
    name: 'keylime RSASSA-SHA256 quote',
    akPem: k.aik_pem,
    quote: b64(k.quoteblob_b64_TPMS_ATTEST),
    signature: b64(k.sigblob_b64_TPMT_SIGNATURE),
    pcrValues: { sha256: { '16': toHex(pcr16) } },
    nonce: utf8.encode(k.nonce_utf8),
  };

  // SimpleWebAuthn: Windows Hello `tpm` attestations (TPM2_Certify by an AIK with an x5c certificate).
  const s = json<{ name: string; attestationObject_b64url: string; clientDataJSON_b64url: string }[]>(
    'tpm/simplewebauthn/webauthn_tpm_attestations.json',
  );
  const webauthn: WebAuthnTpmVector[] = [];
  for (const v of s) {
    const att = decodeCbor(b64url(v.attestationObject_b64url));
    const stmt = get(att, 'attStmt');
    const alg = get(stmt, 'alg');
    if (typeof alg !== 'number') throw new Error('alg');
    const x5c = get(stmt, 'x5c');
    if (!Array.isArray(x5c)) throw new Error('x5c');
    const authData = bytes(get(att, 'authData'));
    const clientDataHash = new Uint8Array(
      await crypto.subtle.digest('SHA-256', b64url(v.clientDataJSON_b64url) as Uint8Array<ArrayBuffer>),
    );
    const attToBeSigned = new Uint8Array(authData.length + 32);
    attToBeSigned.set(authData);
    attToBeSigned.set(clientDataHash, authData.length);
    const hashName = alg === -65535 ? 'SHA-1' : 'SHA-256';
    webauthn.push({
      name: v.name,
      alg,
      certInfo: bytes(get(stmt, 'certInfo')),
      pubArea: bytes(get(stmt, 'pubArea')),
      sig: bytes(get(stmt, 'sig')),
      aikCert: bytes(x5c[0] ?? null),
      expectedExtraData: new Uint8Array(await crypto.subtle.digest(hashName, attToBeSigned)),
    });
  }

  return { swtpm, gce, windows, keylime, webauthn };
}

export type Vectors = Awaited<ReturnType<typeof loadVectors>>;

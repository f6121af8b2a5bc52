import { TPM_ALG } from '../../../shared/tpm2/constants.ts';
import { ByteReader } from '../../../shared/tpm2/cursor.ts';
import { spkiFromPem } from '../../../shared/tpm2/public-key-spki.ts';
import { parseSignature } from '../../../shared/tpm2/structures/signature.ts';

/**
 * The node-key signature that opens a session (design/API.md `auth/verify`): ECDSA P-256 / SHA-256
 * over `"noderr-verify-v1:" ‖ nodeId ‖ ":" ‖ nonce`, sent either as the TPMT_SIGNATURE TPM2_Sign
 * returns or as a DER ECDSA-Sig-Value (what OpenSSL and most libraries produce).
 * Returns false for anything that is not a valid signature by this key; never throws on bad input.
 */
const FIELD = 32;

function leftPad(n: Uint8Array): Uint8Array | undefined {
  let v = n;
  while (v.length > FIELD && v[0] === 0) v = v.subarray(1);
  if (v.length > FIELD) return undefined;
  const out = new Uint8Array(FIELD);
  out.set(v, FIELD - v.length);
  return out;
}

/** Strict DER: SEQUENCE { INTEGER r, INTEGER s }, short-form lengths (a P-256 signature is ≤ 72 bytes). */
function rawFromDer(der: Uint8Array): Uint8Array | undefined {
  const r = new ByteReader(der, 'ECDSA-Sig-Value');
  if (r.u8() !== 0x30) return undefined;
  const len = r.u8();
  if (len >= 0x80 || len !== r.remaining) return undefined;
  const ints: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    if (r.u8() !== 0x02) return undefined;
    const n = r.u8();
    if (n === 0 || n >= 0x80) return undefined;
    ints.push(r.bytesN(n));
  }
  r.end();
  const [rr, ss] = [leftPad(ints[0]!), leftPad(ints[1]!)];
  if (!rr || !ss) return undefined;
  const out = new Uint8Array(2 * FIELD);
  out.set(rr, 0);
  out.set(ss, FIELD);
  return out;
}

function rawFromTpmt(bytes: Uint8Array): Uint8Array | undefined {
  const sig = parseSignature(bytes);
  if (sig.sigAlg !== TPM_ALG.ECDSA || sig.hash !== TPM_ALG.SHA256) return undefined;
  const [rr, ss] = [leftPad(sig.r), leftPad(sig.s)];
  if (!rr || !ss) return undefined;
  const out = new Uint8Array(2 * FIELD);
  out.set(rr, 0);
  out.set(ss, FIELD);
  return out;
}

export function verifyMessage(nodeId: string, nonce: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`noderr-verify-v1:${nodeId}:`);
  const out = new Uint8Array(prefix.length + nonce.length);
  out.set(prefix, 0);
  out.set(nonce, prefix.length);
  return out;
}

export async function verifyNodeSignature(
  publicKeyPem: string,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    const raw = signature[0] === 0x30 ? rawFromDer(signature) : rawFromTpmt(signature);
    if (!raw) return false;
    const key = await crypto.subtle.importKey(
      'spki',
      spkiFromPem(publicKeyPem),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, raw, message);
  } catch {
    return false;
  }
}

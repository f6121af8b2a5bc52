import { TPM_ALG } from '../../../../shared/tpm2/constants.ts';
import type { TpmtPublic } from '../../../../shared/tpm2/structures/public.ts';

/**
 * Firmware TPMs (Intel PTT, AMD fTPM) usually keep no EK certificate in NV: the manufacturer serves it,
 * keyed by a hash of the EK public key (ATTESTATION.md §3.10; the derivation go-attestation and
 * tpm2-tools use). Only RSA EKs are indexed this way.
 */

export const INTEL_EK_CERT_SERVICE = 'https://ekop.intel.com/ekcertservice/';
export const AMD_EK_CERT_SERVICE = 'https://ftpm.amd.com/pki/aia/';

function modulusBigEndian(pub: TpmtPublic): Uint8Array {
  if (pub.type !== TPM_ALG.RSA) throw new Error('manufacturer EK certificate URLs exist for RSA EKs only');
  // Big-integer bytes: no leading zeros (a TPM modulus has its top bit set, so this is a no-op in practice).
  let i = 0;
  while (i < pub.modulus.length - 1 && pub.modulus[i] === 0) i++;
  return pub.modulus.subarray(i);
}

function exponentOf(pub: TpmtPublic): number {
  return pub.type === TPM_ALG.RSA && pub.exponent !== 0 ? pub.exponent : 65537;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

/** Intel: base64url (with padding) of SHA-256(n ‖ 0x010001), query-escaped ('=' → %3D). */
export async function intelEkCertUrl(ek: TpmtPublic): Promise<string> {
  const h = await sha256(modulusBigEndian(ek), Uint8Array.of(0x01, 0x00, 0x01));
  let s = '';
  for (const b of h) s += String.fromCharCode(b);
  const b64url = btoa(s).replaceAll('+', '-').replaceAll('/', '_');
  return INTEL_EK_CERT_SERVICE + encodeURIComponent(b64url);
}

/** AMD: uppercase hex of the first 16 bytes of SHA-256(0x00002222 ‖ u32be(e) ‖ n). */
export async function amdEkCertUrl(ek: TpmtPublic): Promise<string> {
  const e = new Uint8Array(4);
  new DataView(e.buffer).setUint32(0, exponentOf(ek));
  const h = await sha256(Uint8Array.of(0x00, 0x00, 0x22, 0x22), e, modulusBigEndian(ek));
  let hex = '';
  for (const b of h.subarray(0, 16)) hex += b.toString(16).padStart(2, '0');
  return AMD_EK_CERT_SERVICE + hex.toUpperCase();
}

/** The manufacturer's URL for this TPM's EK certificate, if its vendor runs such a service. */
export async function ekCertUrl(manufacturer: string, ek: TpmtPublic): Promise<string | undefined> {
  if (ek.type !== TPM_ALG.RSA) return undefined;
  if (manufacturer === 'INTC') return intelEkCertUrl(ek);
  if (manufacturer === 'AMD') return amdEkCertUrl(ek);
  return undefined;
}

/**
 * The certificate DER from a manufacturer's answer: DER as is, a PEM, or Intel's JSON
 * (`{"certificate": "<base64url DER>"}`).
 */
export function certificateFromServiceResponse(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === 0x30) return body;
  const text = new TextDecoder().decode(body).trim();
  let b64: string | undefined;
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  if (pem?.[1]) b64 = pem[1].replace(/\s+/g, '');
  else if (text.startsWith('{')) {
    try {
      const json: unknown = JSON.parse(text);
      const c = (json as { certificate?: unknown }).certificate;
      if (typeof c === 'string') b64 = c;
    } catch {
      return undefined;
    }
  }
  if (!b64) return undefined;
  const std = b64.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '');
  try {
    const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
    const der = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return der[0] === 0x30 ? der : undefined;
  } catch {
    return undefined;
  }
}

import 'reflect-metadata';
import { X509Certificate } from '@peculiar/x509';
import { toHex } from '../../encoding/bytes.ts';

/**
 * A certificate found in a Secure Boot variable or authority event. The SHA-256 fingerprint of the DER
 * is the identity policy matches on (`dbMustContain`); the subject is for people and is read with
 * @peculiar/x509 without any validation — the certificate is authenticated only as bytes the firmware
 * measured, not as a chain.
 */
export interface CertificateFact {
  /** SHA-256 of the DER, lowercase hex. */
  sha256: string;
  /** RFC 4514-style subject, or undefined if the DER does not parse as X.509. */
  subject: string | undefined;
  der: Uint8Array;
}

/** True when `b` starts like a DER SEQUENCE with a long-form length (every real certificate does). */
export function looksLikeDer(b: Uint8Array): boolean {
  return b.length > 4 && b[0] === 0x30 && (b[1] === 0x82 || b[1] === 0x81 || b[1] === 0x83);
}

export async function certificateFact(der: Uint8Array): Promise<CertificateFact> {
  const sha256 = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', der as Uint8Array<ArrayBuffer>)));
  let subject: string | undefined;
  try {
    subject = new X509Certificate(der as Uint8Array<ArrayBuffer>).subject;
  } catch {
    // Not X.509 (or not parseable): still identified by its hash; nothing is decided on the subject.
    subject = undefined;
  }
  return { sha256, subject, der };
}

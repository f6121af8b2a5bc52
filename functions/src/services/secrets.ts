import { toHex } from '../../../shared/encoding/bytes.ts';

/**
 * Secrets the service hands out (install tokens, API keys, nonces, activation secrets). Only their
 * SHA-256 hashes reach the database.
 */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function newInstallToken(): string {
  return `ndr_install_${toHex(randomBytes(32))}`;
}

export function newApiKey(): string {
  return `ndr_live_${toHex(randomBytes(32))}`;
}

export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** SHA-256 as 64 lowercase hex digits: the form every secret is stored and looked up in. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  return toHex(await sha256(data));
}

import { toHex } from '../encoding/bytes.ts';

/** SHA-256 through WebCrypto (runtime-neutral: Node 20, workerd, browsers). */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}

/** Lowercase hex SHA-256, the form every Provara hash is written in. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  return toHex(await sha256(data));
}

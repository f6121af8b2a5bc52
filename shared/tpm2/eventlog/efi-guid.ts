import { toHex } from '../../encoding/bytes.ts';

/**
 * EFI_GUID (UEFI spec appendix A): 16 bytes, the first three fields little-endian, as GUIDs print
 * (`8be4df61-93ca-11d2-aa0d-00e098032b8c`).
 */
export function formatGuid(b: Uint8Array): string {
  const h = toHex(b);
  const le = (start: number, bytes: number) => {
    let s = '';
    for (let i = bytes - 1; i >= 0; i--) s += h.slice((start + i) * 2, (start + i) * 2 + 2);
    return s;
  };
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The GUIDs the Secure Boot facts depend on. */
export const EFI_GUID = {
  /** EFI_GLOBAL_VARIABLE: SecureBoot, PK, KEK, Boot####. */
  GLOBAL_VARIABLE: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  /** EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx. */
  IMAGE_SECURITY_DATABASE: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  /** EFI_CERT_X509_GUID: a signature list of DER certificates. */
  CERT_X509: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072',
  /** EFI_CERT_SHA256_GUID: a signature list of SHA-256 image hashes. */
  CERT_SHA256: 'c1c41626-504c-4092-aca9-41f936934328',
} as const;

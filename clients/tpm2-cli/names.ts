import { TPM_ALG } from '../../shared/tpm2/constants.ts';

/** `TPM_ALG_ID` → its spec name (`SHA256`, `ECDSA`, …) for readable JSON output. */
export function algName(alg: number): string {
  for (const [name, id] of Object.entries(TPM_ALG)) if (id === alg) return name;
  return `0x${alg.toString(16).padStart(4, '0')}`;
}
